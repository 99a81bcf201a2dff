package main

import (
	"cmp"
	"errors"
	"fmt"
	"go/types"
	"reflect"
	"strings"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// kind classifies a supported type by how it is encoded.
type kind int

const (
	kindBool      kind = iota + 1 // bool
	kindInt                       // int, int8..int64 (and time.Duration)
	kindUint                      // uint, uint8..uint64
	kindFloat32                   // float32
	kindFloat64                   // float64
	kindString                    // string
	kindBytes                     // []byte: msgpack bin
	kindTime                      // time.Time: msgpack timestamp
	kindByteArray                 // [N]byte: msgpack bin of N bytes
	kindArray                     // [N]T: msgpack array
	kindSlice                     // []T: msgpack array
	kindMap                       // map[K]V: msgpack map
	kindStruct                    // struct: msgpack map of field name to value
	kindOpaque                    // a type with msgpack (or binary/text) marshaling methods
)

// hot reports whether values of the kind are encoded and decoded by package
// codec, without reflection.
func (k kind) hot() bool { return k >= kindBool && k <= kindTime }

// typeInfo describes a supported type: how it is encoded and its
// worst-case encoded size.
type typeInfo struct {
	// T is the type as written (possibly a named type).
	T types.Type
	// Kind says how T is encoded.
	Kind kind
	// Bits is the size of an integer kind: 8, 16, 32 or 64, or 0 for int
	// and uint (whose size is the platform's).
	Bits int
	// Max is the declared bound: bytes of a string or []byte, elements of
	// a slice or map, encoded bytes of an opaque type.
	Max int
	// Len is the length of an array.
	Len int
	// Elem is the element type of an array, slice or map.
	Elem *typeInfo
	// Key is the key type of a map.
	Key *typeInfo
	// Fields are the stored fields of a struct, in order.
	Fields []*nestedField
	// Size is the worst-case encoded size in bytes (saturating at sizeCap).
	Size int
	// Path names the type's place in its field, e.g. "Cart[i]", for
	// messages.
	Path string
	// Opt is the tag option that declared Max ("max", "elem", "keymax").
	Opt string
}

// nestedField is a field of a nested struct as msgpack stores it.
type nestedField struct {
	// Name is the Go field name.
	Name string
	// Wire is the name msgpack writes (the msgpack tag's name or Name).
	Wire string
	// Info describes the field's type.
	Info *typeInfo
}

// sizeCap caps worst-case sizes so that absurd bounds cannot overflow.
const sizeCap = 1 << 50

func addSize(a, b int) int { return min(a+b, sizeCap) }

func mulSize(n, size int) int {
	if n != 0 && size > sizeCap/n {
		return sizeCap
	}
	return min(n*size, sizeCap)
}

// analyzer checks field types and computes their worst-case sizes.
type analyzer struct {
	// visiting holds the named struct types being analyzed, to reject
	// recursive types.
	visiting map[*types.Named]bool
}

// level describes where in a field's type the analyzer is, for messages
// and for telling which tag option bounds that level.
type level struct {
	// path names the position, e.g. "Cart", "Cart[i]", "Prefs.Theme".
	path string
	// top is set for the field itself, whose position already names it.
	top bool
	// opt is the tag option that bounds this level ("max", "elem",
	// "keymax"), or "" when no option can reach it.
	opt string
	// owner names the field whose session tag holds opt: "" for a field
	// of the session struct, the path of a nested struct's field otherwise.
	owner string
	// tag is the value of the owner's session tag.
	tag string
}

// errf returns an error about the level.
func (l level) errf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if l.top {
		return errors.New(msg)
	}
	return fmt.Errorf("%s: %s", l.path, msg)
}

// suggest returns where to add opt=N, and the tag with it added.
func (l level) suggest() string {
	where := "its tag"
	if l.owner != "" {
		where = "the tag of " + l.owner
	}
	return fmt.Sprintf("%s: `session:\"%s,%s=N\"`", where, l.tag, l.opt)
}

// needBound returns the error for a variable-size type without a bound.
func (l level) needBound(t types.Type, what string) error {
	if l.opt == "" {
		return l.errf("%s has no bound on its %s, and no tag option reaches it (element bounds go one level deep): use a struct type whose fields carry their own `session:\",max=N\"` bounds", typeString(t), what)
	}
	return l.errf("%s has no bound on its %s: add %s=N to %s", typeString(t), what, l.opt, l.suggest())
}

// child returns the level of a component of this level.
func (l level) child(path, opt string) level {
	return level{path: path, opt: opt, owner: l.owner, tag: l.tag}
}

// analyze checks that t can be stored under the bounds b and returns its
// description.
func (a *analyzer) analyze(t types.Type, b bounds, at level) (*typeInfo, error) {
	t = types.Unalias(t)
	ti := &typeInfo{T: t, Path: at.path, Opt: at.opt}
	if isTime(t) {
		ti.Kind, ti.Size = kindTime, codec.MaxTime
		return ti, noBounds(b, t, at)
	}
	if n, ok := t.(*types.Named); ok {
		if n.TypeParams().Len() > 0 && n.TypeArgs().Len() == 0 {
			return nil, at.errf("generic type %s is not supported", typeString(t))
		}
		enc, dec := marshalMethods(t)
		switch {
		case enc != "" && dec == "":
			return nil, at.errf("type %s has msgpack encoding method %s but no decoding method (DecodeMsgpack, UnmarshalMsgpack, UnmarshalBinary or UnmarshalText)", typeString(t), enc)
		case enc != "":
			if b.Elem != nil || b.KeyMax != nil {
				return nil, at.errf("elem= and keymax= do not apply to %s, which encodes itself (%s): bound its encoded size with max=N", typeString(t), enc)
			}
			if b.Max == nil {
				if at.opt == "" {
					return nil, at.errf("type %s encodes itself (%s) and cannot be bounded here: use it where a max= or elem= option reaches it", typeString(t), enc)
				}
				return nil, at.errf("type %s encodes itself (%s): bound its encoded size with %s=N in %s", typeString(t), enc, at.opt, at.suggest())
			}
			ti.Kind, ti.Max, ti.Size = kindOpaque, *b.Max, *b.Max
			return ti, nil
		}
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		return ti, a.basic(ti, u, b, at)
	case *types.Slice:
		if isNamedByte(u.Elem()) {
			return nil, at.errf("%s: %v", typeString(t), errNamedByte)
		}
		if isByte(u.Elem()) {
			if b.Elem != nil || b.KeyMax != nil {
				return nil, at.errf("elem= and keymax= do not apply to %s: max=N bounds its bytes", typeString(t))
			}
			if b.Max == nil {
				return nil, at.needBound(t, "length in bytes")
			}
			ti.Kind, ti.Max, ti.Size = kindBytes, *b.Max, codec.BytesSize(*b.Max)
			return ti, nil
		}
		if b.KeyMax != nil {
			return nil, at.errf("keymax= applies to maps, not to %s", typeString(t))
		}
		if b.Max == nil {
			return nil, at.needBound(t, "number of elements")
		}
		elem, err := a.analyze(u.Elem(), bounds{Max: b.Elem}, at.child(at.path+"[i]", elemOpt(at)))
		if err != nil {
			return nil, err
		}
		ti.Kind, ti.Max, ti.Elem = kindSlice, *b.Max, elem
		ti.Size = addSize(codec.ArrayHeaderSize(*b.Max), mulSize(*b.Max, elem.Size))
		return ti, nil
	case *types.Array:
		if u.Len() > maxBound {
			return nil, at.errf("array type %s is too long", typeString(t))
		}
		ti.Len = int(u.Len())
		if isNamedByte(u.Elem()) {
			return nil, at.errf("%s: %v", typeString(t), errNamedByte)
		}
		if isByte(u.Elem()) {
			ti.Kind, ti.Size = kindByteArray, codec.BytesSize(ti.Len)
			return ti, noBounds(b, t, at)
		}
		if b.Max != nil || b.KeyMax != nil {
			return nil, at.errf("max= and keymax= do not apply to array type %s (its length is fixed): bound its elements with elem=N", typeString(t))
		}
		elem, err := a.analyze(u.Elem(), bounds{Max: b.Elem}, at.child(at.path+"[i]", elemOpt(at)))
		if err != nil {
			return nil, err
		}
		ti.Kind, ti.Elem = kindArray, elem
		ti.Size = addSize(codec.ArrayHeaderSize(ti.Len), mulSize(ti.Len, elem.Size))
		return ti, nil
	case *types.Map:
		if b.Max == nil {
			return nil, at.needBound(t, "number of entries")
		}
		key, err := a.analyze(u.Key(), bounds{Max: b.KeyMax}, at.child("key of "+at.path, keyOpt(at)))
		if err != nil {
			return nil, err
		}
		if k := key.Kind; k != kindString && k != kindInt && k != kindUint {
			return nil, at.errf("map key type %s is not supported: want a string or integer type", typeString(u.Key()))
		}
		elem, err := a.analyze(u.Elem(), bounds{Max: b.Elem}, at.child(at.path+"[k]", elemOpt(at)))
		if err != nil {
			return nil, err
		}
		ti.Kind, ti.Max, ti.Key, ti.Elem = kindMap, *b.Max, key, elem
		ti.Size = addSize(codec.MapHeaderSize(*b.Max), mulSize(*b.Max, addSize(key.Size, elem.Size)))
		return ti, nil
	case *types.Struct:
		if err := noBounds(b, t, at); err != nil {
			return nil, err
		}
		return ti, a.structType(ti, u, at)
	case *types.Pointer:
		return nil, at.errf("pointer type %s is not supported: store the value type", typeString(t))
	case *types.Interface:
		return nil, at.errf("interface type %s is not supported: a stored value needs a concrete type", typeString(t))
	case *types.Chan:
		return nil, at.errf("channel type %s cannot be stored in a session", typeString(t))
	case *types.Signature:
		return nil, at.errf("function type %s cannot be stored in a session", typeString(t))
	case *types.TypeParam:
		return nil, at.errf("type parameter %s is not supported", typeString(t))
	}
	return nil, at.errf("type %s is not supported", typeString(t))
}

// elemOpt returns the option that bounds the elements of a container at
// level at: elem= when at is bounded by max=, nothing deeper.
func elemOpt(at level) string {
	if at.opt == "max" {
		return "elem"
	}
	return ""
}

// keyOpt returns the option that bounds the keys of a map at level at.
func keyOpt(at level) string {
	if at.opt == "max" {
		return "keymax"
	}
	return ""
}

// basic fills ti for a basic type.
func (a *analyzer) basic(ti *typeInfo, u *types.Basic, b bounds, at level) error {
	t := ti.T
	switch u.Kind() {
	case types.Bool:
		ti.Kind, ti.Size = kindBool, codec.MaxBool
	case types.Int, types.Int64:
		ti.Kind, ti.Bits, ti.Size = kindInt, 64, codec.MaxInt64
		if u.Kind() == types.Int {
			ti.Bits = 0
		}
	case types.Int8:
		ti.Kind, ti.Bits, ti.Size = kindInt, 8, codec.MaxInt8
	case types.Int16:
		ti.Kind, ti.Bits, ti.Size = kindInt, 16, codec.MaxInt16
	case types.Int32:
		ti.Kind, ti.Bits, ti.Size = kindInt, 32, codec.MaxInt32
	case types.Uint, types.Uint64:
		ti.Kind, ti.Bits, ti.Size = kindUint, 64, codec.MaxUint64
		if u.Kind() == types.Uint {
			ti.Bits = 0
		}
	case types.Uint8:
		ti.Kind, ti.Bits, ti.Size = kindUint, 8, codec.MaxUint8
	case types.Uint16:
		ti.Kind, ti.Bits, ti.Size = kindUint, 16, codec.MaxUint16
	case types.Uint32:
		ti.Kind, ti.Bits, ti.Size = kindUint, 32, codec.MaxUint32
	case types.Float32:
		ti.Kind, ti.Size = kindFloat32, codec.MaxFloat32
	case types.Float64:
		ti.Kind, ti.Size = kindFloat64, codec.MaxFloat64
	case types.String:
		if b.Elem != nil || b.KeyMax != nil {
			return at.errf("elem= and keymax= do not apply to %s: max=N bounds its bytes", typeString(t))
		}
		if b.Max == nil {
			return at.needBound(t, "length in bytes")
		}
		ti.Kind, ti.Max, ti.Size = kindString, *b.Max, codec.StringSize(*b.Max)
		return nil
	case types.Uintptr:
		return at.errf("%s is not supported: a pointer-sized integer is no portable session value; use uint64", basicName(t))
	case types.Complex64, types.Complex128:
		return at.errf("complex type %s is not supported by msgpack", typeString(t))
	case types.UnsafePointer:
		return at.errf("%s cannot be stored in a session", basicName(t))
	default:
		return at.errf("type %s is not supported", typeString(t))
	}
	return noBounds(b, t, at)
}

// basicName names a basic type for messages, with its underlying type when
// it is a named one.
func basicName(t types.Type) string {
	if _, ok := t.(*types.Named); ok {
		return fmt.Sprintf("type %s (%s)", typeString(t), typeString(t.Underlying()))
	}
	return typeString(t)
}

// structType fills ti for a nested struct: msgpack stores it as a map of
// field name to value.
func (a *analyzer) structType(ti *typeInfo, u *types.Struct, at level) error {
	if n, ok := ti.T.(*types.Named); ok {
		if a.visiting[n.Origin()] {
			return at.errf("recursive type %s is not supported", typeString(ti.T))
		}
		a.visiting[n.Origin()] = true
		defer delete(a.visiting, n.Origin())
	}
	ti.Kind = kindStruct
	seen := map[string]string{}
	size := 0
	for i := range u.NumFields() {
		f := u.Field(i)
		tag := reflect.StructTag(u.Tag(i))
		fpath := at.path + "." + f.Name()
		// A malformed tag reads as absent: the field's bounds (session)
		// or msgpack's name for it would be lost without a word.
		for _, key := range []string{"session", "msgpack"} {
			if _, _, err := lookupTag(u.Tag(i), key); err != nil {
				return fmt.Errorf("%s: %s", fpath, malformedTag(u.Tag(i), err))
			}
		}
		name, opts, _ := strings.Cut(tag.Get("msgpack"), ",")
		if name == "-" {
			continue
		}
		if f.Name() == "_msgpack" {
			return at.errf("struct %s has a _msgpack field: msgpack struct options (as_array, omitempty for all) are not supported", typeString(ti.T))
		}
		for opt := range strings.SplitSeq(opts, ",") {
			if opt != "" && opt != "omitempty" {
				return fmt.Errorf("%s: msgpack tag option %q is not supported (only a name, \"-\" and omitempty are)", fpath, opt)
			}
		}
		if f.Anonymous() {
			return fmt.Errorf("%s: embedded field %s is not supported in a stored struct (msgpack would inline it): give it a field name", fpath, f.Name())
		}
		if !f.Exported() {
			return fmt.Errorf("%s: unexported field %s is not stored by msgpack, so it would not survive a round trip: export it or tag it `msgpack:\"-\"`", fpath, f.Name())
		}
		if name == "" {
			name = f.Name()
		}
		if prev, dup := seen[name]; dup {
			return fmt.Errorf("%s: msgpack name %q is also used by field %s", fpath, name, prev)
		}
		seen[name] = f.Name()
		var b bounds
		if s, ok := tag.Lookup("session"); ok {
			if s == "-" {
				return fmt.Errorf("%s: `session:\"-\"` has no effect in a nested struct: use `msgpack:\"-\"` to leave a field out", fpath)
			}
			st, err := parseTag(s, true)
			if err != nil {
				return fmt.Errorf("%s: %w", fpath, err)
			}
			b = st.Bounds
		}
		fi, err := a.analyze(f.Type(), b, level{path: fpath, opt: "max", owner: fpath, tag: tag.Get("session")})
		if err != nil {
			return err
		}
		ti.Fields = append(ti.Fields, &nestedField{Name: f.Name(), Wire: name, Info: fi})
		size = addSize(size, addSize(codec.StringSize(len(name)), fi.Size))
	}
	ti.Size = addSize(codec.MapHeaderSize(len(ti.Fields)), size)
	return nil
}

// noBounds returns an error when b has an option, which t does not take.
func noBounds(b bounds, t types.Type, at level) error {
	var given []string
	if b.Max != nil {
		given = append(given, cmp.Or(at.opt, "max")+"=")
	}
	if b.Elem != nil {
		given = append(given, "elem=")
	}
	if b.KeyMax != nil {
		given = append(given, "keymax=")
	}
	if len(given) == 0 {
		return nil
	}
	return at.errf("%s does not apply to %s, which has a fixed worst-case size", strings.Join(given, " and "), typeString(t))
}

// isTime reports whether t is time.Time.
func isTime(t types.Type) bool {
	n, ok := t.(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "time" && n.Obj().Name() == "Time"
}

// isByte reports whether t is byte (uint8) itself. A named type over byte
// is not: msgpack stores a slice of it as bin, but Go cannot convert
// between []byte and such a slice.
func isByte(t types.Type) bool {
	b, ok := types.Unalias(t).(*types.Basic)
	return ok && b.Kind() == types.Uint8
}

// isNamedByte reports whether t is a named type over byte (or uint8).
func isNamedByte(t types.Type) bool {
	t = types.Unalias(t)
	if _, ok := t.(*types.Named); !ok {
		return false
	}
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Kind() == types.Uint8
}

// errNamedByte is returned for slices and arrays of a named byte type.
var errNamedByte = errors.New("slices and arrays of a named byte type are not supported: use []byte or [N]byte")

// msgpackPath is the import path of the msgpack module the runtime uses.
const msgpackPath = "github.com/vmihailenco/msgpack/v5"

// marshalMethods returns the name of the method msgpack would use to
// encode a value of t (or *t) and to decode into *t, or "" for none. The
// order of the checks is msgpack's.
func marshalMethods(t types.Type) (enc, dec string) {
	ptr := types.NewPointer(t)
	for _, m := range []struct{ name, param, result string }{
		{"EncodeMsgpack", "*" + msgpackPath + ".Encoder", "error"},
		{"MarshalMsgpack", "", "[]byte,error"},
		{"MarshalBinary", "", "[]byte,error"},
		{"MarshalText", "", "[]byte,error"},
	} {
		if hasMethod(ptr, m.name, m.param, m.result) {
			enc = m.name
			break
		}
	}
	for _, m := range []struct{ name, param, result string }{
		{"DecodeMsgpack", "*" + msgpackPath + ".Decoder", "error"},
		{"UnmarshalMsgpack", "[]byte", "error"},
		{"UnmarshalBinary", "[]byte", "error"},
		{"UnmarshalText", "[]byte", "error"},
	} {
		if hasMethod(ptr, m.name, m.param, m.result) {
			dec = m.name
			break
		}
	}
	return enc, dec
}

// hasMethod reports whether t's method set has a method name with one
// parameter of type param (none when param is empty) and the results
// listed, comma-separated, in results.
func hasMethod(t types.Type, name, param, results string) bool {
	obj, _, _ := types.LookupFieldOrMethod(t, false, nil, name)
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig := fn.Type().(*types.Signature)
	var params []string
	for v := range sig.Params().Variables() {
		params = append(params, types.TypeString(v.Type(), nil))
	}
	var res []string
	for v := range sig.Results().Variables() {
		res = append(res, types.TypeString(v.Type(), nil))
	}
	return strings.Join(params, ",") == param && strings.Join(res, ",") == results
}

// typeString renders t for messages, qualified by package name.
func typeString(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string { return p.Name() })
}
