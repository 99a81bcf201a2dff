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
//
// An existing table must have the same key and the index "owner" (key
// "o", string; any projection): New refuses a table without it with an
// error wrapping [ErrNoOwnerIndex] rather than adding it, because adding
// an index to a large table is a long backfill to plan (see
// [ErrNoOwnerIndex] for the UpdateTable call).
//
// # Round trips and atomicity
//
// Every operation is one API call. Load is a strongly consistent GetItem.
// Update is one UpdateItem that sets and removes only the changed entries
// of the map f (SET f.#k = :v ... REMOVE f.#r ...), moves the owner
// (SET o or REMOVE o) and adds 1 to v (ADD v :one), under the condition
// that the item exists and has not expired, and returns the new v
// (ReturnValues UPDATED_NEW, which also echoes the values written). So two
// requests writing different fields both survive, every successful Update
// gets a version of its own, and an Update never brings back a deleted or
// expired session (the condition fails and nothing is written). Create is
// a PutItem conditioned on no live item having the key; Delete is a
// DeleteItem. [Store.Version] is a GetItem of v and e only.
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
// Update can change: about 370 (fewer with many removals). A larger
// Change fails with an error wrapping [ErrChangeTooLarge] and writes
// nothing; sessions within the manager's default size limit (1 KB) never
// come close. An item is capped at 400 KB.
package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

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

// ErrChangeTooLarge reports an Update whose change does not fit in one
// DynamoDB update expression (4 KB). Nothing was written.
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
// [store.ErrNotFound] when there is none or it has expired. It costs one
// strongly consistent GetItem.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if key == "" {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w: empty key", store.ErrInvalid)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            keyOf(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w", err)
	}
	if len(out.Item) == 0 {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w", store.ErrNotFound)
	}
	rec, err := decodeItem(out.Item)
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w", err)
	}
	if rec.Expires.UnixMilli() <= nowMillis() {
		return store.Record{}, fmt.Errorf("dynamostore: load: %w", store.ErrNotFound)
	}
	return rec, nil
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
		ConditionExpression:       aws.String("attribute_not_exists(#ID) OR #E <= :NOW"),
		ExpressionAttributeNames:  map[string]string{"#ID": attrID, "#E": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{":NOW": number(nowMillis())},
	})
	if err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("dynamostore: create: %w", store.ErrExists)
		}
		return fmt.Errorf("dynamostore: create: %w", err)
	}
	return nil
}

// Update applies c to the live session under key with one conditional
// UpdateItem, which also adds 1 to the version and returns the new one.
// It returns an error wrapping [store.ErrNotFound], having
// written nothing, when the session does not exist or has expired. A key
// both set and removed by c ends up set, as [store.Change] documents.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("dynamostore: update: %w: empty key", store.ErrInvalid)
	}
	in, err := buildUpdate(c, nowMillis())
	if err != nil {
		return 0, fmt.Errorf("dynamostore: update: %w", err)
	}
	in.TableName = s.table
	in.Key = keyOf(key)
	out, err := s.client.UpdateItem(ctx, in)
	if err != nil {
		if isConditionFailed(err) {
			return 0, fmt.Errorf("dynamostore: update: %w", store.ErrNotFound)
		}
		return 0, fmt.Errorf("dynamostore: update: %w", err)
	}
	v, err := versionAttr(out.Attributes)
	if err == nil && v == 0 {
		err = fmt.Errorf("%w: UpdateItem returned no version", errBadItem)
	}
	if err != nil {
		return 0, fmt.Errorf("dynamostore: update: %w", err)
	}
	return v, nil
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

// checkField refuses field keys that are empty or not valid UTF-8: the
// manager never sends them.
func checkField(k string) error {
	if k == "" || !utf8.ValidString(k) {
		return fmt.Errorf("%w: field key is empty or not valid UTF-8", store.ErrInvalid)
	}
	return nil
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
