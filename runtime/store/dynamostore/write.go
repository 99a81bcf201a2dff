package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// maxAttempts bounds the attempts of one conditional write. An attempt
// is repeated only when its condition failed although the session, read
// right after, is live and satisfies the change: another write got in
// between (or the size attribute was not tight enough, which the next,
// pinned, attempt settles). Every repeat thus follows another client's
// successful write to the same session.
const maxAttempts = 64

// compensateTimeout bounds each request that undoes part of a failed
// operation. Such requests run even when the caller's context has ended,
// so that a cancelled Move does not leave its session marked.
const compensateTimeout = time.Second

// Update applies c to the live session under key with one conditional
// UpdateItem, which also adds 1 to the version, and returns the new
// version. It returns an error wrapping [store.ErrNotFound] when the
// session does not exist, has expired or is being moved,
// [store.ErrConflict] when an expectation of c fails, [store.ErrTooLarge]
// when c would take the session over c.MaxSize, and [store.ErrCorrupt]
// for a damaged item; in each case nothing is written. A key both set and
// removed by c ends up set, as [store.Change] documents. See the package
// documentation for the round trips a failed condition or a size limit
// may add.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("dynamostore: update: %w: empty key", store.ErrInvalid)
	}
	old, err := s.conditional(ctx, key, c, func(g guard) (*dynamodb.UpdateItemInput, error) {
		return buildUpdate(c, g)
	})
	if err != nil {
		return 0, opErr("update", key, err)
	}
	rec, err := decodeItem(old)
	if err != nil {
		s.undo(ctx, key, old)
		return 0, opErr("update", key, err)
	}
	return rec.Version + 1, nil
}

// conditional sends the UpdateItem that build returns for a guard, on
// the item under key, and returns the item the engine sends back. When
// the condition fails it reads the item as the condition saw it (the
// engine's ReturnValuesOnConditionCheckFailure, else a strongly
// consistent GetItem) and tells why: store.ErrNotFound, ErrCorrupt,
// ErrConflict or ErrTooLarge, in that order, as [store.Change.Check]
// does. When none applies, another write got in between, or the size
// attribute was not tight enough: it tries again, and for a change with
// a size limit, pins the attempt to the version just read, whose fields
// passed Check.
func (s *Store) conditional(ctx context.Context, key string, c store.Change, build func(guard) (*dynamodb.UpdateItemInput, error)) (map[string]types.AttributeValue, error) {
	g := guard{now: nowMillis()}
	for attempt := 1; ; attempt++ {
		in, err := build(g)
		if err != nil {
			return nil, err
		}
		in.TableName, in.Key = s.table, keyOf(key)
		out, err := s.client.UpdateItem(ctx, in, noResend)
		if err == nil {
			if len(out.Attributes) == 0 {
				return nil, errors.New("UpdateItem returned no item")
			}
			return out.Attributes, nil
		}
		var failed *types.ConditionalCheckFailedException
		if !errors.As(err, &failed) {
			// An earlier attempt of the loop was refused by its
			// condition, so it wrote nothing either.
			return nil, notSent(err)
		}
		item := failed.Item
		if len(item) == 0 { // missing, or the engine does not send it
			if item, err = s.getItem(ctx, key); err != nil {
				return nil, fmt.Errorf("read after a failed condition: %w", err)
			}
		}
		now := nowMillis()
		rec, err := liveRecord(item, now)
		if err == nil {
			err = c.Check(rec.Fields)
		}
		if err != nil {
			return nil, err
		}
		if attempt == maxAttempts {
			return nil, fmt.Errorf("%w: other writes got in first %d times in a row", store.ErrConflict, maxAttempts)
		}
		g = guard{now: now}
		if sized(c) {
			g.pinned = &rec
		}
	}
}

// undo puts back old, the item as an Update found it before writing,
// after the Update found it damaged: a damaged record is written nothing.
// The put is conditioned on the version the Update wrote, so a write
// that came after it (a Delete, another Update) is never overwritten;
// Updates racing on one damaged item may thus leave one of their
// changes in it, which stays unreadable either way. Best effort: a
// failure leaves the record damaged, as it was.
func (s *Store) undo(ctx context.Context, key string, old map[string]types.AttributeValue) {
	v, ok := old[attrVersion].(*types.AttributeValueMemberN)
	if !ok {
		return
	}
	next, ok := plusOne(v.Value)
	if !ok {
		return
	}
	ctx, cancel := compensation(ctx)
	defer cancel()
	_, _ = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      old,
		ConditionExpression:       aws.String("#V = :V"),
		ExpressionAttributeNames:  map[string]string{"#V": attrVersion},
		ExpressionAttributeValues: map[string]types.AttributeValue{":V": &types.AttributeValueMemberN{Value: next}},
	})
}

// plusOne returns the DynamoDB number n plus 1, exactly, in decimal (n
// may be any number the conditions let through: negative, fractional).
func plusOne(n string) (string, bool) {
	r, ok := new(big.Rat).SetString(n)
	if !ok {
		return "", false
	}
	r.Add(r, big.NewRat(1, 1))
	if r.IsInt() {
		return r.Num().String(), true
	}
	// A decimal's denominator is 2^a 5^b; max(a, b) digits show it exactly.
	den := new(big.Int).Set(r.Denom())
	two, five, zero, mod := big.NewInt(2), big.NewInt(5), big.NewInt(0), new(big.Int)
	a, b := 0, 0
	for mod.Mod(den, two).Cmp(zero) == 0 {
		den.Quo(den, two)
		a++
	}
	for mod.Mod(den, five).Cmp(zero) == 0 {
		den.Quo(den, five)
		b++
	}
	if den.Cmp(big.NewInt(1)) != 0 {
		return "", false
	}
	return r.FloatString(max(a, b)), true
}

// compensation returns the context of a compensating request: ctx's
// values, not its end, and at most compensateTimeout.
func compensation(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), compensateTimeout)
}

// getItem reads the whole item under key with a strongly consistent
// GetItem; a missing item is an empty map.
func (s *Store) getItem(ctx context.Context, key string) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      s.table,
		Key:            keyOf(key),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// opErr wraps err from operation op on key with the engine's name, and
// with the key when the record is damaged (a hash, never a session ID).
func opErr(op, key string, err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("dynamostore: %s: key %s: %w", op, key, err)
	}
	return fmt.Errorf("dynamostore: %s: %w", op, err)
}
