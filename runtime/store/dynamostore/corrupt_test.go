package dynamostore_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// TestCorrupt plants, with the raw client, items dynamostore would never
// write, one per kind of damage. For each: every write the manager makes
// (a plain Update, one with an expectation, one with a size limit, a
// touch, a Move) fails with ErrCorrupt and leaves the item exactly as
// planted (the conditions refuse it, or the write is undone: Update puts
// the old item back, Move removes its mark); Load and Version fail with
// ErrCorrupt naming the engine and the key; Owned leaves the item out;
// then storetest.Corrupt checks the same through the contract and that
// Delete removes the item.
func TestCorrupt(t *testing.T) {
	c, table, s := testStore(t)
	ctx := context.Background()
	now := time.Now()
	good, damage := corruptions(now)
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			key := storetest.NewKey(t)
			owner := "corrupt-" + storetest.NewKey(t)
			item := good()
			spoil(item)
			item["id"], item["o"] = &types.AttributeValueMemberS{Value: key}, &types.AttributeValueMemberS{Value: owner}
			_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
			require.NoError(t, err, "plant")
			planted := rawItem(t, c, table, key)

			exp := now.Add(2 * time.Hour)
			for what, ch := range map[string]store.Change{
				"Update":                  {Set: map[string][]byte{"a": []byte("2")}, Expires: exp},
				"Update of another field": {Set: map[string][]byte{"new": []byte("2")}},
				"Update with expectation": {Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}},
				"Update with size limit":  {Set: map[string][]byte{"a": []byte("2")}, MaxSize: 1024},
				"touch":                   {Expires: exp},
				"removal":                 {Remove: []string{"x"}},
			} {
				_, err := s.Update(ctx, key, ch)
				require.ErrorIsf(t, err, store.ErrCorrupt, "%s", what)
				assert.Containsf(t, err.Error(), "dynamostore: update: key "+key+": corrupt session record", "%s", what)
				require.Equalf(t, planted, rawItem(t, c, table, key), "%s wrote to the damaged item", what)
			}
			to := storetest.NewKey(t)
			_, err = s.Move(ctx, key, to, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expires: exp, MaxSize: 1024})
			require.ErrorIs(t, err, store.ErrCorrupt, "Move")
			require.Equal(t, planted, rawItem(t, c, table, key), "Move left a mark or wrote")
			requireNoItem(t, c, table, to)

			_, err = s.Load(ctx, key)
			require.ErrorIs(t, err, store.ErrCorrupt, "Load")
			assert.Contains(t, err.Error(), "dynamostore: load: key "+key+": corrupt session record")
			_, err = s.Version(ctx, key)
			require.ErrorIs(t, err, store.ErrCorrupt, "Version")
			owned, err := s.Owned(ctx, owner)
			require.NoError(t, err)
			assert.Empty(t, owned, "Owned leaves a damaged item out")

			storetest.Corrupt(t, s, key)
		})
	}
}

// TestExpiredCorrupt checks that a damaged item whose expiry has passed
// counts as gone: ErrNotFound, as for any expired session.
func TestExpiredCorrupt(t *testing.T) {
	c, table, s := testStore(t)
	ctx := context.Background()
	key := storetest.NewKey(t)
	past := strconv.FormatInt(time.Now().Add(-time.Minute).UnixMilli(), 10)
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: key},
		"e":  &types.AttributeValueMemberN{Value: past},
		"v":  &types.AttributeValueMemberS{Value: "x"},
	}})
	require.NoError(t, err)
	_, err = s.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Version(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": nil}})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}), "an expired item is replaced")
}

// requireNoItem fails unless the table holds no item under key.
func requireNoItem(t *testing.T, c *dynamodb.Client, table, key string) {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
	})
	require.NoError(t, err)
	require.Empty(t, out.Item, "an item under %s", key)
}

// corruptions returns a well-formed item (fields a=1 and x=22, size 5,
// expiring an hour after now) without its key and owner, and the ways
// to damage one.
func corruptions(now time.Time) (good func() map[string]types.AttributeValue, damage map[string]func(item map[string]types.AttributeValue)) {
	future := strconv.FormatInt(now.Add(time.Hour).UnixMilli(), 10)
	num := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	bin := func(v string) types.AttributeValue { return &types.AttributeValueMemberB{Value: []byte(v)} }
	fields := func(kv ...any) types.AttributeValue {
		m := map[string]types.AttributeValue{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(types.AttributeValue)
		}
		return &types.AttributeValueMemberM{Value: m}
	}
	// good is a well-formed item: fields a=1 and x=22 (size 5).
	good = func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"f": fields("a", bin("1"), "x", bin("22")),
			"c": num(strconv.FormatInt(now.UnixMilli(), 10)), "e": num(future), "ttl": num("1"),
			"v": num("3"), "s": num("5"),
		}
	}
	damage = map[string]func(item map[string]types.AttributeValue){
		"version a string":       func(i map[string]types.AttributeValue) { i["v"] = str("3") },
		"version not an integer": func(i map[string]types.AttributeValue) { i["v"] = num("1.5") },
		"version negative":       func(i map[string]types.AttributeValue) { i["v"] = num("-1") },
		"version out of range":   func(i map[string]types.AttributeValue) { i["v"] = num("1e30") },
		"no version":             func(i map[string]types.AttributeValue) { delete(i, "v") },
		"expiry a string":        func(i map[string]types.AttributeValue) { i["e"] = str(future) },
		"expiry not an integer":  func(i map[string]types.AttributeValue) { i["e"] = num(future + ".5") },
		"expiry out of range":    func(i map[string]types.AttributeValue) { i["e"] = num("1e40") },
		"no expiry":              func(i map[string]types.AttributeValue) { delete(i, "e") },
		"created a string":       func(i map[string]types.AttributeValue) { i["c"] = str("1") },
		"created not an integer": func(i map[string]types.AttributeValue) { i["c"] = num("1.25") },
		"no created":             func(i map[string]types.AttributeValue) { delete(i, "c") },
		"no fields":              func(i map[string]types.AttributeValue) { delete(i, "f") },
		"fields a string":        func(i map[string]types.AttributeValue) { i["f"] = str("a") },
		"fields a list":          func(i map[string]types.AttributeValue) { i["f"] = &types.AttributeValueMemberL{} },
		"field a string":         func(i map[string]types.AttributeValue) { i["f"] = fields("a", bin("1"), "x", str("22")) },
		"field written a number": func(i map[string]types.AttributeValue) { i["f"] = fields("a", num("1"), "x", bin("22")) },
		"empty field name":       func(i map[string]types.AttributeValue) { i["f"] = fields("a", bin("1"), "", bin("22")) },
		"size a string":          func(i map[string]types.AttributeValue) { i["s"] = str("5") },
		"size below the fields":  func(i map[string]types.AttributeValue) { i["s"] = num("4") },
		"size negative":          func(i map[string]types.AttributeValue) { i["s"] = num("-100") },
		"size not an integer":    func(i map[string]types.AttributeValue) { i["s"] = num("5.5") },
	}
	return good, damage
}

// TestUserRecoversFromCorruption: for each corruption, a user whose item
// was damaged can read (and gets a fresh session), sign out and sign in
// through a manager, with no 500.
func TestUserRecoversFromCorruption(t *testing.T) {
	c, table, s := testStore(t)
	good, damage := corruptions(time.Now())
	for name, spoil := range damage {
		t.Run(name, func(t *testing.T) {
			enginetest.UserRecovers(t, s, func(t *testing.T, key string) {
				item := good()
				spoil(item)
				item["id"] = &types.AttributeValueMemberS{Value: key}
				_, err := c.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
				require.NoError(t, err, "plant")
			})
		})
	}
}
