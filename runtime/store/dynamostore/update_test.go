package dynamostore

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

func TestBuildUpdate(t *testing.T) {
	exp := time.UnixMilli(1_700_000_000_001)
	in, err := buildUpdate(store.Change{
		Set:     map[string][]byte{"kept": []byte("1")},
		Remove:  []string{"kept", "b", "b"},
		Expires: exp,
	}, 42)
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:0,#E=:E,#T=:T REMOVE #F.#1 ADD #V :ONE", aws.ToString(in.UpdateExpression),
		"a key both set and removed is only set; repeated removals go once")
	assert.Equal(t, updateCondition, aws.ToString(in.ConditionExpression))
	assert.Equal(t, map[string]string{"#ID": "id", "#E": "e", "#T": "ttl", "#F": "f", "#V": "v", "#0": "kept", "#1": "b"},
		in.ExpressionAttributeNames)
	assert.Equal(t, map[string]types.AttributeValue{
		":NOW": &types.AttributeValueMemberN{Value: "42"},
		":ONE": &types.AttributeValueMemberN{Value: "1"},
		":0":   &types.AttributeValueMemberB{Value: []byte("1")},
		":E":   &types.AttributeValueMemberN{Value: "1700000000001"},
		":T":   &types.AttributeValueMemberN{Value: "1700000001"},
	}, in.ExpressionAttributeValues)
	assert.Equal(t, types.ReturnValueUpdatedNew, in.ReturnValues, "the new version comes back")

	in, err = buildUpdate(store.Change{}, 42)
	require.NoError(t, err)
	assert.Equal(t, "ADD #V :ONE", aws.ToString(in.UpdateExpression), "an empty change adds to the version under the condition")
	assert.NotContains(t, in.ExpressionAttributeNames, "#F", "unused names are refused by DynamoDB")

	in, err = buildUpdate(store.Change{Remove: []string{"x"}}, 42)
	require.NoError(t, err)
	assert.Equal(t, "REMOVE #F.#0 ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.NotContains(t, in.ExpressionAttributeNames, "#T")
	assert.NotContains(t, in.ExpressionAttributeNames, "#O")
}

func TestBuildUpdateOwner(t *testing.T) {
	owner := "user {42}"
	in, err := buildUpdate(store.Change{Set: map[string][]byte{"uid": {1}}, Owner: &owner}, 42)
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:0,#O=:O ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.Equal(t, "o", in.ExpressionAttributeNames["#O"])
	assert.Equal(t, &types.AttributeValueMemberS{Value: owner}, in.ExpressionAttributeValues[":O"])

	none := ""
	in, err = buildUpdate(store.Change{Owner: &none}, 42)
	require.NoError(t, err)
	assert.Equal(t, "REMOVE #O ADD #V :ONE", aws.ToString(in.UpdateExpression), "clearing the owner removes the attribute")
	assert.NotContains(t, in.ExpressionAttributeValues, ":O")
}

// TestBuildUpdateNoCollision checks that generated placeholders never
// meet the fixed ones, whatever the number of fields.
func TestBuildUpdateNoCollision(t *testing.T) {
	set := map[string][]byte{}
	for i := range 300 {
		set["k"+strconv.Itoa(i)] = []byte{byte(i)}
	}
	in, err := buildUpdate(store.Change{Set: set, Expires: time.UnixMilli(5000)}, 7)
	require.NoError(t, err)
	assert.Len(t, in.ExpressionAttributeNames, 300+5, "#ID, #E, #F, #T, #V and one per field")
	assert.Len(t, in.ExpressionAttributeValues, 300+4, ":NOW, :ONE, :E, :T and one per field")
	assert.Equal(t, "e", in.ExpressionAttributeNames["#E"])
	assert.Equal(t, &types.AttributeValueMemberN{Value: "7"}, in.ExpressionAttributeValues[":NOW"])
	got := map[string]bool{}
	for name, k := range in.ExpressionAttributeNames {
		if strings.HasPrefix(k, "k") {
			got[k] = true
			assert.Equal(t, &types.AttributeValueMemberB{Value: set[k]}, in.ExpressionAttributeValues[":"+name[1:]], k)
		}
	}
	assert.Len(t, got, 300)
}

func TestBuildUpdateTooLarge(t *testing.T) {
	set := map[string][]byte{}
	for i := range 400 {
		set[strings.Repeat("k", i%128+1)+string(rune('a'+i%26))+string(rune('0'+i/26))] = nil
	}
	_, err := buildUpdate(store.Change{Set: set}, 0)
	require.ErrorIs(t, err, ErrChangeTooLarge)

	small := map[string][]byte{}
	for k := range set {
		if len(small) == 300 {
			break
		}
		small[k] = nil
	}
	in, err := buildUpdate(store.Change{Set: small, Expires: time.Now()}, 0)
	require.NoError(t, err, "300 fields fit whatever their names: names travel outside the expression")
	assert.LessOrEqual(t, len(aws.ToString(in.UpdateExpression)), maxExpression)
}

func TestTTLSeconds(t *testing.T) {
	assert.Equal(t, int64(2), ttlSeconds(2000))
	assert.Equal(t, int64(3), ttlSeconds(2001))
	assert.Equal(t, int64(3), ttlSeconds(2999))
}
