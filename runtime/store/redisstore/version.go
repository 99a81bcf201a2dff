package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Version returns the version of the live session under key, or an error
// wrapping [store.ErrNotFound] when there is none or it has expired. It
// costs one HMGET of two metadata fields, whatever the session's size.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("redisstore: version: %w: empty key", store.ErrInvalid)
	}
	vals, err := s.client.HMGet(ctx, s.redisKey(key), fieldVersion, fieldExpires).Result()
	if err != nil {
		return 0, fmt.Errorf("redisstore: version: %w", err)
	}
	e, ok := vals[1].(string)
	if !ok {
		return 0, fmt.Errorf("redisstore: version: %w", store.ErrNotFound)
	}
	expires, ok := parseMillis(e)
	if !ok {
		return 0, errors.New("redisstore: version: session hash lacks valid metadata (not written by redisstore?)")
	}
	if expires.UnixMilli() <= nowMillis() {
		return 0, fmt.Errorf("redisstore: version: %w", store.ErrNotFound)
	}
	var v uint64 // a session written before versions existed reads as 0
	if s, ok := vals[0].(string); ok {
		if v, ok = parseVersion(s); !ok {
			return 0, errors.New("redisstore: version: session hash lacks valid metadata (not written by redisstore?)")
		}
	}
	return v, nil
}
