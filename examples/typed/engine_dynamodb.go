//go:build dynamodb

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
)

// The DynamoDB engine (a local endpoint), built in with -tags dynamodb.
func init() {
	servers["dynamodb"] = serverEngine{parse: parseDynamoDB, open: openDynamoDB}
}

// parseDynamoDB checks a dynamodb://host:port/table URL.
func parseDynamoDB(raw, _, _ string, spec *storeSpec) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	table := strings.Trim(u.Path, "/")
	if u.Host == "" || table == "" || strings.Contains(table, "/") {
		return fmt.Errorf("%w %q: want dynamodb://host:port/table", errStoreURL, raw)
	}
	spec.endpoint, spec.table = "http://"+u.Host, table
	spec.where = spec.endpoint + " table " + table
	return nil
}

// openDynamoDB connects to the endpoint with dummy credentials, creating
// the table when missing.
func openDynamoDB(ctx context.Context, spec storeSpec, e *engine) error {
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("sessiongen-demo", "sessiongen-demo", ""),
		BaseEndpoint: aws.String(spec.endpoint),
	})
	s, err := dynamostore.New(ctx, client, spec.table)
	if err != nil {
		return err
	}
	e.Store = s
	return nil
}
