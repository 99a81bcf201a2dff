package dynamostore

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// maxExpression is DynamoDB's limit on the length of one expression.
const maxExpression = 4096

// guard is what one attempt of a conditional write (an Update, or the
// first step of a Move) knows of the session.
type guard struct {
	// now is the caller's clock, Unix ms: the session must expire after it.
	now int64
	// pinned is a record read from the engine: when not nil, the write is
	// conditioned on its version, and the size limit was checked against
	// its fields in Go (store.Change.Check), so the write stores the
	// exact size after the change. When nil, the limit is checked in the
	// condition against the size attribute (see sizeBound).
	pinned *store.Record
}

// sized reports whether c's size limit applies: only a change that sets
// fields can grow a session.
func sized(c store.Change) bool {
	return c.MaxSize > 0 && len(c.Set) > 0
}

// sizeBound returns an upper bound of how much applying c changes the
// session's size: the sizes of the fields set, less the sizes of the
// fields c replaces or removes that its Expect pins to a value (the
// condition makes them certain). A field replaced or removed without an
// expectation might be absent, so it is not subtracted: the size
// attribute, moved by this bound, stays at or above the session's size.
func sizeBound(c store.Change) int64 {
	var d int64
	seen := make(map[string]bool, len(c.Set)+len(c.Remove))
	known := func(k string) {
		if seen[k] {
			return
		}
		seen[k] = true
		if want := c.Expect[k]; len(want) > 0 {
			d -= int64(len(k) + len(want))
		}
	}
	for k, v := range c.Set {
		d += int64(len(k) + len(v))
		known(k)
	}
	for _, k := range c.Remove {
		known(k)
	}
	return d
}

// checkChange refuses field keys the manager never sends, in every part
// of c.
func checkChange(c store.Change) error {
	for k := range c.Set {
		if err := checkField(k); err != nil {
			return err
		}
	}
	for _, k := range c.Remove {
		if err := checkField(k); err != nil {
			return err
		}
	}
	for k := range c.Expect {
		if err := checkField(k); err != nil {
			return err
		}
	}
	return nil
}

// builder collects the placeholders of one request's expressions. Field
// keys go through attribute names (#0, #1, ... in base 36, lower case;
// one per key however often it is named) and values through :0, :1,
// ..., which keeps expressions short and lets keys hold any character;
// the fixed names and values are upper case (#E, :NOW) so the two never
// collide. Only names and values in use are registered: DynamoDB refuses
// unused ones.
type builder struct {
	names  map[string]string
	values map[string]types.AttributeValue
	paths  map[string]string // field key -> its document path (#F.#id)
	n      int
}

func newBuilder() *builder {
	return &builder{names: map[string]string{}, values: map[string]types.AttributeValue{}, paths: map[string]string{}}
}

// next returns a fresh placeholder id.
func (b *builder) next() string {
	id := strconv.FormatInt(int64(b.n), 36)
	b.n++
	return id
}

// name registers the fixed name placeholder ph for attr and returns ph.
func (b *builder) name(ph, attr string) string {
	b.names[ph] = attr
	return ph
}

// fixed registers the fixed value placeholder ph for v and returns ph.
func (b *builder) fixed(ph string, v types.AttributeValue) string {
	b.values[ph] = v
	return ph
}

// field returns the document path of the field key k.
func (b *builder) field(k string) string {
	if p, ok := b.paths[k]; ok {
		return p
	}
	id := "#" + b.next()
	b.names[id] = k
	p := b.name("#F", attrFields) + "." + id
	b.paths[k] = p
	return p
}

// value registers v under a fresh placeholder and returns it.
func (b *builder) value(v types.AttributeValue) string {
	ph := ":" + b.next()
	b.values[ph] = v
	return ph
}

// condition returns the condition of a write of c: the session is live
// at g.now (which also requires e to be a number), no Move holds it,
// its version is a number below maxNumber and its fields a map (so the
// update cannot fail on a damaged item), c's expectations hold, and its
// size limit holds: by the size attribute (when g.pinned is nil) or by
// the version read (else). arith tells that the update adds to the size
// attribute, which must then be absent or a number.
func (b *builder) condition(c store.Change, g guard, arith bool) string {
	parts := []string{
		b.name("#E", attrExpires) + " > " + b.fixed(":NOW", number(g.now)),
		"attribute_not_exists(" + b.name("#M", attrMoving) + ")",
		b.name("#V", attrVersion) + " < " + b.fixed(":VMAX", number(maxNumber)),
		"attribute_type(" + b.name("#F", attrFields) + ", " + b.fixed(":TM", text("M")) + ")",
	}
	if g.pinned != nil {
		parts = append(parts, "#V = "+b.fixed(":PV", number(int64(g.pinned.Version))))
	}
	for _, k := range sortedKeys(c.Expect) {
		if want := c.Expect[k]; len(want) == 0 {
			parts = append(parts, "attribute_not_exists("+b.field(k)+")")
		} else {
			parts = append(parts, b.field(k)+" = "+b.value(binary(want)))
		}
	}
	switch {
	case sized(c) && g.pinned == nil:
		lim := int64(c.MaxSize) - sizeBound(c)
		parts = append(parts, b.name("#S", attrSize)+" <= "+b.fixed(":LIM", number(lim)))
	case arith:
		parts = append(parts, "(attribute_not_exists("+b.name("#S", attrSize)+") OR #S < :VMAX)")
	}
	return strings.Join(parts, " AND ")
}

// buildUpdate returns the UpdateItem input (without table and key) that
// applies c and adds 1 to the version under b.condition, and asks for
// the whole item as it was, both on success (ReturnValues ALL_OLD: its
// version plus 1 is the new one, and it is checked for damage) and on a
// failed condition (ReturnValuesOnConditionCheckFailure ALL_OLD, where
// the engine supports it), which tells why.
//
// A key both set and removed is only set (Set wins, as store.Change
// documents; DynamoDB refuses overlapping paths in one expression
// anyway), and repeated removals are sent once. An owner is set with SET
// o = :O and cleared with REMOVE o, which also drops the item from the
// owner index. The size attribute moves by sizeBound (when not zero),
// or, on a pinned attempt, is set to the exact size after the change.
// An empty change only adds to the version: one conditional write that
// reports ErrNotFound on a missing session.
func buildUpdate(c store.Change, g guard) (*dynamodb.UpdateItemInput, error) {
	if err := checkChange(c); err != nil {
		return nil, err
	}
	b := newBuilder()
	var set, rem []string
	for _, k := range sortedKeys(c.Set) {
		set = append(set, b.field(k)+"="+b.value(binary(c.Set[k])))
	}
	removed := make(map[string]bool, len(c.Remove))
	for _, k := range c.Remove {
		if _, isSet := c.Set[k]; isSet || removed[k] {
			continue
		}
		removed[k] = true
		rem = append(rem, b.field(k))
	}
	if !c.Expires.IsZero() {
		e := c.Expires.UnixMilli()
		set = append(set, b.name("#E", attrExpires)+"="+b.fixed(":E", number(e)), b.name("#T", attrTTL)+"="+b.fixed(":T", number(ttlSeconds(e))))
	}
	if c.Owner != nil {
		if *c.Owner == "" {
			rem = append(rem, b.name("#O", attrOwner))
		} else {
			set = append(set, b.name("#O", attrOwner)+"="+b.fixed(":O", text(*c.Owner)))
		}
	}
	arith := false
	if g.pinned != nil {
		exact := store.Size(c.Apply(g.pinned.Fields))
		set = append(set, b.name("#S", attrSize)+"="+b.fixed(":S", number(int64(exact))))
	} else if d := sizeBound(c); d != 0 {
		arith = true
		set = append(set, b.name("#S", attrSize)+"=if_not_exists(#S,"+b.fixed(":BIG", number(unknownSize))+")+"+b.fixed(":DS", number(d)))
	}

	var expr strings.Builder
	if len(set) > 0 {
		expr.WriteString("SET " + strings.Join(set, ",") + " ")
	}
	if len(rem) > 0 {
		expr.WriteString("REMOVE " + strings.Join(rem, ",") + " ")
	}
	expr.WriteString("ADD " + b.name("#V", attrVersion) + " " + b.fixed(":ONE", number(1)))
	cond := b.condition(c, g, arith)
	if err := checkLength(c, expr.String(), cond); err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemInput{
		UpdateExpression:                    aws.String(expr.String()),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            b.names,
		ExpressionAttributeValues:           b.values,
		ReturnValues:                        types.ReturnValueAllOld,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// buildMark returns the UpdateItem input (without table and key) of a
// Move's first step: it marks the session with token under the
// conditions of an Update of c (see builder.condition), writes nothing
// else, and asks for the whole item as it is then (ALL_NEW).
func buildMark(c store.Change, g guard, token string) (*dynamodb.UpdateItemInput, error) {
	if err := checkChange(c); err != nil {
		return nil, err
	}
	b := newBuilder()
	expr := "SET " + b.name("#M", attrMoving) + "=" + b.fixed(":TOK", text(token))
	cond := b.condition(c, g, false)
	if err := checkLength(c, expr, cond); err != nil {
		return nil, err
	}
	return &dynamodb.UpdateItemInput{
		UpdateExpression:                    aws.String(expr),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            b.names,
		ExpressionAttributeValues:           b.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}, nil
}

// checkLength refuses expressions over DynamoDB's limit.
func checkLength(c store.Change, update, cond string) error {
	if len(update) > maxExpression || len(cond) > maxExpression {
		return fmt.Errorf("%w: %d fields set, %d removed and %d expected need a %d-byte update and a %d-byte condition expression (limit %d each)",
			ErrChangeTooLarge, len(c.Set), len(c.Remove), len(c.Expect), len(update), len(cond), maxExpression)
	}
	return nil
}

// sortedKeys returns the keys of m in order, so that expressions do not
// depend on map iteration.
func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
