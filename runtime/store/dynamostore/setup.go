package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// maxTableWait bounds how long New waits for a new table to become active
// (the context may end the wait sooner).
const maxTableWait = 5 * time.Minute

// ensureTable checks that the table exists with the expected key, creating
// it when missing, and waits until it is active.
func (s *Store) ensureTable(ctx context.Context) error {
	out, err := s.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: s.table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		_, err = s.client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:   s.table,
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrID), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrOwner), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrID), KeyType: types.KeyTypeHash},
			},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName: aws.String(ownerIndex),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(attrOwner), KeyType: types.KeyTypeHash},
				},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}},
		})
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) { // in use: another process is creating it
			return fmt.Errorf("create table: %w", err)
		}
	case err != nil:
		return fmt.Errorf("describe table: %w", err)
	default:
		if err := checkSchema(out.Table); err != nil {
			return err
		}
		if out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(s.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 200 * time.Millisecond
		o.MaxDelay = 5 * time.Second
	})
	desc, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: s.table}, maxTableWait)
	if err != nil {
		return fmt.Errorf("wait for table: %w", err)
	}
	return checkSchema(desc.Table)
}

// checkSchema fails unless the table's key is exactly the string partition
// key "id" and the table has the owner index (see [ErrNoOwnerIndex]).
func checkSchema(t *types.TableDescription) error {
	if t == nil {
		return errors.New("describe table: no table description")
	}
	if !hashKeyOnly(t.KeySchema, attrID) || attrType(t.AttributeDefinitions, attrID) != types.ScalarAttributeTypeS {
		return fmt.Errorf("table %q must have exactly one key, the string partition key %q", aws.ToString(t.TableName), attrID)
	}
	for _, gsi := range t.GlobalSecondaryIndexes {
		if aws.ToString(gsi.IndexName) != ownerIndex {
			continue
		}
		if !hashKeyOnly(gsi.KeySchema, attrOwner) || attrType(t.AttributeDefinitions, attrOwner) != types.ScalarAttributeTypeS {
			return fmt.Errorf("table %q: index %q must have exactly one key, the string partition key %q",
				aws.ToString(t.TableName), ownerIndex, attrOwner)
		}
		if gsi.IndexStatus == types.IndexStatusDeleting {
			return fmt.Errorf("table %q: %w (it is being deleted)", aws.ToString(t.TableName), ErrNoOwnerIndex)
		}
		return nil
	}
	return fmt.Errorf("table %q: %w", aws.ToString(t.TableName), ErrNoOwnerIndex)
}

// hashKeyOnly reports whether ks is exactly the partition key name.
func hashKeyOnly(ks []types.KeySchemaElement, name string) bool {
	return len(ks) == 1 && aws.ToString(ks[0].AttributeName) == name && ks[0].KeyType == types.KeyTypeHash
}

// attrType returns the type defs give the attribute name ("" when none).
func attrType(defs []types.AttributeDefinition, name string) types.ScalarAttributeType {
	for _, d := range defs {
		if aws.ToString(d.AttributeName) == name {
			return d.AttributeType
		}
	}
	return ""
}

// ensureTTL turns on Time to Live on the attribute "ttl" unless it is on
// already. It reports false, without error, when the engine does not
// implement Time to Live (dynalite answers UnknownOperationException).
func (s *Store) ensureTTL(ctx context.Context) (bool, error) {
	on, err := s.ttlStatus(ctx)
	if err != nil || on {
		return on, unsupportedIsNil(err)
	}
	_, err = s.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: s.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err == nil {
		return true, nil
	}
	if isUnsupported(err) {
		return false, nil
	}
	// Another process may have turned it on in between.
	if on, err2 := s.ttlStatus(ctx); err2 == nil && on {
		return true, nil
	}
	return false, fmt.Errorf("enable time to live: %w", err)
}

// ttlStatus reports whether Time to Live is on (or turning on) for "ttl",
// and fails when it is on for another attribute or turning off.
func (s *Store) ttlStatus(ctx context.Context) (bool, error) {
	out, err := s.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: s.table})
	if err != nil {
		if isUnsupported(err) {
			return false, err
		}
		return false, fmt.Errorf("describe time to live: %w", err)
	}
	d := out.TimeToLiveDescription
	if d == nil {
		return false, nil
	}
	switch d.TimeToLiveStatus {
	case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
		if name := aws.ToString(d.AttributeName); name != attrTTL {
			return false, fmt.Errorf("table %q has Time to Live on attribute %q, not %q (use WithoutTTL to leave it)",
				aws.ToString(s.table), name, attrTTL)
		}
		return true, nil
	case types.TimeToLiveStatusDisabling:
		return false, fmt.Errorf("table %q is turning Time to Live off; retry later or use WithoutTTL", aws.ToString(s.table))
	}
	return false, nil
}

// isUnsupported reports whether err says the engine does not implement
// the operation.
func isUnsupported(err error) bool {
	var api interface{ ErrorCode() string }
	return errors.As(err, &api) && api.ErrorCode() == "UnknownOperationException"
}

// unsupportedIsNil returns nil for an unsupported-operation error and err
// otherwise.
func unsupportedIsNil(err error) error {
	if isUnsupported(err) {
		return nil
	}
	return err
}
