package redisstore

import (
	"context"
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Version returns the version of the live session under key, or an error
// wrapping [store.ErrNotFound] when there is none or it has expired, or
// [store.ErrCorrupt] when its metadata cannot be read. It costs one
// HMGET of four metadata fields, whatever the session's size.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("redisstore: version: %w: empty key", store.ErrInvalid)
	}
	names := [...]string{fieldVersion, fieldExpires, fieldCreated, fieldMoving}
	vals, err := s.client.HMGet(ctx, s.redisKey(key), names[:]...).Result()
	if isWrongType(err) {
		return 0, corruptErr("version", key, err.Error())
	}
	if err != nil {
		return 0, fmt.Errorf("redisstore: version: %w", err)
	}
	if len(vals) != len(names) {
		return 0, fmt.Errorf("redisstore: version: unexpected answer %v", vals)
	}
	if vals[0] == nil && vals[1] == nil && vals[2] == nil && vals[3] == nil {
		return 0, fmt.Errorf("redisstore: version: %w", store.ErrNotFound)
	}
	m, st, why := parseMeta(func(name string) (string, bool) {
		for i, n := range names {
			if n == name {
				v, ok := vals[i].(string)
				return v, ok
			}
		}
		return "", false
	}, nowMillis())
	switch st {
	case statusGone:
		return 0, fmt.Errorf("redisstore: version: %w", store.ErrNotFound)
	case statusCorrupt:
		return 0, corruptErr("version", key, why)
	}
	return m.version, nil
}
