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

// baseCondition is the part of every write condition that does not
// depend on the change.
const baseCondition = "#E > :NOW AND attribute_not_exists(#M) AND #V < :VMAX AND attribute_type(#F, :TM)"

func TestBuildUpdate(t *testing.T) {
	exp := time.UnixMilli(1_700_000_000_001)
	in, err := buildUpdate(store.Change{
		Set:     map[string][]byte{"kept": []byte("1")},
		Remove:  []string{"kept", "b", "b"},
		Expires: exp,
	}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:1,#E=:E,#T=:T,#S=if_not_exists(#S,:BIG)+:DS REMOVE #F.#2 ADD #V :ONE", aws.ToString(in.UpdateExpression),
		"a key both set and removed is only set; repeated removals go once; the size bound grows by the field set")
	assert.Equal(t, baseCondition+" AND (attribute_not_exists(#S) OR #S < :VMAX)", aws.ToString(in.ConditionExpression))
	assert.Equal(t, map[string]string{"#E": "e", "#T": "ttl", "#F": "f", "#V": "v", "#M": "m", "#S": "s", "#0": "kept", "#2": "b"},
		in.ExpressionAttributeNames)
	assert.Equal(t, map[string]types.AttributeValue{
		":NOW":  &types.AttributeValueMemberN{Value: "42"},
		":ONE":  &types.AttributeValueMemberN{Value: "1"},
		":VMAX": &types.AttributeValueMemberN{Value: "1000000000000000000"},
		":TM":   &types.AttributeValueMemberS{Value: "M"},
		":BIG":  &types.AttributeValueMemberN{Value: "1099511627776"},
		":DS":   &types.AttributeValueMemberN{Value: "5"},
		":1":    &types.AttributeValueMemberB{Value: []byte("1")},
		":E":    &types.AttributeValueMemberN{Value: "1700000000001"},
		":T":    &types.AttributeValueMemberN{Value: "1700000001"},
	}, in.ExpressionAttributeValues)
	assert.Equal(t, types.ReturnValueAllOld, in.ReturnValues, "the old item comes back: its version, and a check for damage")
	assert.Equal(t, types.ReturnValuesOnConditionCheckFailureAllOld, in.ReturnValuesOnConditionCheckFailure)

	in, err = buildUpdate(store.Change{}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "ADD #V :ONE", aws.ToString(in.UpdateExpression), "an empty change adds to the version under the condition")
	assert.Equal(t, baseCondition, aws.ToString(in.ConditionExpression))
	assert.Equal(t, map[string]string{"#E": "e", "#F": "f", "#V": "v", "#M": "m"}, in.ExpressionAttributeNames,
		"unused names are refused by DynamoDB")
	assert.Len(t, in.ExpressionAttributeValues, 4, ":NOW, :VMAX, :TM, :ONE")

	in, err = buildUpdate(store.Change{Remove: []string{"x"}}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "REMOVE #F.#0 ADD #V :ONE", aws.ToString(in.UpdateExpression),
		"a removal without expectation may remove nothing: the size bound stays")
	assert.NotContains(t, in.ExpressionAttributeNames, "#T")
	assert.NotContains(t, in.ExpressionAttributeNames, "#O")
	assert.NotContains(t, in.ExpressionAttributeNames, "#S")
}

func TestBuildUpdateOwner(t *testing.T) {
	owner := "user {42}"
	in, err := buildUpdate(store.Change{Set: map[string][]byte{"uid": {1}}, Owner: &owner}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:1,#O=:O,#S=if_not_exists(#S,:BIG)+:DS ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.Equal(t, "o", in.ExpressionAttributeNames["#O"])
	assert.Equal(t, &types.AttributeValueMemberS{Value: owner}, in.ExpressionAttributeValues[":O"])

	none := ""
	in, err = buildUpdate(store.Change{Owner: &none}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "REMOVE #O ADD #V :ONE", aws.ToString(in.UpdateExpression), "clearing the owner removes the attribute")
	assert.NotContains(t, in.ExpressionAttributeValues, ":O")
}

// TestBuildUpdateExpect checks the conditions of Change.Expect, and that
// a field pinned to a value counts exactly in the size bound.
func TestBuildUpdateExpect(t *testing.T) {
	in, err := buildUpdate(store.Change{
		Set:    map[string][]byte{"n": []byte("10")},
		Remove: []string{"old"},
		Expect: map[string][]byte{"n": []byte("9"), "old": []byte("xyz"), "absent": nil, "empty": {}},
	}, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:1,#S=if_not_exists(#S,:BIG)+:DS REMOVE #F.#2 ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.Equal(t, baseCondition+" AND attribute_not_exists(#F.#3) AND attribute_not_exists(#F.#4) AND #F.#0 = :5 AND #F.#2 = :6"+
		" AND (attribute_not_exists(#S) OR #S < :VMAX)", aws.ToString(in.ConditionExpression))
	assert.Equal(t, "absent", in.ExpressionAttributeNames["#3"])
	assert.Equal(t, "empty", in.ExpressionAttributeNames["#4"])
	assert.Equal(t, &types.AttributeValueMemberB{Value: []byte("9")}, in.ExpressionAttributeValues[":5"])
	assert.Equal(t, &types.AttributeValueMemberB{Value: []byte("xyz")}, in.ExpressionAttributeValues[":6"])
	// n: 1+2 set, 1+1 replaced; old: 3+3 removed.
	assert.Equal(t, &types.AttributeValueMemberN{Value: "-5"}, in.ExpressionAttributeValues[":DS"])
}

// TestBuildUpdateSized checks the two ways a size limit is checked: by
// the size attribute, and on an attempt pinned to a version read.
func TestBuildUpdateSized(t *testing.T) {
	c := store.Change{Set: map[string][]byte{"k": []byte("1234")}, MaxSize: 100}
	in, err := buildUpdate(c, guard{now: 42})
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:1,#S=if_not_exists(#S,:BIG)+:DS ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.Equal(t, baseCondition+" AND #S <= :LIM", aws.ToString(in.ConditionExpression))
	assert.Equal(t, &types.AttributeValueMemberN{Value: "95"}, in.ExpressionAttributeValues[":LIM"], "100 - (1+4)")

	pinned := store.Record{Version: 7, Fields: map[string][]byte{"k": []byte("12"), "other": []byte("abc")}}
	in, err = buildUpdate(c, guard{now: 42, pinned: &pinned})
	require.NoError(t, err)
	assert.Equal(t, "SET #F.#0=:1,#S=:S ADD #V :ONE", aws.ToString(in.UpdateExpression))
	assert.Equal(t, baseCondition+" AND #V = :PV", aws.ToString(in.ConditionExpression))
	assert.Equal(t, &types.AttributeValueMemberN{Value: "7"}, in.ExpressionAttributeValues[":PV"])
	assert.Equal(t, &types.AttributeValueMemberN{Value: "13"}, in.ExpressionAttributeValues[":S"], "exact: 1+4 + 5+3")
	assert.NotContains(t, in.ExpressionAttributeValues, ":LIM")
}

func TestBuildMark(t *testing.T) {
	c := store.Change{Set: map[string][]byte{"k": []byte("1234")}, MaxSize: 100, Expect: map[string][]byte{"a": []byte("1")}}
	in, err := buildMark(c, guard{now: 42}, "tok")
	require.NoError(t, err)
	assert.Equal(t, "SET #M=:TOK", aws.ToString(in.UpdateExpression), "the mark writes nothing else")
	assert.Equal(t, baseCondition+" AND #F.#0 = :1 AND #S <= :LIM", aws.ToString(in.ConditionExpression))
	assert.Equal(t, &types.AttributeValueMemberS{Value: "tok"}, in.ExpressionAttributeValues[":TOK"])
	assert.Equal(t, types.ReturnValueAllNew, in.ReturnValues)

	_, err = buildMark(store.Change{Expect: map[string][]byte{"": nil}}, guard{}, "tok")
	require.ErrorIs(t, err, store.ErrInvalid)
}

func TestSizeBound(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    store.Change
		want int64
	}{
		{"nothing", store.Change{}, 0},
		{"set", store.Change{Set: map[string][]byte{"ab": []byte("123")}}, 5},
		{"replace unknown", store.Change{Set: map[string][]byte{"ab": []byte("1")}, Remove: []string{"ab"}}, 3},
		{"replace known", store.Change{Set: map[string][]byte{"ab": []byte("1")}, Expect: map[string][]byte{"ab": []byte("12345")}}, -4},
		{"set where absent", store.Change{Set: map[string][]byte{"ab": []byte("1")}, Expect: map[string][]byte{"ab": nil}}, 3},
		{"remove known twice", store.Change{Remove: []string{"x", "x"}, Expect: map[string][]byte{"x": []byte("12")}}, -3},
		{"remove unknown", store.Change{Remove: []string{"x"}}, 0},
	} {
		assert.Equal(t, tc.want, sizeBound(tc.c), tc.name)
	}
}

// TestBuildUpdateNoCollision checks that generated placeholders never
// meet the fixed ones, whatever the number of fields.
func TestBuildUpdateNoCollision(t *testing.T) {
	set := map[string][]byte{}
	for i := range 300 {
		set["k"+strconv.Itoa(i)] = []byte{byte(i)}
	}
	in, err := buildUpdate(store.Change{Set: set, Expires: time.UnixMilli(5000)}, guard{now: 7})
	require.NoError(t, err)
	assert.Len(t, in.ExpressionAttributeNames, 300+6, "#E, #F, #M, #S, #T, #V and one per field")
	assert.Len(t, in.ExpressionAttributeValues, 300+8, ":NOW, :ONE, :VMAX, :TM, :BIG, :DS, :E, :T and one per field")
	assert.Equal(t, "e", in.ExpressionAttributeNames["#E"])
	assert.Equal(t, &types.AttributeValueMemberN{Value: "7"}, in.ExpressionAttributeValues[":NOW"])
	got := map[string]bool{}
	for name, k := range in.ExpressionAttributeNames {
		if !strings.HasPrefix(k, "k") {
			continue
		}
		got[k] = true
		id, err := strconv.ParseInt(name[1:], 36, 64)
		require.NoError(t, err, name)
		assert.Equal(t, &types.AttributeValueMemberB{Value: set[k]}, in.ExpressionAttributeValues[":"+strconv.FormatInt(id+1, 36)], k)
	}
	assert.Len(t, got, 300)
}

func TestBuildUpdateTooLarge(t *testing.T) {
	set := map[string][]byte{}
	for i := range 400 {
		set[strings.Repeat("k", i%128+1)+string(rune('a'+i%26))+string(rune('0'+i/26))] = nil
	}
	_, err := buildUpdate(store.Change{Set: set}, guard{})
	require.ErrorIs(t, err, ErrChangeTooLarge)

	small := map[string][]byte{}
	for k := range set {
		if len(small) == 300 {
			break
		}
		small[k] = nil
	}
	in, err := buildUpdate(store.Change{Set: small, Expires: time.Now()}, guard{})
	require.NoError(t, err, "300 fields fit whatever their names: names travel outside the expression")
	assert.LessOrEqual(t, len(aws.ToString(in.UpdateExpression)), maxExpression)

	_, err = buildUpdate(store.Change{Expect: small}, guard{})
	require.ErrorIs(t, err, ErrChangeTooLarge, "300 expectations overflow the condition")
	_, err = buildMark(store.Change{Expect: small}, guard{}, "tok")
	require.ErrorIs(t, err, ErrChangeTooLarge)
}

func TestTTLSeconds(t *testing.T) {
	assert.Equal(t, int64(2), ttlSeconds(2000))
	assert.Equal(t, int64(3), ttlSeconds(2001))
	assert.Equal(t, int64(3), ttlSeconds(2999))
}

func TestPlusOne(t *testing.T) {
	for in, want := range map[string]string{
		"1": "2", "41": "42", "1.5": "2.5", "-3": "-2", "0.25": "1.25", "1E3": "1001", "-0.5": "0.5", "-1.125": "-0.125",
	} {
		got, ok := plusOne(in)
		require.Truef(t, ok, "%s", in)
		assert.Equalf(t, want, got, "%s + 1", in)
	}
	_, ok := plusOne("abc")
	assert.False(t, ok)
}
