package dynamostore_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// envEndpoint names the DynamoDB endpoint the tests use.
const envEndpoint = "SESSIONGEN_DYNAMODB_ENDPOINT"

// endpoint returns the endpoint from envEndpoint, skipping the test when
// the variable is unset.
func endpoint(t *testing.T) string {
	t.Helper()
	return enginetest.Env(t, envEndpoint, "DynamoDB", "an endpoint URL such as http://127.0.0.1:8000")
}

// newClient returns a client on ep with dummy static credentials. hc may
// be nil for the SDK's default HTTP client.
func newClient(ep string, hc dynamodb.HTTPClient, retries int) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("sessiongen", "sessiongen", ""),
		BaseEndpoint:     aws.String(ep),
		HTTPClient:       hc,
		RetryMaxAttempts: retries,
	})
}

// testTable returns a table name unique to this test run and deletes the
// table when the test ends.
func testTable(t *testing.T, c *dynamodb.Client) string {
	t.Helper()
	name := enginetest.UniqueName("sessiongen-test-")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			return // never created
		}
		if err != nil {
			t.Logf("cannot clean up table %s: %v", name, err)
			return
		}
		if desc.Table.TableStatus == types.TableStatusCreating {
			// A table still being created cannot be deleted yet.
			_ = dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
				o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
			}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 20*time.Second)
		}
		_, err = c.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		if err != nil && !errors.As(err, &nf) {
			t.Errorf("deleting table %s: %v", name, err)
		}
	})
	return name
}

// newStore creates the test table on c (first call) and returns a Store
// on it, failing the test when the endpoint does not answer.
func newStore(t *testing.T, c *dynamodb.Client, table string, opts ...dynamostore.Option) *dynamostore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := dynamostore.New(ctx, c, table, opts...)
	if err != nil {
		t.Fatalf("dynamostore.New on %s: %v", os.Getenv(envEndpoint), err)
	}
	return s
}

// testStore returns a client on the endpoint, a fresh table and a Store
// on it.
func testStore(t *testing.T) (*dynamodb.Client, string, *dynamostore.Store) {
	t.Helper()
	c := newClient(endpoint(t), nil, 0)
	table := testTable(t, c)
	return c, table, newStore(t, c, table)
}

func TestConformance(t *testing.T) {
	_, _, s := testStore(t)
	storetest.Run(t, func(t *testing.T) store.Store { return s })
}

func TestTwoNodes(t *testing.T) {
	ep := endpoint(t)
	a, b := newClient(ep, nil, 0), newClient(ep, nil, 0)
	table := testTable(t, a)
	// The second New finds the table the first created.
	storetest.TwoNodes(t, newStore(t, a, table), newStore(t, b, table))
}

// TestNewIsIdempotent runs New twice on one table, the second time on
// the existing table, and checks what it left: the key schema and the
// Time to Live setting (on, or not supported by the engine).
func TestNewIsIdempotent(t *testing.T) {
	c := newClient(endpoint(t), nil, 0)
	table := testTable(t, c)
	s1 := newStore(t, c, table)
	s2 := newStore(t, c, table)
	assert.Equal(t, s1.TTLEnabled(), s2.TTLEnabled())

	ctx := context.Background()
	desc, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	assert.Equal(t, types.TableStatusActive, desc.Table.TableStatus)
	require.Len(t, desc.Table.KeySchema, 1)
	assert.Equal(t, "id", aws.ToString(desc.Table.KeySchema[0].AttributeName))
	assert.Equal(t, types.KeyTypeHash, desc.Table.KeySchema[0].KeyType)
	if desc.Table.BillingModeSummary != nil {
		assert.Equal(t, types.BillingModePayPerRequest, desc.Table.BillingModeSummary.BillingMode)
	}

	if s1.TTLEnabled() {
		ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		require.NoError(t, err)
		assert.Contains(t, []types.TimeToLiveStatus{types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling},
			ttl.TimeToLiveDescription.TimeToLiveStatus)
		assert.Equal(t, "ttl", aws.ToString(ttl.TimeToLiveDescription.AttributeName))
	} else {
		// Only an engine without Time to Live may leave it off.
		_, err := c.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
			TableName: aws.String(table),
			TimeToLiveSpecification: &types.TimeToLiveSpecification{
				AttributeName: aws.String("ttl"), Enabled: aws.Bool(true),
			},
		})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "UnknownOperationException")
		t.Log("the engine does not support Time to Live; New carried on without it")
	}

	s3 := newStore(t, c, table, dynamostore.WithoutTTL())
	assert.False(t, s3.TTLEnabled())
	s4, err := dynamostore.New(ctx, c, table, dynamostore.WithoutSetup())
	require.NoError(t, err)
	assert.False(t, s4.TTLEnabled())
	key := storetest.NewKey(t)
	require.NoError(t, s4.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Minute)}))
	_, err = s1.Load(ctx, key)
	require.NoError(t, err, "all Stores share the table")
}

// TestWrongSchema checks that New refuses a table keyed otherwise.
func TestWrongSchema(t *testing.T) {
	c := newClient(endpoint(t), nil, 0)
	table := testTable(t, c)
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	require.NoError(t, err)
	_, err = dynamostore.New(ctx, c, table)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "dynamostore: new: ")
	assert.Contains(t, err.Error(), `string partition key "id"`)
}

// TestLayout checks the item a session becomes, and the Time to Live
// attribute for an expiry on a whole second (kept) and one past it
// (rounded up to the next second), both set deterministically.
func TestLayout(t *testing.T) {
	c, table, s := testStore(t)
	ctx := context.Background()

	// A whole second some minutes ahead, so both expiries are in the future.
	whole := time.Now().Truncate(time.Second).Add(10 * time.Minute)
	created := time.UnixMilli(time.Now().UnixMilli())
	for name, tc := range map[string]struct {
		expires time.Time
		ttl     int64
	}{
		"whole second": {whole, whole.Unix()},
		"fraction":     {whole.Add(time.Millisecond), whole.Unix() + 1},
		"last ms":      {whole.Add(999 * time.Millisecond), whole.Unix() + 1},
	} {
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, store.Record{
			Fields: map[string][]byte{"user": []byte("bob"), "empty": {}}, Created: created, Expires: tc.expires,
		}))
		item := rawItem(t, c, table, key)
		assert.Equalf(t, map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: key},
			"f": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
				"user":  &types.AttributeValueMemberB{Value: []byte("bob")},
				"empty": &types.AttributeValueMemberB{Value: []byte{}},
			}},
			"c":   &types.AttributeValueMemberN{Value: strconv.FormatInt(created.UnixMilli(), 10)},
			"e":   &types.AttributeValueMemberN{Value: strconv.FormatInt(tc.expires.UnixMilli(), 10)},
			"ttl": &types.AttributeValueMemberN{Value: strconv.FormatInt(tc.ttl, 10)},
			"v":   &types.AttributeValueMemberN{Value: "1"},
			"s":   &types.AttributeValueMemberN{Value: "12"}, // user+bob, empty
		}, normalize(item), "%s", name)
	}

	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{
		Fields: map[string][]byte{"user": []byte("bob"), "empty": {}}, Created: created, Expires: whole.Add(time.Millisecond),
	}))
	later := whole.Add(time.Hour)
	owner := "user-42"
	v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"n": {1}}, Remove: []string{"user"}, Expires: later, Owner: &owner})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	item := rawItem(t, c, table, key)
	assert.Equal(t, &types.AttributeValueMemberN{Value: "2"}, item["v"])
	assert.Equal(t, &types.AttributeValueMemberS{Value: owner}, item["o"])
	assert.Equal(t, &types.AttributeValueMemberN{Value: strconv.FormatInt(later.UnixMilli(), 10)}, item["e"])
	assert.Equal(t, &types.AttributeValueMemberN{Value: strconv.FormatInt(later.Unix(), 10)}, item["ttl"], "whole second: no rounding")
	assert.Equal(t, &types.AttributeValueMemberN{Value: "14"}, item["s"],
		"the size bound grows by the field set (1+1) and keeps the removed one, which may not have existed")
	f := item["f"].(*types.AttributeValueMemberM).Value
	assert.Len(t, f, 2)
	assert.Contains(t, f, "n")
	assert.Contains(t, f, "empty")

	none := ""
	v, err = s.Update(ctx, key, store.Change{Owner: &none})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), v)
	item = rawItem(t, c, table, key)
	assert.NotContains(t, item, "o", "no owner: no attribute, no index entry")

	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"n": {2}}, MaxSize: 5})
	require.NoError(t, err, "size 7 > 5 but no growth (n replaced)")
	assert.Equal(t, uint64(4), v)
	item = rawItem(t, c, table, key)
	assert.Equal(t, &types.AttributeValueMemberN{Value: "7"}, item["s"], "a write checked against the fields read stores the exact size")
}

// TestExpiredButNotPurged checks that an item whose e has passed counts as
// gone although the engine still holds it (the TTL purge runs late).
func TestExpiredButNotPurged(t *testing.T) {
	c, table, s := testStore(t)
	ctx := context.Background()

	key := storetest.NewKey(t)
	past := time.Now().Add(-time.Second).UnixMilli()
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: key},
		"f":  &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"a": &types.AttributeValueMemberB{Value: []byte("1")}}},
		"c":  &types.AttributeValueMemberN{Value: strconv.FormatInt(past-1000, 10)},
		"e":  &types.AttributeValueMemberN{Value: strconv.FormatInt(past, 10)},
	}})
	require.NoError(t, err)

	enginetest.ExpiredLeftover(t, s, key, func(t *testing.T) {
		item := rawItem(t, c, table, key)
		assert.Equal(t, strconv.FormatInt(past, 10), item["e"].(*types.AttributeValueMemberN).Value, "a refused Update writes nothing")
		assert.NotContains(t, item["f"].(*types.AttributeValueMemberM).Value, "b")
	})
}

// TestChangeTooLarge checks that a change beyond DynamoDB's expression
// limit fails cleanly and writes nothing, and that one just within works.
func TestChangeTooLarge(t *testing.T) {
	_, _, s := testStore(t)
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour)}))

	change := func(n int) store.Change {
		c := store.Change{Set: map[string][]byte{}}
		for i := range n {
			c.Set["k"+strconv.Itoa(i)] = []byte{byte(i)}
		}
		return c
	}
	err := update(ctx, s, key, change(1000))
	require.ErrorIs(t, err, dynamostore.ErrChangeTooLarge)
	assert.Contains(t, err.Error(), "dynamostore: update: ")
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Empty(t, got.Fields)

	require.NoError(t, update(ctx, s, key, change(300)))
	got, err = s.Load(ctx, key)
	require.NoError(t, err)
	assert.Len(t, got.Fields, 300)
}

func TestNewValidates(t *testing.T) {
	ctx := context.Background()
	_, err := dynamostore.New(ctx, nil, "sessions")
	assert.ErrorContains(t, err, "dynamostore: new: invalid argument: nil client")
	c := newClient("http://127.0.0.1:1", nil, 1) // never contacted
	for _, name := range []string{"", "ab", "with space", "naïve", strings.Repeat("x", 256)} {
		_, err := dynamostore.New(ctx, c, name, dynamostore.WithoutSetup())
		assert.ErrorContainsf(t, err, "table name", "%q", name)
	}
	s, err := dynamostore.New(ctx, c, "a.B_c-1", dynamostore.WithoutSetup(), nil)
	require.NoError(t, err)
	assert.NotNil(t, s)
}

// TestBadInput checks that arguments the manager never sends are refused
// before any call (the client points at a closed port, so a call would
// give a different error).
func TestBadInput(t *testing.T) {
	s, err := dynamostore.New(context.Background(), newClient("http://127.0.0.1:1", nil, 1), "sessions", dynamostore.WithoutSetup())
	require.NoError(t, err)
	enginetest.RefusesBadInput(t, "dynamostore", s, "", "\xff")
}

// rawItem reads the item for key straight from the table.
func rawItem(t *testing.T, c *dynamodb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, out.Item)
	return out.Item
}

// normalize turns nil binaries into empty ones so items compare by value.
func normalize(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(item))
	for k, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberB:
			if v.Value == nil {
				v = &types.AttributeValueMemberB{Value: []byte{}}
			}
			out[k] = v
		case *types.AttributeValueMemberM:
			out[k] = &types.AttributeValueMemberM{Value: normalize(v.Value)}
		default:
			out[k] = v
		}
	}
	return out
}

// countingHTTP is an HTTP client recording the DynamoDB operation of every
// request it sends (retries included).
type countingHTTP struct {
	next *http.Client
	mu   sync.Mutex
	ops  []string
}

func (c *countingHTTP) Do(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
	return c.next.Do(r)
}

// take returns the operations recorded since the last call.
func (c *countingHTTP) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := c.ops
	c.ops = nil
	return ops
}

// TestRoundTrips counts the API calls of each operation: one each, but a
// read after a failed condition and Move's three steps.
func TestRoundTrips(t *testing.T) {
	counter := &countingHTTP{next: &http.Client{}}
	c := newClient(endpoint(t), counter, 0)
	table := testTable(t, c)
	s := newStore(t, c, table)
	setup := counter.take()
	require.NotEmpty(t, setup)
	t.Logf("New on a missing table: %v", setup)
	ctx := context.Background()

	key := storetest.NewKey(t)
	rec := store.Record{
		Fields:  map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")},
		Created: time.Now(), Expires: time.Now().Add(time.Hour),
	}
	require.NoError(t, s.Create(ctx, key, rec))
	assert.Equal(t, []string{"PutItem"}, counter.take(), "Create")

	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, []string{"GetItem"}, counter.take(), "Load")

	v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("one")}})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	assert.Equal(t, []string{"UpdateItem"}, counter.take(), "Update of one field")

	owner := "user-7"
	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"uid": []byte("7")}, Owner: &owner})
	require.NoError(t, err)
	assert.Equal(t, uint64(3), v)
	assert.Equal(t, []string{"UpdateItem"}, counter.take(), "Update setting the owner")

	v, err = s.Version(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), v)
	assert.Equal(t, []string{"GetItem"}, counter.take(), "Version")

	list, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Equal(t, []string{"Query", "BatchGetItem"}, counter.take(), "Owned")

	big := store.Change{Set: map[string][]byte{}, Remove: []string{"b", "c"}, Expires: time.Now().Add(2 * time.Hour)}
	for i := range 200 {
		big.Set["field-"+strconv.Itoa(i)] = []byte("v")
	}
	require.NoError(t, update(ctx, s, key, big))
	assert.Equal(t, []string{"UpdateItem"}, counter.take(), "Update of 200 fields, 2 removals and the expiry")

	err = update(ctx, s, storetest.NewKey(t), store.Change{Set: map[string][]byte{"a": nil}})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, []string{"UpdateItem", "GetItem"}, counter.take(),
		"Update of a missing session: the failed condition, then a read that tells why")

	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("two")}, Expect: map[string][]byte{"a": []byte("one"), "z": nil}, MaxSize: 4096})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), v)
	assert.Equal(t, []string{"UpdateItem"}, counter.take(), "Update with expectations and a size limit")

	err = update(ctx, s, key, store.Change{Set: map[string][]byte{"a": []byte("3")}, Expect: map[string][]byte{"a": []byte("one")}})
	require.ErrorIs(t, err, store.ErrConflict)
	ops := counter.take()
	require.NotEmpty(t, ops)
	assert.Equal(t, "UpdateItem", ops[0], "Update with a failing expectation")
	assert.LessOrEqual(t, len(ops), 2, "at most a read after the failed condition (engines that send the item back need none): %v", ops)
	t.Logf("Update with a failing expectation: %v", ops)

	to := storetest.NewKey(t)
	moved, err := s.Move(ctx, key, to, store.Change{Set: map[string][]byte{"m": []byte("1")}, Expires: time.Now().Add(time.Hour), MaxSize: 4096})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), moved.Version)
	assert.Equal(t, []string{"UpdateItem", "PutItem", "DeleteItem"}, counter.take(), "Move: mark, put, delete")
	key = to

	require.ErrorIs(t, s.Create(ctx, key, rec), store.ErrExists)
	assert.Equal(t, []string{"PutItem"}, counter.take(), "Create of a live session")

	require.NoError(t, s.Delete(ctx, key))
	assert.Equal(t, []string{"DeleteItem"}, counter.take(), "Delete")
}

// update applies c with s.Update and returns only the error.
func update(ctx context.Context, s store.Store, key string, c store.Change) error {
	_, err := s.Update(ctx, key, c)
	return err
}
