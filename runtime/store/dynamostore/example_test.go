package dynamostore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
)

// Example creates (or finds) the table "sessions", stores a session,
// writes one field and reads it back. It needs AWS credentials and a
// region from the environment; the session manager is what normally makes
// these calls.
func Example() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	client := dynamodb.NewFromConfig(cfg)

	s, err := dynamostore.New(ctx, client, "sessions")
	if err != nil {
		fmt.Println(err)
		return
	}
	key := store.Key("an example session ID")
	err = s.Create(ctx, key, store.Record{
		Fields:  map[string][]byte{"user": []byte("\xa3bob")},
		Created: time.Now(),
		Expires: time.Now().Add(30 * time.Minute),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// One UpdateItem: only the changed field travels.
	if _, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"visits": {0x01}}}); err != nil {
		fmt.Println(err)
		return
	}
	rec, err := s.Load(ctx, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(rec.Fields), "fields")

	_ = s.Delete(ctx, key)
	_, err = s.Load(ctx, key)
	fmt.Println(errors.Is(err, store.ErrNotFound))
}

// ExampleWithoutSetup uses a table managed elsewhere (for example by
// infrastructure code): New sends no request.
func ExampleWithoutSetup() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := dynamostore.New(context.Background(), dynamodb.NewFromConfig(cfg), "sessions", dynamostore.WithoutSetup())
	fmt.Println(s != nil, err)
	// Output: true <nil>
}
