package dynamostore_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestSizeAttribute follows the size attribute s: overwrites without an
// expectation let it grow past the session's size; while it stays within
// the limit a change with a size limit costs one UpdateItem, and when it
// does not, the change is checked against the fields read and s is set
// to the exact size again. A missing s counts as unknown.
func TestSizeAttribute(t *testing.T) {
	counter := &countingHTTP{next: &http.Client{}}
	c := newClient(endpoint(t), counter, 0)
	table := testTable(t, c)
	s := newStore(t, c, table)
	raw := newClient(endpoint(t), nil, 0) // uncounted
	ctx := context.Background()
	size := func(key string) int64 {
		t.Helper()
		n, err := strconv.ParseInt(rawItem(t, raw, table, key)["s"].(*types.AttributeValueMemberN).Value, 10, 64)
		require.NoError(t, err)
		return n
	}
	ten := func(i int) []byte { return []byte(strings.Repeat(strconv.Itoa(i%10), 10)) }

	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Fields: map[string][]byte{"a": ten(0)}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}))
	assert.Equal(t, int64(11), size(key))
	for i := 1; i <= 20; i++ {
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": ten(i)}})
		require.NoError(t, err)
	}
	assert.Equal(t, int64(11+20*11), size(key), "each overwrite without an expectation adds its size")
	counter.take()

	_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": ten(21)}, MaxSize: 100})
	require.NoError(t, err, "the session holds 11 bytes")
	ops := counter.take()
	assert.Equal(t, "UpdateItem", ops[0])
	assert.Equal(t, "UpdateItem", ops[len(ops)-1])
	assert.LessOrEqual(t, len(ops), 3, "the failed condition, a read where the engine sends no item, the pinned write: %v", ops)
	assert.Equal(t, int64(11), size(key), "exact again")

	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": ten(22)}, MaxSize: 100})
	require.NoError(t, err)
	assert.Equal(t, []string{"UpdateItem"}, counter.take(), "within the limit by s: one request")
	assert.Equal(t, int64(22), size(key))

	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": ten(23)}, Expect: map[string][]byte{"a": ten(22)}, MaxSize: 100})
	require.NoError(t, err)
	assert.Equal(t, []string{"UpdateItem"}, counter.take())
	assert.Equal(t, int64(22), size(key), "an overwrite of a value pinned by an expectation counts exactly")

	planted := rawItem(t, raw, table, key)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"big": []byte(strings.Repeat("x", 100))}, MaxSize: 100})
	require.ErrorIs(t, err, store.ErrTooLarge)
	assert.Equal(t, planted, rawItem(t, raw, table, key), "a refused change writes nothing")

	// A missing s: a write without a limit makes it huge, one with a
	// limit exact.
	_, err = raw.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
		UpdateExpression: aws.String("REMOVE s"),
	})
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err, "s is optional")
	assert.Len(t, got.Fields, 1)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": nil}})
	require.NoError(t, err)
	assert.Greater(t, size(key), int64(1<<30), "unknown: larger than any item")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": nil}, MaxSize: 100})
	require.NoError(t, err)
	assert.Equal(t, int64(13), size(key), "a11, b, c")
}
