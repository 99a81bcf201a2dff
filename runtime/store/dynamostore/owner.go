package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/ownerlist"
)

// maxBatchGet is DynamoDB's limit on the keys of one BatchGetItem.
const maxBatchGet = 100

// Owned returns the live sessions of owner, in no particular order. It
// queries the index "owner" (one Query per 1 MB page of keys), reads the
// listed items with strongly consistent BatchGetItem calls (up to 100 keys
// each) and returns those that are live (or being moved: a revocation
// must reach them), undamaged and still the owner's. Expired
// items it meets are deleted, each with a DeleteItem conditioned on its
// expiry having passed. See the package documentation (Owner index) for
// what the index's eventual consistency means.
func (s *Store) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if owner == "" {
		return nil, fmt.Errorf("dynamostore: owned: %w: empty owner", store.ErrInvalid)
	}
	index := func(ctx context.Context) ([]string, error) { return s.ownerKeys(ctx, owner) }
	out, err := ownerlist.List(ctx, index, func(ctx context.Context, keys []string) ([]store.Owned, bool, error) {
		return s.readOwned(ctx, owner, keys)
	})
	if err != nil {
		return nil, fmt.Errorf("dynamostore: owned: %w", err)
	}
	return out, nil
}

// readOwned reads the sessions of keys, which owner's index listed, and
// returns the live ones (and those being moved) and whether any had gone.
// Expired sessions it meets are deleted.
func (s *Store) readOwned(ctx context.Context, owner string, keys []string) ([]store.Owned, bool, error) {
	items, err := s.batchGet(ctx, keys)
	if err != nil {
		return nil, false, err
	}
	gone := len(items) < len(keys)
	now := nowMillis()
	var out []store.Owned
	for _, item := range items {
		key, _ := item[attrID].(*types.AttributeValueMemberS)
		if key == nil {
			gone = true
			continue
		}
		if e, err := millisAttr(item, attrExpires); err == nil && e.UnixMilli() <= now {
			if err := s.deleteExpired(ctx, key.Value, now); err != nil {
				return nil, false, fmt.Errorf("delete expired session: %w", err)
			}
			gone = true
			continue
		}
		var rec store.Record
		if mark, moving := item[attrMoving]; moving {
			// A session being moved is still listed, so that a
			// revocation racing the move reaches it: deleting it makes
			// the move fail (see Move). A mark older than a move may
			// take is the leftover of a crash: not listed.
			tok, _ := mark.(*types.AttributeValueMemberS)
			if tok == nil || !moveInProgress(tok.Value, now) {
				gone = true
				continue
			}
			rec, err = decodeItem(item)
		} else {
			rec, err = liveRecord(item, now)
		}
		if err != nil {
			gone = true
			continue // damaged: never listed
		}
		if rec.Owner != owner {
			gone = true
			continue // moved to another owner since the index was read
		}
		out = append(out, store.Owned{Key: key.Value, Created: rec.Created, Expires: rec.Expires, Version: rec.Version})
	}
	return out, gone, nil
}

// ownerKeys returns the keys the index lists under owner.
func (s *Store) ownerKeys(ctx context.Context, owner string) ([]string, error) {
	in := &dynamodb.QueryInput{
		TableName:                 s.table,
		IndexName:                 aws.String(ownerIndex),
		KeyConditionExpression:    aws.String("#O = :O"),
		ExpressionAttributeNames:  map[string]string{"#O": attrOwner, "#ID": attrID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":O": &types.AttributeValueMemberS{Value: owner}},
		ProjectionExpression:      aws.String("#ID"),
	}
	var keys []string
	p := dynamodb.NewQueryPaginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("query index %q: %w", ownerIndex, err)
		}
		for _, item := range page.Items {
			if id, ok := item[attrID].(*types.AttributeValueMemberS); ok {
				keys = append(keys, id.Value)
			}
		}
	}
	return keys, nil
}

// batchGet reads the whole items under keys (only they tell a damaged
// item, which Owned leaves out) with strongly consistent BatchGetItem
// calls, sending unprocessed keys again (with a
// short growing pause) until all are read or ctx ends. Missing items are
// left out.
func (s *Store) batchGet(ctx context.Context, keys []string) ([]map[string]types.AttributeValue, error) {
	table := aws.ToString(s.table)
	var items []map[string]types.AttributeValue
	for len(keys) > 0 {
		n := min(len(keys), maxBatchGet)
		req := make([]map[string]types.AttributeValue, n)
		for i, k := range keys[:n] {
			req[i] = keyOf(k)
		}
		keys = keys[n:]
		pending := map[string]types.KeysAndAttributes{table: {
			Keys:           req,
			ConsistentRead: aws.Bool(true),
		}}
		for pause := 10 * time.Millisecond; len(pending) > 0; pause = min(2*pause, time.Second) {
			out, err := s.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("batch get: %w", err)
			}
			items = append(items, out.Responses[table]...)
			pending = out.UnprocessedKeys
			if len(pending[table].Keys) == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("batch get: %w", ctx.Err())
			case <-time.After(pause):
			}
		}
	}
	return items, nil
}

// deleteExpired deletes the item under key if its expiry is at or before
// now (Unix ms); an item written again meanwhile is left alone.
func (s *Store) deleteExpired(ctx context.Context, key string, now int64) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 s.table,
		Key:                       keyOf(key),
		ConditionExpression:       aws.String("#E <= :NOW"),
		ExpressionAttributeNames:  map[string]string{"#E": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{":NOW": number(now)},
	})
	if err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}
