package dynamostore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Move gives the live session under from the key to, with c applied, in
// three conditional requests (see the package documentation, Move, for
// the protocol and what an interruption leaves):
//
//  1. an UpdateItem marks from with a random token, under the conditions
//     of an Update of c (live, not being moved, c's expectations and
//     size limit), and returns the item: from now on from counts as gone
//     for every operation;
//  2. a PutItem writes the new item under to (version 1, from's Created,
//     c applied, c's or from's owner), unless a live session has the key;
//  3. a DeleteItem removes from, conditioned on the token: when it fails,
//     from was deleted (or replaced) after step 1, so the new item is
//     deleted and Move reports ErrNotFound.
//
// It returns the record stored under to, or an error wrapping
// [store.ErrNotFound], [store.ErrExists], [store.ErrConflict],
// [store.ErrTooLarge], [store.ErrCorrupt] or [store.ErrInvalid], having
// undone its own steps (the mark is removed when step 2 finds to taken).
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	switch {
	case from == "" || to == "":
		return store.Record{}, fmt.Errorf("dynamostore: move: %w: empty key", store.ErrInvalid)
	case from == to:
		return store.Record{}, fmt.Errorf("dynamostore: move: %w: the keys are equal", store.ErrInvalid)
	case c.Expires.IsZero():
		return store.Record{}, fmt.Errorf("dynamostore: move: %w: zero Expires", store.ErrInvalid)
	}
	if err := checkChange(c); err != nil {
		return store.Record{}, fmt.Errorf("dynamostore: move: %w", err)
	}
	// The token starts with when the move began, so Owned can tell a
	// move in progress (listed, so that a revocation reaches it) from
	// the leftover of one that crashed (not listed).
	began := nowMillis()
	token := strconv.FormatInt(began, 10) + "." + rand.Text()

	item, err := s.conditional(ctx, from, c, func(g guard) (*dynamodb.UpdateItemInput, error) {
		return buildMark(c, g, token)
	})
	if err != nil {
		if !refused(err) && !errors.Is(err, store.ErrNotSent) {
			s.unmark(ctx, from, token) // the request may have reached the engine
		}
		return store.Record{}, opErr("move", from, err)
	}
	rec, err := decodeItem(item)
	if err != nil {
		s.unmark(ctx, from, token)
		return store.Record{}, opErr("move", from, err)
	}
	moved := store.Record{
		Fields:  c.Apply(rec.Fields),
		Created: rec.Created,
		Expires: c.Expires,
		Version: 1,
		Owner:   rec.Owner,
	}
	if c.Owner != nil {
		moved.Owner = *c.Owner
	}
	newItem, err := encodeItem(to, moved)
	if err != nil { // the keys were checked: not reached
		s.unmark(ctx, from, token)
		return store.Record{}, fmt.Errorf("dynamostore: move: %w", err)
	}

	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 s.table,
		Item:                      newItem,
		ConditionExpression:       aws.String(createCondition),
		ExpressionAttributeNames:  createNames(),
		ExpressionAttributeValues: map[string]types.AttributeValue{":NOW": number(nowMillis())},
	}, noResend)
	if err != nil {
		if isConditionFailed(err) {
			s.unmark(ctx, from, token)
			return store.Record{}, fmt.Errorf("dynamostore: move: %w", store.ErrExists)
		}
		s.retreat(ctx, from, to, token, moved)
		return store.Record{}, fmt.Errorf("dynamostore: move: put the new item: %w", err)
	}

	if nowMillis()-began > moveWindow.Milliseconds() {
		// Owned no longer lists the old item, so a revocation now
		// might miss it: undo rather than finish late.
		s.retreat(ctx, from, to, token, moved)
		return store.Record{}, fmt.Errorf("dynamostore: move: undone: it took longer than %v", moveWindow)
	}
	_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 s.table,
		Key:                       keyOf(from),
		ConditionExpression:       aws.String("#M = :TOK"),
		ExpressionAttributeNames:  map[string]string{"#M": attrMoving},
		ExpressionAttributeValues: map[string]types.AttributeValue{":TOK": text(token)},
	}, noResend)
	if err != nil {
		if isConditionFailed(err) {
			// Deleted (or replaced) since step 1: the session was revoked.
			if err := s.deleteMoved(ctx, to, moved); err != nil {
				return store.Record{}, fmt.Errorf("dynamostore: move: %w (and the copy under the new key remains: %v)", store.ErrNotFound, err)
			}
			return store.Record{}, fmt.Errorf("dynamostore: move: %w", store.ErrNotFound)
		}
		s.retreat(ctx, from, to, token, moved)
		return store.Record{}, fmt.Errorf("dynamostore: move: delete the old item: %w", err)
	}
	return moved, nil
}

// moveWindow is how long a Move may take from marking the old item to
// deleting it. Owned lists a marked item for that long.
const moveWindow = 30 * time.Second

// moveInProgress reports whether the mark token, as Move writes it,
// belongs to a move begun less than moveWindow before now (Unix ms).
func moveInProgress(token string, now int64) bool {
	ms, _, ok := strings.Cut(token, ".")
	if !ok {
		return false
	}
	began, err := strconv.ParseInt(ms, 10, 64)
	return err == nil && now-began <= moveWindow.Milliseconds()
}

// refused reports whether err is a refusal of a conditional write, which
// wrote nothing, rather than a failure that leaves its outcome unknown.
func refused(err error) bool {
	for _, e := range []error{store.ErrNotFound, store.ErrConflict, store.ErrTooLarge, store.ErrCorrupt, store.ErrInvalid, ErrChangeTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retreat undoes a Move whose step 2 or 3 failed without an answer: it
// deletes the new item and then, only if that worked, removes the mark
// from the old one, so that there is never a live copy under both keys.
// If the old item was deleted meanwhile, the mark's condition fails and
// nothing is revived.
func (s *Store) retreat(ctx context.Context, from, to, token string, moved store.Record) {
	if s.deleteMoved(ctx, to, moved) == nil {
		s.unmark(ctx, from, token)
	}
}

// unmark removes a Move's token from the item under key, if it still
// holds it. Best effort: a mark left behind makes the session count as
// gone until it expires.
func (s *Store) unmark(ctx context.Context, key, token string) {
	ctx, cancel := compensation(ctx)
	defer cancel()
	_, _ = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 s.table,
		Key:                       keyOf(key),
		UpdateExpression:          aws.String("REMOVE #M"),
		ConditionExpression:       aws.String("#M = :TOK"),
		ExpressionAttributeNames:  map[string]string{"#M": attrMoving},
		ExpressionAttributeValues: map[string]types.AttributeValue{":TOK": text(token)},
	})
}

// deleteMoved deletes the item a Move put under key, if it is still the
// one it put (version 1, its Created and Expires); nil also when the item
// is gone or is another.
func (s *Store) deleteMoved(ctx context.Context, key string, moved store.Record) error {
	ctx, cancel := compensation(ctx)
	defer cancel()
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                s.table,
		Key:                      keyOf(key),
		ConditionExpression:      aws.String("#V = :ONE AND #C = :C AND #E = :E"),
		ExpressionAttributeNames: map[string]string{"#V": attrVersion, "#C": attrCreated, "#E": attrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ONE": number(1), ":C": number(moved.Created.UnixMilli()), ":E": number(moved.Expires.UnixMilli()),
		},
	})
	if err != nil && !isConditionFailed(err) {
		return err
	}
	return nil
}
