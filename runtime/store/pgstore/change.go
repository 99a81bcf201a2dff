package pgstore

import (
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// changeArgs is a [store.Change] as the parameters $3 to $10 of the
// update and move statements (see newQueries).
type changeArgs struct {
	names   []string // $3: the fields set
	values  [][]byte // $4
	removed []string // $5: the fields removed and not set
	expires any      // $6: the new expiry, or NULL to keep it
	owner   any      // $7: the new owner, "" to clear it, or NULL to keep it
	expect  []string // $8: the names expected
	want    [][]byte // $9: their bytes (empty: absent)
	limit   int64    // $10: the size limit, or 0 for none
}

// newChangeArgs checks c and renders it as parameters. It refuses an
// empty field key and an owner the column cannot hold, with errors
// wrapping [store.ErrInvalid].
func newChangeArgs(c store.Change) (changeArgs, error) {
	if _, ok := c.Set[""]; ok {
		return changeArgs{}, errEmptyField
	}
	var a changeArgs
	if c.Owner != nil {
		if err := checkOwner(*c.Owner); err != nil {
			return changeArgs{}, err
		}
		a.owner = *c.Owner
	}
	a.names, a.values = columns(c.Set)
	a.removed = make([]string, 0, len(c.Remove))
	for _, k := range c.Remove {
		if _, set := c.Set[k]; !set {
			a.removed = append(a.removed, k)
		}
	}
	if !c.Expires.IsZero() {
		a.expires = c.Expires
	}
	a.expect, a.want = columns(c.Expect)
	// As in store.Change.Check, a change that sets nothing is never too
	// large.
	if c.MaxSize > 0 && len(c.Set) > 0 {
		a.limit = int64(c.MaxSize)
	}
	return a, nil
}

// params returns the statement parameters $1 to $10.
func (a changeArgs) params(key string, now time.Time) []any {
	return []any{key, now, a.names, a.values, a.removed, a.expires, a.owner, a.expect, a.want, a.limit}
}

// verdict returns the error for the checks of a change on the live
// session under key, in the contract's order (corrupt row, live session
// under the new key, failed expectation, size limit), or nil when all
// passed.
func verdict(key string, sane, free, expected, fits bool) error {
	switch {
	case !sane:
		return errCorrupt(key)
	case !free:
		return store.ErrExists
	case !expected:
		return store.ErrConflict
	case !fits:
		return store.ErrTooLarge
	}
	return nil
}

// errCorrupt reports the row under key as one the store cannot parse.
func errCorrupt(key string) error {
	return fmt.Errorf("%w under key %s: a time that is not finite or a version outside 1 to 2^63-2", store.ErrCorrupt, key)
}

// columns splits fields into parallel name and value slices for unnest,
// never nil (pgx sends a nil slice as NULL) and with no nil value (the
// column is NOT NULL; an empty value stays empty).
func columns(fields map[string][]byte) ([]string, [][]byte) {
	names := make([]string, 0, len(fields))
	values := make([][]byte, 0, len(fields))
	for k, v := range fields {
		if v == nil {
			v = []byte{}
		}
		names = append(names, k)
		values = append(values, v)
	}
	return names, values
}
