package dynamostore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// maxExpression is DynamoDB's limit on the length of one expression.
const maxExpression = 4096

// updateCondition lets an UpdateItem through only on a live session.
const updateCondition = "attribute_exists(#ID) AND #E > :NOW"

// buildUpdate returns the UpdateItem input (without table and key) that
// applies c and adds 1 to the version, conditioned on the session being
// live at now (Unix ms), and asks for the new version back (UPDATED_NEW).
//
// Field keys go through expression attribute names (#0, #1, ... in base
// 36, lower case) and values through :0, :1, ..., which keeps the
// expression short and lets keys hold any character; the fixed names and
// values are upper case (#E, :NOW) so the two never collide. A key both
// set and removed is only set (Set wins, as store.Change documents;
// DynamoDB refuses overlapping paths in one expression anyway), and
// repeated removals are sent once. An owner is set with SET o = :O and
// cleared with REMOVE o, which also drops the item from the owner index.
// An empty change only adds to the version: one conditional write that
// reports ErrNotFound on a missing session.
func buildUpdate(c store.Change, now int64) (*dynamodb.UpdateItemInput, error) {
	names := map[string]string{"#ID": attrID, "#E": attrExpires, "#V": attrVersion}
	values := map[string]types.AttributeValue{":NOW": number(now), ":ONE": number(1)}

	removed := make(map[string]bool, len(c.Remove))
	var remove []string
	for _, k := range c.Remove {
		if err := checkField(k); err != nil {
			return nil, err
		}
		if _, set := c.Set[k]; set {
			continue
		}
		if !removed[k] {
			removed[k] = true
			remove = append(remove, k)
		}
	}

	var set, rem []string
	n := 0
	next := func() string {
		id := strconv.FormatInt(int64(n), 36)
		n++
		return id
	}
	for k, v := range c.Set {
		if err := checkField(k); err != nil {
			return nil, err
		}
		id := next()
		names["#"+id] = k
		values[":"+id] = binary(v)
		set = append(set, "#F.#"+id+"=:"+id)
	}
	for _, k := range remove {
		id := next()
		names["#"+id] = k
		rem = append(rem, "#F.#"+id)
	}
	if len(set) > 0 || len(rem) > 0 {
		names["#F"] = attrFields
	}
	if !c.Expires.IsZero() {
		e := c.Expires.UnixMilli()
		names["#T"] = attrTTL
		values[":E"] = number(e)
		values[":T"] = number(ttlSeconds(e))
		set = append(set, "#E=:E", "#T=:T")
	}
	if c.Owner != nil {
		names["#O"] = attrOwner
		if *c.Owner == "" {
			rem = append(rem, "#O")
		} else {
			values[":O"] = &types.AttributeValueMemberS{Value: *c.Owner}
			set = append(set, "#O=:O")
		}
	}

	var expr strings.Builder
	if len(set) > 0 {
		expr.WriteString("SET ")
		expr.WriteString(strings.Join(set, ","))
	}
	if len(rem) > 0 {
		if expr.Len() > 0 {
			expr.WriteByte(' ')
		}
		expr.WriteString("REMOVE ")
		expr.WriteString(strings.Join(rem, ","))
	}
	if expr.Len() > 0 {
		expr.WriteByte(' ')
	}
	expr.WriteString("ADD #V :ONE")
	if expr.Len() > maxExpression {
		return nil, fmt.Errorf("%w: %d fields set and %d removed need a %d-byte expression (limit %d)",
			ErrChangeTooLarge, len(c.Set), len(remove), expr.Len(), maxExpression)
	}
	return &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String(expr.String()),
		ConditionExpression:       aws.String(updateCondition),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ReturnValues:              types.ReturnValueUpdatedNew,
	}, nil
}
