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
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

func TestOwnerIndex(t *testing.T) {
	_, _, s := testStore(t)
	storetest.RunOwnerIndex(t, func(t *testing.T) store.Store { return s })
}

func TestVersioner(t *testing.T) {
	_, _, s := testStore(t)
	storetest.RunVersioner(t, func(t *testing.T) store.Store { return s })
}

// TestIndexBounded counts the entries of the index "owner" with a Query
// (Select COUNT): DynamoDB drops an item's entry with the item, and Owned
// deletes the expired items it meets (dynalite has no TTL purge).
func TestIndexBounded(t *testing.T) {
	c, table, s := testStore(t)
	storetest.IndexBounded(t, s, func(owner string) int {
		return indexCount(t, c, table, owner)
	})
}

// indexCount returns how many entries the index "owner" of table holds
// for owner, stale ones included.
func indexCount(t *testing.T, c *dynamodb.Client, table, owner string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewQueryPaginator(c, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String("owner"),
		KeyConditionExpression:    aws.String("o = :o"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: owner}},
		Select:                    types.SelectCount,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(t, err)
		n += int(page.Count)
	}
	return n
}

// TestOwnedDeletesExpired checks that Owned deletes the expired items it
// meets, and only those: an item written again meanwhile stays.
func TestOwnedDeletesExpired(t *testing.T) {
	c, table, s := testStore(t)
	ctx := context.Background()
	const owner = "expired-owner"
	past := time.Now().Add(-time.Second).UnixMilli()
	expired := storetest.NewKey(t)
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
		"id": &types.AttributeValueMemberS{Value: expired},
		"c":  &types.AttributeValueMemberN{Value: strconv.FormatInt(past-1000, 10)},
		"e":  &types.AttributeValueMemberN{Value: strconv.FormatInt(past, 10)},
		"v":  &types.AttributeValueMemberN{Value: "1"},
		"o":  &types.AttributeValueMemberS{Value: owner},
	}})
	require.NoError(t, err)
	live := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, live, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner}))
	require.Equal(t, 2, indexCount(t, c, table, owner))

	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	assert.Equal(t, live, owned[0].Key)
	assert.Equal(t, 1, indexCount(t, c, table, owner), "the expired item and its entry are gone")
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: expired}}})
	require.NoError(t, err)
	assert.Empty(t, out.Item)
}

// TestNoOwnerIndex checks that New refuses an existing table without the
// index "owner", with an error wrapping ErrNoOwnerIndex, and that
// WithoutSetup skips the check.
func TestNoOwnerIndex(t *testing.T) {
	c := newClient(endpoint(t), nil, 0)
	table := testTable(t, c)
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	require.NoError(t, err)
	_, err = dynamostore.New(ctx, c, table)
	require.ErrorIs(t, err, dynamostore.ErrNoOwnerIndex)
	assert.Contains(t, err.Error(), "dynamostore: new: ")
	assert.Contains(t, err.Error(), table)

	require.NoError(t, dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 30*time.Second))
	s, err := dynamostore.New(ctx, c, table, dynamostore.WithoutSetup())
	require.NoError(t, err)
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, store.Record{Created: time.Now(), Expires: time.Now().Add(time.Minute), Owner: "x"}))
	_, err = s.Owned(ctx, "x")
	require.Error(t, err, "Owned needs the index")
	assert.Contains(t, err.Error(), "dynamostore: owned: ")
}

// TestOwnerIndexWrongKey checks that New refuses an index "owner" keyed
// otherwise.
func TestOwnerIndexWrongKey(t *testing.T) {
	c := newClient(endpoint(t), nil, 0)
	table := testTable(t, c)
	ctx := context.Background()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("o"), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("owner"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("o"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	require.NoError(t, err)
	_, err = dynamostore.New(ctx, c, table)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `index "owner" must have exactly one key, the string partition key "o"`)
}

// Compile-time check that the Store offers the optional capabilities.
var (
	_ store.Versioner  = (*dynamostore.Store)(nil)
	_ store.OwnerIndex = (*dynamostore.Store)(nil)
)
