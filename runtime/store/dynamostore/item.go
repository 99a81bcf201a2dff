package dynamostore

import (
	"errors"
	"fmt"
	"strconv"
	"time"

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
)

// ownerIndex is the name of the global secondary index on attrOwner.
const ownerIndex = "owner"

// keyOf returns the primary key of the item for key.
func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrID: &types.AttributeValueMemberS{Value: key}}
}

// number returns n as a DynamoDB number.
func number(n int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// binary returns a DynamoDB binary holding a copy of b (an empty binary
// when b is nil: DynamoDB allows empty binaries outside keys).
func binary(b []byte) *types.AttributeValueMemberB {
	return &types.AttributeValueMemberB{Value: append(make([]byte, 0, len(b)), b...)}
}

// ttlSeconds returns the Time to Live value for an expiry in Unix ms:
// whole seconds, rounded up so the purge never precedes the expiry.
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

// encodeItem builds the item for a new session.
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
		attrID:      &types.AttributeValueMemberS{Value: key},
		attrFields:  &types.AttributeValueMemberM{Value: fields},
		attrCreated: number(rec.Created.UnixMilli()),
		attrExpires: number(e),
		attrTTL:     number(ttlSeconds(e)),
		attrVersion: number(1),
	}
	if rec.Owner != "" {
		item[attrOwner] = &types.AttributeValueMemberS{Value: rec.Owner}
	}
	return item, nil
}

// errBadItem reports an item that dynamostore did not write.
var errBadItem = errors.New("malformed session item (not written by dynamostore?)")

// decodeItem reads a session item. The byte slices of the returned fields
// are the SDK's, which no one else holds.
func decodeItem(item map[string]types.AttributeValue) (store.Record, error) {
	rec, err := decodeMeta(item)
	if err != nil {
		return store.Record{}, err
	}
	switch f := item[attrFields].(type) {
	case nil:
		rec.Fields = map[string][]byte{}
	case *types.AttributeValueMemberM:
		rec.Fields = make(map[string][]byte, len(f.Value))
		for k, v := range f.Value {
			b, ok := v.(*types.AttributeValueMemberB)
			if !ok {
				return store.Record{}, fmt.Errorf("%w: field value of type %T", errBadItem, v)
			}
			if b.Value == nil {
				rec.Fields[k] = []byte{}
			} else {
				rec.Fields[k] = b.Value
			}
		}
	default:
		return store.Record{}, fmt.Errorf("%w: attribute %q of type %T", errBadItem, attrFields, f)
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
	version, err := versionAttr(item)
	if err != nil {
		return store.Record{}, err
	}
	owner, err := ownerAttr(item)
	if err != nil {
		return store.Record{}, err
	}
	return store.Record{Created: created, Expires: expires, Version: version, Owner: owner}, nil
}

// millisAttr reads a Unix millisecond time from the number attribute name.
func millisAttr(item map[string]types.AttributeValue, name string) (time.Time, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: attribute %q missing or not a number", errBadItem, name)
	}
	ms, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: attribute %q: %v", errBadItem, name, err)
	}
	return time.UnixMilli(ms), nil
}

// versionAttr reads the version attribute; an item written before
// versions existed has none and reads as version 0.
func versionAttr(item map[string]types.AttributeValue) (uint64, error) {
	switch v := item[attrVersion].(type) {
	case nil:
		return 0, nil
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseUint(v.Value, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: attribute %q: %v", errBadItem, attrVersion, err)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("%w: attribute %q of type %T", errBadItem, attrVersion, v)
	}
}

// ownerAttr reads the owner attribute ("" when absent).
func ownerAttr(item map[string]types.AttributeValue) (string, error) {
	switch o := item[attrOwner].(type) {
	case nil:
		return "", nil
	case *types.AttributeValueMemberS:
		return o.Value, nil
	default:
		return "", fmt.Errorf("%w: attribute %q of type %T", errBadItem, attrOwner, o)
	}
}
