// Package dynamostore is a session storage engine on Amazon DynamoDB (and
// engines speaking its API, such as dynalite), built on
// github.com/aws/aws-sdk-go-v2/service/dynamodb.
//
// # Layout
//
// [New] creates the table when it is missing (on-demand billing, partition
// key "id" of type string, and the global secondary index "owner" keyed
// by the attribute "o", keys only) and turns on DynamoDB's Time to Live on
// the attribute "ttl". Each session is one item:
//
//	id   S  the session key (a hash of the session ID, never the ID)
//	f    M  the fields: field key -> B (the encoded value; may be empty)
//	c    N  creation time, Unix milliseconds
//	e    N  expiry, Unix milliseconds: checked on every read and write
//	ttl  N  expiry, Unix seconds rounded up: DynamoDB's TTL purge
//	v    N  version: 1 after Create, 1 more after each Update
//	o    S  owner, absent for none: the key of the index "owner"
//	s    N  at least the session's size (store.Size), for the size limit
//	m    S  only while a Move holds the item: its token
//
// An existing table must have the same key and the index "owner" (key
// "o", string; any projection): New refuses a table without it with an
// error wrapping [ErrNoOwnerIndex] rather than adding it, because adding
// an index to a large table is a long backfill to plan (see
// [ErrNoOwnerIndex] for the UpdateTable call).
//
// # Round trips and atomicity
//
// Load and [Store.Version] are one strongly consistent GetItem each (of
// the whole item: DynamoDB charges a read by the item's size whatever the
// projection, and only the whole item tells a damaged one). Create is a
// PutItem conditioned on no live item having the key; Delete is a
// DeleteItem.
//
// Update is one UpdateItem that sets and removes only the changed entries
// of the map f (SET f.#k = :v ... REMOVE f.#r ...), moves the owner (SET o
// or REMOVE o), moves s (see Size limit) and adds 1 to v (ADD v :one),
// under a condition that the item is live (e after the caller's clock, no
// m) and well-formed, and that the change's conditions hold. So two
// requests writing different fields both survive, every successful Update
// gets a version of its own, and an Update never brings back a deleted,
// expired or moved session. The item comes back as it was (ReturnValues
// ALL_OLD): its v plus 1 is the new version.
//
// When the condition fails, nothing was written and the engine tells why
// from the item as the condition saw it: DynamoDB sends it with the
// failure (ReturnValuesOnConditionCheckFailure ALL_OLD) unless the item is
// missing; where it does not (a missing item, or dynalite, which ignores
// the parameter), a strongly consistent GetItem follows, on the failure
// path only. Missing, expired or moved gives ErrNotFound; damaged,
// ErrCorrupt; a failing expectation, ErrConflict; a passed limit,
// ErrTooLarge, in that order. If the item read satisfies everything,
// another write got in between: the Update is tried again (at most 64
// attempts, each one after another client's successful write).
//
// The SDK's own retries stay on for reads, but the conditional writes
// (Create's put, Update, and Move's mark, put and delete) are sent again
// only after an answer that proves the engine did not apply them: a
// throttling error or a failed dial. After a connection cut, a timeout or
// a 5xx answer the write may have been applied, and sent again it would
// be judged against its own work (a Create reporting ErrExists, an
// Update with expectations a conflict, a Move's mark the session gone):
// such a call fails with the error instead, its outcome unknown. A
// Create, Update or Move's mark whose retries ran out on throttling
// answers applied nothing: its error wraps [store.ErrNotSent], so a
// manager keeps its cached copy.
//
// # No group commit
//
// The engines that pay a commit per write (bbolt, PostgreSQL, MariaDB)
// or a round trip per command (Redis) send the writes that arrive while
// one is in flight together (see their package docs). DynamoDB has no
// way to do that here without changing what a write means: BatchWriteItem
// takes no condition expressions and cannot update an item in place, so a
// session's writes would lose their compare-and-set, their size bound and
// their no-resurrection condition; TransactWriteItems keeps the
// conditions but fails the whole transaction when one of them fails (one
// session's conflict would fail its batch-mates, whose changes have
// nothing to do with it) and costs twice the write capacity. So every
// change stays one UpdateItem (or PutItem, DeleteItem) of its own;
// DynamoDB commits each one durably in a few milliseconds and serves
// many of them in parallel over the SDK's pooled HTTP connections, so
// concurrency, not batching, is what raises its throughput.
//
// # Compare-and-set
//
// Change.Expect is part of the same UpdateItem's condition: f.#k = :want
// for a value, attribute_not_exists(f.#k) for an absent key. DynamoDB
// compares binaries byte for byte, as store.Change.Check does. No extra
// round trip.
//
// # Size limit
//
// A condition expression cannot add up the sizes of fields it does not
// name, so the item carries s, a bound kept at or above the session's
// size by every write: Create and Move store the exact size, and an
// Update moves s by an upper bound of its change, the sizes it sets less
// those it replaces or removes that its Expect pins (a field replaced or
// removed without an expectation might have been absent, so it is not
// subtracted; s then grows past the true size). An Update with a limit
// adds s <= MaxSize - bound to its condition, which, when it holds, proves
// the session stays within the limit: one round trip, as without a
// limit. When it fails, the item read as above (from the failure, else a
// GetItem) is checked exactly with store.Change.Check: over the limit
// gives ErrTooLarge; within it, the Update is sent again conditioned on
// the version read, and sets s to the exact size after it. That costs 2
// round trips on DynamoDB (3 on dynalite), and happens only when s is
// not tight enough: after overwrites without expectations adding up to
// the room left under the limit, or close to the limit. A version
// conflict on that attempt repeats the read and the check. A missing s
// counts as unknown (2^40). Keeping s exact on every write instead would
// need a read before every Update that sets a field, doubling the cost
// of the common case; reading before every Update with a limit would do
// the same, since the manager sends its limit with every such change.
//
// # Move
//
// Move cannot be one atomic step here: dynalite, on which the tests run,
// has no TransactWriteItems, and a DynamoDB transaction (Put new, Delete
// old conditioned on the version read) would need the data first anyway:
// 2 round trips at twice the write cost, against 3 below. Move uses a
// compensating protocol of three conditional requests:
//
//  1. UpdateItem on the old item, under an Update's condition for c (live,
//     not being moved, Expect, size limit as above), SET m = a random
//     token, returning the item (ALL_NEW). From then on every operation
//     (Load, Version, Update, Move, Owned, and Create, which may replace
//     it) treats the old item as gone: an Update racing Move either
//     landed before step 1, and is in the data moved, or fails with
//     ErrNotFound.
//  2. PutItem of the new item (c applied, version 1, the old Created, c's
//     owner or the old one, exact s), conditioned on no live item under
//     the new key. If one is there, the mark is removed (REMOVE m, on the
//     token) and Move reports ErrExists (an Update that ran meanwhile got
//     ErrNotFound: with random 256-bit keys the case does not arise).
//  3. DeleteItem of the old item conditioned on the token. If it fails,
//     the session was deleted (revoked) after step 1: the new item is
//     deleted and Move reports ErrNotFound, so a revoked session is never
//     revived.
//
// A failing condition in step 1 is told as in Update (ErrNotFound,
// ErrCorrupt, ErrConflict, ErrTooLarge), with the same failure-path read.
// A damaged item found in step 1's answer has its mark removed. When a
// request of step 2 or 3 fails without an answer, Move deletes the new
// item (conditioned on being the one it put) and, only if that worked,
// removes the mark, so the session is back under the old key, or gone if
// step 3 had in fact deleted it. These compensating requests run even
// after the caller's context has ended, each for at most a second.
//
// A crash (or a failure of the compensation) between the steps leaves:
// after step 1, the old item marked, which counts as gone (the session is
// lost, as after a Delete) until Delete, Create or the expiry removes
// it; after step 2, also the new item, an orphan no client holds the key
// of, until it expires. Never two live copies: the marked item is not
// live.
//
// # Damaged items
//
// An item dynamostore would not have written (c, e or v missing, of
// another type or not an integer, f not a map of binaries under
// non-empty keys, o not a string, s not an integer at or above the
// fields' size) gives an error wrapping [store.ErrCorrupt] and naming the
// key from Load, Version, Update and Move, and Owned leaves it out;
// Delete removes it. An expired one counts as gone (ErrNotFound). The
// write conditions refuse most damage outright; the rest (a field of the
// wrong type, a number that is not an integer) is seen in the item the
// write returns: Update then puts the old item back (conditioned on the
// version it wrote, so a later write is never overwritten) and Move
// removes its mark, so nothing is written.
//
// # Owner index
//
// DynamoDB maintains the index "owner" with the items: an item leaves it
// when it is deleted, purged by TTL or loses its owner, and moves when its
// owner changes, so the index never holds more entries than the table
// holds items with an owner. [Store.Owned] queries it, then reads the
// listed items with a strongly consistent BatchGetItem, because a global
// secondary index is eventually consistent: a session deleted or given
// another owner a moment ago is never returned, while one created or
// given this owner a moment ago (typically under a second) may be missing
// from the answer. Expired items that Owned meets are deleted on the spot
// (conditionally on their expiry having passed), which keeps the index
// bounded also where TTL is off or unsupported (dynalite).
//
// When a listed item has gone (a renewal moved it between the query and
// the read), Owned queries the index again for keys it has not seen, so
// the renewed session is listed under its new key. On DynamoDB itself
// that new key reaches the index with the same lag as a created session:
// a revocation (the manager's RevokeAll) racing a renewal can then
// miss the renewed session. dynalite, which the tests run on, updates its
// index at once.
//
// # Expiry
//
// DynamoDB's TTL purge runs late (typically within days), so expiry is
// enforced by the attribute e: Load treats an item whose e has passed as
// missing, and Update and Create conditions compare e with the caller's
// clock. TTL only reclaims storage. Engines without UpdateTimeToLive (such
// as dynalite) still work: New tolerates the unsupported operation and
// [Store.TTLEnabled] reports false; expired items then stay until a Create
// reuses the key or [Store.Owned] meets them.
//
// # Limits
//
// DynamoDB caps an expression at 4 KB, which bounds how many fields one
// Update can change (about 370) or expect (about 230). A larger Change
// fails with an error wrapping [ErrChangeTooLarge] and writes nothing;
// sessions within the manager's default size limit (1 KB) never come
// close. An item is capped at 400 KB.
package dynamostore

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// ErrNoOwnerIndex reports, from [New], an existing table without the
// global secondary index "owner" on the string attribute "o", which
// [Store.Owned] needs. New does not add it; add it yourself, for example
// with UpdateTable: AttributeDefinitions [{o, S}] and
// GlobalSecondaryIndexUpdates [{Create: {IndexName: "owner", KeySchema:
// [{o, HASH}], Projection: {ProjectionType: KEYS_ONLY}}}] (plus
// ProvisionedThroughput on a provisioned table). The table stays usable
// while DynamoDB fills the index.
var ErrNoOwnerIndex = errors.New(`table lacks the global secondary index "owner" on attribute "o"`)

// ErrChangeTooLarge reports an Update or Move whose change does not fit
// in one DynamoDB update or condition expression (4 KB each). Nothing was
// written.
var ErrChangeTooLarge = errors.New("change too large for one UpdateItem")

// errInvalid reports arguments New refuses. Calls the Store refuses
// before any request wrap [store.ErrInvalid].
var errInvalid = errors.New("invalid argument")

// Store is a session storage engine on DynamoDB. It is safe for
// concurrent use; create it with [New].
type Store struct {
	client     *dynamodb.Client
	table      *string
	ttlEnabled bool
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// New returns a Store keeping sessions in table. Unless [WithoutSetup] is
// given, it creates the table when missing, waits until it is active and
// turns on Time to Live on the attribute "ttl" (see [WithoutTTL]); an
// existing table must have the partition key "id" of type string, no sort
// key, and the owner index (or New fails with an error wrapping
// [ErrNoOwnerIndex]). The client stays owned by the caller.
func New(ctx context.Context, client *dynamodb.Client, table string, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("dynamostore: new: %w: nil client", errInvalid)
	}
	if err := checkTableName(table); err != nil {
		return nil, fmt.Errorf("dynamostore: new: %w", err)
	}
	cfg := config{setup: true, ttl: true}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	s := &Store{client: client, table: aws.String(table)}
	if !cfg.setup {
		return s, nil
	}
	if err := s.ensureTable(ctx); err != nil {
		return nil, fmt.Errorf("dynamostore: new: %w", err)
	}
	if cfg.ttl {
		enabled, err := s.ensureTTL(ctx)
		if err != nil {
			return nil, fmt.Errorf("dynamostore: new: %w", err)
		}
		s.ttlEnabled = enabled
	}
	return s, nil
}

// TTLEnabled reports whether New found or turned on DynamoDB's Time to
// Live on the attribute "ttl". It is false with [WithoutSetup] or
// [WithoutTTL], and when the engine does not support Time to Live. Expiry
// is enforced either way; TTL only purges expired items.
func (s *Store) TTLEnabled() bool {
	return s.ttlEnabled
}

// Load returns the session stored under key, or an error wrapping
// [store.ErrNotFound] when there is none, it has expired or a Move holds
// it, or [store.ErrCorrupt] when the item cannot be decoded. It costs one
// strongly consistent GetItem.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if key == "" {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w: empty key", store.ErrInvalid)
	}
	item, err := s.getItem(ctx, key)
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w", err)
	}
	rec, err := liveRecord(item, nowMillis())
	if err != nil {
		return store.Record{}, opErr("load", key, err)
	}
	return rec, nil
}

// createCondition lets a PutItem through unless a live session has the
// key: no item, an expired one, or one that a Move has marked (gone).
const createCondition = "attribute_not_exists(#ID) OR #E <= :NOW OR attribute_exists(#M)"

// createNames returns the names createCondition uses.
func createNames() map[string]string {
	return map[string]string{"#ID": attrID, "#E": attrExpires, "#M": attrMoving}
}

// Create stores rec under key, replacing an expired item, and returns an
// error wrapping [store.ErrExists] when a live session has the key. It
// costs one conditional PutItem.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if key == "" {
		return fmt.Errorf("dynamostore: create: %w: empty key", store.ErrInvalid)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("dynamostore: create: %w: zero Expires", store.ErrInvalid)
	}
	item, err := encodeItem(key, rec)
	if err != nil {
		return fmt.Errorf("dynamostore: create: %w", err)
	}
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      item,
		ConditionExpression:       aws.String(createCondition),
		ExpressionAttributeNames:  createNames(),
		ExpressionAttributeValues: map[string]types.AttributeValue{":NOW": number(nowMillis())},
	}, noResend)
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("dynamostore: create: %w", store.ErrExists)
		}
		return fmt.Errorf("dynamostore: create: %w", notSent(err))
	}
	return nil
}

// Delete removes the session under key with one DeleteItem. Deleting a
// missing session is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("dynamostore: delete: %w: empty key", store.ErrInvalid)
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: s.table,
		Key:       keyOf(key),
	})
	if err != nil {
		return fmt.Errorf("dynamostore: delete: %w", err)
	}
	return nil
}

// isConditionFailed reports whether err is DynamoDB's answer to a failed
// ConditionExpression.
func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// checkTableName applies DynamoDB's rules for table names: 3 to 255
// characters from a-z, A-Z, 0-9, '_', '-' and '.'.
func checkTableName(name string) error {
	if len(name) < 3 || len(name) > 255 {
		return fmt.Errorf("%w: table name %q must be 3 to 255 characters", errInvalid, name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return fmt.Errorf("%w: table name %q holds %q (allowed: letters, digits, '_', '-', '.')", errInvalid, name, r)
		}
	}
	return nil
}
