// Package ownerlist holds the listing loop the engines share for
// [store.OwnerIndex.Owned], so that a session renewed while its owner's
// sessions are listed is never missed.
//
// An engine lists an owner's sessions in two reads: the index (the keys
// it holds under the owner), then the sessions themselves. A renewal
// (store.Store.Move) that lands between the two reads moves a listed
// session to a key the first read did not see. Every engine renames
// the index entry in the same step as the session (or, where a move
// takes several steps, keeps listing the session until it is done), so
// when a listed key has gone the index already holds its successor:
// List reads the index again for the keys it has not seen yet.
package ownerlist

import (
	"context"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// MaxPasses bounds the index reads of one listing; only a session
// renewed again during each of them needs more than two.
const MaxPasses = 16

// List returns the live sessions an owner's index lists. index returns
// the keys the index holds now; read looks at the given keys (never
// empty) and returns the live sessions among them and whether any of
// them had gone (missing, expired, given to another owner or damaged).
// The index is read again, for keys not seen before, as long as a pass
// finds a key gone, up to MaxPasses times. Each key is read once. The
// result is never nil.
func List(ctx context.Context, index func(context.Context) ([]string, error),
	read func(ctx context.Context, keys []string) (live []store.Owned, gone bool, err error)) ([]store.Owned, error) {
	out := []store.Owned{}
	seen := map[string]bool{}
	for range MaxPasses {
		keys, err := index(ctx)
		if err != nil {
			return nil, err
		}
		fresh := keys[:0:0]
		for _, k := range keys {
			if !seen[k] {
				seen[k] = true
				fresh = append(fresh, k)
			}
		}
		if len(fresh) == 0 {
			break
		}
		live, gone, err := read(ctx, fresh)
		if err != nil {
			return nil, err
		}
		out = append(out, live...)
		if !gone {
			break
		}
	}
	return out, nil
}
