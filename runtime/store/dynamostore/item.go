package dynamostore

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Attribute names of a session item.
const (
	attrID      = "id"  // S: the session key
	attrFields  = "f"   // M: field key -> B
	attrCreated = "c"   // N: Unix ms
	attrExpires = "e"   // N: Unix ms
	attrTTL     = "ttl" // N: Unix s, rounded up
	attrVersion = "v"   // N: 1 after Create, +1 per Update
	attrOwner   = "o"   // S: the owner, absent for none (key of the owner index)
	attrSize    = "s"   // N: at least the session's size (store.Size); absent: unknown
	attrMoving  = "m"   // S: a Move's token; the item counts as gone
)

// ownerIndex is the name of the global secondary index on attrOwner.
const ownerIndex = "owner"

// maxNumber bounds the version and size attributes. The write conditions
// compare both with it (#V < :VMAX), which also checks that they are
// numbers, so an UpdateItem never meets one it cannot add to; decoding
// refuses what the conditions refuse.
const maxNumber = 1_000_000_000_000_000_000

// unknownSize is what an Update takes a missing size attribute for: more
// than any item holds, so the next Update with a size limit reads the
// session and writes its exact size.
const unknownSize = 1 << 40

// keyOf returns the primary key of the item for key.
func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: key}}
}

// number returns n as a DynamoDB number.
func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// text returns s as a DynamoDB string.
func text(s string) *types.AttributeValueMemberS {
	return &types.AttributeValueMemberS{Value: s}
}

// binary returns a DynamoDB binary holding a copy of b (an empty binary
// when b is nil: DynamoDB allows empty binaries outside keys).
func binary(b []byte) *types.AttributeValueMemberB {
	return &types.AttributeValueMemberB{Value: append(make([]byte, 0, len(b)), b...)}
}

// ttlSeconds returns the Time to Live value for an expiry in Unix ms:
// whole seconds, rounded up so the purge never precedes the expiry (an
// expiry on a whole second is kept as it is).
func ttlSeconds(expiresMillis int64) int64 {
	s := expiresMillis / 1000
	if expiresMillis%1000 > 0 {
		s++
	}
	return s
}

// nowMillis returns the current time in Unix milliseconds.
func nowMillis() int64 {
	return time.Now().UnixMilli()
}

// checkField refuses field keys that are empty or not valid UTF-8: the
// manager never sends them, and decoding treats them as damage.
func checkField(k string) error {
	if k == "" || !utf8.ValidString(k) {
		return fmt.Errorf("%w: field key is empty or not valid UTF-8", store.ErrInvalid)
	}
	return nil
}

// encodeItem builds the item for a new session: version 1, and its exact
// size in the size attribute.
func encodeItem(key string, rec store.Record) (map[string]types.AttributeValue, error) {
	fields := make(map[string]types.AttributeValue, len(rec.Fields))
	for k, v := range rec.Fields {
		if err := checkField(k); err != nil {
			return nil, err
		}
		fields[k] = binary(v)
	}
	e := rec.Expires.UnixMilli()
	item := map[string]types.AttributeValue{
		attrID:      text(key),
		attrFields:  &types.AttributeValueMemberM{Value: fields},
		attrCreated: number(rec.Created.UnixMilli()),
		attrExpires: number(e),
		attrTTL:     number(ttlSeconds(e)),
		attrVersion: number(1),
		attrSize:    number(int64(store.Size(rec.Fields))),
	}
	if rec.Owner != "" {
		item[attrOwner] = text(rec.Owner)
	}
	return item, nil
}

// liveRecord returns the session in item (as read at now, Unix ms): an
// error wrapping store.ErrNotFound when item is empty, marked by a Move
// or expired (even if it is also damaged), or one wrapping
// store.ErrCorrupt when it cannot be decoded.
func liveRecord(item map[string]types.AttributeValue, now int64) (store.Record, error) {
	if len(item) == 0 {
		return store.Record{}, store.ErrNotFound
	}
	if _, moving := item[attrMoving]; moving {
		return store.Record{}, store.ErrNotFound
	}
	if e, err := millisAttr(item, attrExpires); err == nil && e.UnixMilli() <= now {
		return store.Record{}, store.ErrNotFound
	}
	return decodeItem(item)
}

// decodeItem reads a session item, refusing with an error wrapping
// store.ErrCorrupt anything dynamostore would not have written: a
// missing or non-numeric c, e or v, a number out of range, fields that
// are not a map of binaries under valid keys, an owner that is not a
// string, a size attribute below the fields' size. The byte slices of
// the returned fields are the SDK's, which no one else holds.
func decodeItem(item map[string]types.AttributeValue) (store.Record, error) {
	rec, err := decodeMeta(item)
	if err != nil {
		return store.Record{}, err
	}
	f, ok := item[attrFields].(*types.AttributeValueMemberM)
	if !ok {
		return store.Record{}, fmt.Errorf("%w: attribute %q missing or not a map", store.ErrCorrupt, attrFields)
	}
	rec.Fields = make(map[string][]byte, len(f.Value))
	for k, v := range f.Value {
		if checkField(k) != nil {
			return store.Record{}, fmt.Errorf("%w: field key %q is empty or not valid UTF-8", store.ErrCorrupt, k)
		}
		b, ok := v.(*types.AttributeValueMemberB)
		if !ok {
			return store.Record{}, fmt.Errorf("%w: field %q: value of type %T, not binary", store.ErrCorrupt, k, v)
		}
		if b.Value == nil {
			rec.Fields[k] = []byte{}
		} else {
			rec.Fields[k] = b.Value
		}
	}
	if n, ok := item[attrSize]; ok {
		size, err := boundedAttr(n, attrSize)
		if err != nil {
			return store.Record{}, err
		}
		if actual := store.Size(rec.Fields); size < uint64(actual) {
			return store.Record{}, fmt.Errorf("%w: attribute %q is %d, below the fields' size %d", store.ErrCorrupt, attrSize, size, actual)
		}
	}
	return rec, nil
}

// decodeMeta reads the times, version and owner of a session item,
// leaving Fields nil.
func decodeMeta(item map[string]types.AttributeValue) (store.Record, error) {
	created, err := millisAttr(item, attrCreated)
	if err != nil {
		return store.Record{}, err
	}
	expires, err := millisAttr(item, attrExpires)
	if err != nil {
		return store.Record{}, err
	}
	version, err := boundedAttr(item[attrVersion], attrVersion)
	if err != nil {
		return store.Record{}, err
	}
	rec := store.Record{Created: created, Expires: expires, Version: version}
	switch o := item[attrOwner].(type) {
	case nil:
	case *types.AttributeValueMemberS:
		rec.Owner = o.Value
	default:
		return store.Record{}, fmt.Errorf("%w: attribute %q of type %T, not a string", store.ErrCorrupt, attrOwner, o)
	}
	return rec, nil
}

// millisAttr reads a Unix millisecond time from the number attribute name.
func millisAttr(item map[string]types.AttributeValue, name string) (time.Time, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: attribute %q missing or not a number", store.ErrCorrupt, name)
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: attribute %q: %q is not a time in milliseconds", store.ErrCorrupt, name, n.Value)
	}
	return time.UnixMilli(ms), nil
}

// boundedAttr reads the number attribute v (named name) as an integer
// from 0 to maxNumber-1.
func boundedAttr(v types.AttributeValue, name string) (uint64, error) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("%w: attribute %q missing or not a number", store.ErrCorrupt, name)
	}
	u, err := strconv.ParseUint(n.Value, 10, 64)
	if err != nil || u >= maxNumber {
		return 0, fmt.Errorf("%w: attribute %q: %q is not an integer from 0 to 10^18-1", store.ErrCorrupt, name, n.Value)
	}
	return u, nil
}
