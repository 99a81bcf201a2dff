package dynamostore

import (
	"context"
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Version returns the version of the live session under key, or an error
// wrapping [store.ErrNotFound] when there is none, it has expired or a
// Move holds it, or [store.ErrCorrupt] when the item cannot be decoded.
// It costs one strongly consistent GetItem of the whole item: DynamoDB
// charges a read by the item's size whatever the projection, and only
// the whole item tells a damaged one (a field of the wrong type), so
// Version differs from Load only in what it returns.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("dynamostore: version: %w: empty key", store.ErrInvalid)
	}
	item, err := s.getItem(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("dynamostore: version: %w", err)
	}
	rec, err := liveRecord(item, nowMillis())
	if err != nil {
		return 0, opErr("version", key, err)
	}
	return rec.Version, nil
}
