// Package ownercheck holds the owner check the SQL engines (pgstore,
// mysqlstore) share, so both take the same owners. It imports no
// database driver.
package ownercheck

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Check refuses owners an SQL owner column cannot hold, or that are not
// text: longer than maxLen bytes, not valid UTF-8, or holding a NUL byte
// (which PostgreSQL text cannot store). The errors wrap
// [store.ErrInvalid].
func Check(owner string, maxLen int) error {
	switch {
	case len(owner) > maxLen:
		return fmt.Errorf("%w: owner longer than %d bytes", store.ErrInvalid, maxLen)
	case !utf8.ValidString(owner):
		return fmt.Errorf("%w: owner is not valid UTF-8", store.ErrInvalid)
	case strings.IndexByte(owner, 0) >= 0:
		return fmt.Errorf("%w: owner holds a NUL byte", store.ErrInvalid)
	}
	return nil
}
