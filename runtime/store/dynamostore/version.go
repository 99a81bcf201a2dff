package dynamostore

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Version returns the version of the live session under key, or an error
// wrapping [store.ErrNotFound] when there is none or it has expired. It
// costs one strongly consistent GetItem of the attributes v and e only,
// whatever the session's size.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("dynamostore: version: %w: empty key", store.ErrInvalid)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:                s.table,
		Key:                      keyOf(key),
		ConsistentRead:           aws.Bool(true),
		ProjectionExpression:     aws.String("#V,#E"),
		ExpressionAttributeNames: map[string]string{"#V": attrVersion, "#E": attrExpires},
	})
	if err != nil {
		return 0, fmt.Errorf("dynamostore: version: %w", err)
	}
	if len(out.Item) == 0 {
		return 0, fmt.Errorf("dynamostore: version: %w", store.ErrNotFound)
	}
	expires, err := millisAttr(out.Item, attrExpires)
	if err != nil {
		return 0, fmt.Errorf("dynamostore: version: %w", err)
	}
	if expires.UnixMilli() <= nowMillis() {
		return 0, fmt.Errorf("dynamostore: version: %w", store.ErrNotFound)
	}
	v, err := versionAttr(out.Item)
	if err != nil {
		return 0, fmt.Errorf("dynamostore: version: %w", err)
	}
	return v, nil
}
