package mysqlstore

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// A record is corrupt when its row holds what the store never writes: a
// data document that [decodeFields] refuses, a version below 1 or a
// created time of 0. (The schema makes NULL times and invalid JSON
// impossible; an expires of 0 is long past, so such a row is simply not
// found.) The reads and Update find the same rows corrupt, because
// [sizeSQL] is the same test in SQL (for rows the store did not seal;
// see [sealedSQL]): Load, Version and Move report
// [store.ErrCorrupt], an Update never matches the row (and reports
// ErrCorrupt after its follow-up read when the change had conditions,
// ErrNotFound otherwise), Owned leaves the row out, and Delete and the
// cleanup remove it like any other, as they never look at the data.

// row is a session's row as the reads return it.
type row struct {
	created, expires, version int64
	owner, data               []byte
	// valid is the server's verdict: the row is sealed, or (from a
	// full read) sizeSQL is not NULL.
	valid bool
}

// scanArgs returns the destinations of the load query's columns.
func (r *row) scanArgs() []any {
	return []any{&r.created, &r.expires, &r.version, &r.owner, &r.data, &r.valid}
}

// record parses r into the record under key, or returns an error
// wrapping [store.ErrCorrupt] naming the key (a hash, never a session ID).
func (r *row) record(key string) (store.Record, error) {
	fields, err := decodeFields(r.data)
	switch {
	case err != nil:
	case r.version < 1:
		err = fmt.Errorf("version %d", r.version)
	case r.created == 0:
		err = errors.New("created time 0")
	case !r.valid:
		err = errors.New("the server cannot parse the data document")
	}
	if err != nil {
		return store.Record{}, corruptError(key, err)
	}
	return store.Record{
		Fields:  fields,
		Created: time.UnixMicro(r.created),
		Expires: time.UnixMicro(r.expires),
		Version: uint64(r.version),
		Owner:   string(r.owner),
	}, nil
}

// corruptError reports the corrupt record under key.
func corruptError(key string, err error) error {
	return fmt.Errorf("%w under key %q: %v", store.ErrCorrupt, key, err)
}
