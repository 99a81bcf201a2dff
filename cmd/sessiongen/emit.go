package main

import (
	"bytes"
	"fmt"
	"go/types"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/imports"
)

// Import paths used by generated code.
const (
	sessionPath = "github.com/sessiongen/sessiongen/runtime"
	codecPath   = "github.com/sessiongen/sessiongen/runtime/codec"
)

// emitter writes the generated file for the session types of one package.
type emitter struct {
	pkg *types.Package
	f   *jen.File
	// taken reports a name declared at package level, which an import of
	// the generated file must not use.
	taken func(name string) bool
	// imported holds the import paths registered so far.
	imported map[string]bool
	// budget is the generator's -budget: the size limit the types were
	// proven against, which their Options functions set.
	budget int
}

// importAs registers the name under which the file imports path: name,
// or "sg"+name when the package declares name itself. alias forces an
// explicit name in the import spec.
func (e *emitter) importAs(path, name string, alias bool) {
	if e.imported[path] {
		return
	}
	e.imported[path] = true
	if e.taken(name) {
		e.f.ImportAlias(path, "sg"+name)
		return
	}
	if alias {
		e.f.ImportAlias(path, name)
		return
	}
	e.f.ImportName(path, name)
}

// emit renders the generated file. taken reports the names the package
// declares (outside the generated file).
func emit(pkg *types.Package, sts []*sessionType, opts options, taken func(string) bool) ([]byte, error) {
	f := jen.NewFilePathName(pkg.Path(), pkg.Name())
	f.HeaderComment(strings.TrimSuffix(strings.TrimPrefix(header, "// "), "\n"))
	names := make([]string, len(sts))
	for i, st := range sts {
		names[i] = st.Name
	}
	f.HeaderComment(fmt.Sprintf("sessiongen %s: -type=%s -budget=%d", version, strings.Join(names, ","), opts.Budget))
	e := &emitter{pkg: pkg, f: f, taken: taken, imported: map[string]bool{}, budget: opts.Budget}
	e.importAs(sessionPath, "session", true)
	e.importAs(codecPath, "codec", false)
	e.importAs(msgpackPath, "msgpack", false)
	for _, std := range []string{"bytes", "context", "fmt", "time"} {
		e.importAs(std, std, false)
	}
	for _, st := range sts {
		e.sessionType(st)
	}
	var buf bytes.Buffer
	if err := f.Render(&buf); err != nil {
		return nil, fmt.Errorf("render generated code: %w", err)
	}
	// Group the imports as goimports does (standard library first); the
	// file is gofmt-formatted either way.
	src, err := imports.Process("generated.go", buf.Bytes(), &imports.Options{
		Comments: true, TabIndent: true, TabWidth: 8, FormatOnly: true,
	})
	if err != nil {
		return nil, fmt.Errorf("format generated code: %w", err)
	}
	return src, nil
}

// sessionType emits the declarations for one session struct.
func (e *emitter) sessionType(st *sessionType) {
	f := e.f
	T := st.Name
	view := T + "View"
	recv := func() *jen.Statement { return jen.Id("v").Id(view) }
	key := func(sf *sessionField) *jen.Statement { return jen.Id(T + "Key" + sf.Name) }

	// Keys.
	e.doc(f.Group, "Session keys of %s's fields, shared by the typed accessors of %s and by untyped code (session.Value, (*session.Session).Set).", T, view)
	f.Const().DefsFunc(func(g *jen.Group) {
		for _, sf := range st.Fields {
			e.doc(g, "%s is the session key of %s.%s.", T+"Key"+sf.Name, T, sf.Name)
			g.Id(T + "Key" + sf.Name).Op("=").Lit(sf.Key)
		}
	})

	e.doc(f.Group, "%sMaxSize is the worst-case encoded size in bytes of a session holding every stored field of %s and the runtime's per-session settings: the sum of each key's length and its value's largest encoding under the declared bounds, plus session.SettingsSize (the runtime's measure, see session.WithMaxSize).", T, T)
	f.Const().Id(T + "MaxSize").Op("=").Lit(st.MaxSize)

	if ix := st.Index; ix != nil {
		owner := "" // a string names the owner as it is
		switch ix.Info.Kind {
		case kindInt:
			owner = "The owner is the field's value in decimal: name it as strconv.FormatInt(int64(x), 10) to Manager.Sessions and Manager.RevokeAll."
		case kindUint:
			owner = "The owner is the field's value in decimal: name it as strconv.FormatUint(uint64(x), 10) to Manager.Sessions and Manager.RevokeAll."
		}
		e.doc(f.Group, "%sOwnerKey is the session key of the owner index, %s.%s (tag option index): its value names the session's owner. Pass session.WithOwnerKey(%sOwnerKey) to session.New (%sOptions does) so that the engine indexes sessions by owner and Manager.Sessions and Manager.RevokeAll can find a user's sessions. %s", T, T, ix.Name, T, T, owner)
		f.Const().Id(T + "OwnerKey").Op("=").Lit(ix.Key)
	}

	// View type and constructors.
	e.doc(f.Group, "%s is a typed view of a session holding the fields of %s. Each field is stored under its own key and read and written on its own; Load and Save handle all fields at once. A view is a small value: copy it freely. A view of no session (outside the session middleware) reads nothing and fails every write with session.ErrNoSession.", view, T)
	f.Type().Id(view).Struct(jen.Id("s").Op("*").Qual(sessionPath, "Session"))

	e.doc(f.Group, "%sFrom returns the typed view of the session that the session middleware ((*session.Manager).Handler) attached to ctx.", T)
	f.Func().Id(T + "From").Params(jen.Id("ctx").Qual("context", "Context")).Id(view).Block(
		jen.Return(jen.Id(view).Values(jen.Dict{jen.Id("s"): jen.Qual(sessionPath, "FromContext").Call(jen.Id("ctx"))})),
	)
	e.doc(f.Group, "%sOf returns the typed view of s.", T)
	f.Func().Id(T + "Of").Params(jen.Id("s").Op("*").Qual(sessionPath, "Session")).Id(view).Block(
		jen.Return(jen.Id(view).Values(jen.Dict{jen.Id("s"): jen.Id("s")})),
	)
	owner := ""
	if ix := st.Index; ix != nil {
		owner = fmt.Sprintf(", and session.WithOwnerKey(%sOwnerKey), so that sessions are indexed by their owner, %s.%s", T, T, ix.Name)
	}
	e.doc(f.Group, "%sOptions returns the options of session.New that %s implies: session.WithMaxSize(%d), the size limit (sessiongen's -budget) that %s was proven against; session.WithProvenSize(%q, %sMaxSize), so that New refuses a smaller limit, naming both numbers%s. Add your own after them: session.New(append(%sOptions(), session.WithStore(st))...). A later session.WithMaxSize may raise the limit, but not below %sMaxSize.",
		T, T, e.budget, T, T, T, owner, T, T)
	f.Func().Id(T+"Options").Params().Index().Qual(sessionPath, "Option").BlockFunc(func(g *jen.Group) {
		multi := jen.Options{Open: "{", Close: "}", Separator: ",", Multi: true}
		g.Return(jen.Index().Qual(sessionPath, "Option").CustomFunc(multi, func(g *jen.Group) {
			g.Qual(sessionPath, "WithMaxSize").Call(jen.Lit(e.budget))
			g.Qual(sessionPath, "WithProvenSize").Call(jen.Lit(T), jen.Id(T+"MaxSize"))
			if st.Index != nil {
				g.Qual(sessionPath, "WithOwnerKey").Call(jen.Id(T + "OwnerKey"))
			}
		}))
	})

	e.doc(f.Group, "Session returns the underlying session, for untyped access.")
	f.Func().Params(recv()).Id("Session").Params().Op("*").Qual(sessionPath, "Session").Block(
		jen.Return(jen.Id("v").Dot("s")),
	)

	for _, sf := range st.Fields {
		e.field(st, sf)
	}

	// Load.
	e.doc(f.Group, "Load reads every stored field of %s from the session; absent keys, and values that cannot be decoded (reported as the getters report them), leave their fields at the zero value. It returns an error only when the session cannot be loaded.", T)
	f.Func().Params(recv()).Id("Load").Params().Params(e.typeName(st.Obj), jen.Error()).BlockFunc(func(g *jen.Group) {
		g.Var().Id("data").Add(e.typeName(st.Obj))
		for _, sf := range st.Fields {
			g.If(
				jen.List(jen.Id("b"), jen.Id("ok"), jen.Err()).Op(":=").Add(readCall(st, sf)),
				jen.Err().Op("!=").Nil(),
			).Block(
				jen.Return(e.typeName(st.Obj).Values(), jen.Qual("fmt", "Errorf").Call(jen.Lit(T+".Load: %w"), jen.Err())),
			).Else().If(jen.Id("ok")).Block(
				jen.If(
					jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("v").Dot("decode"+sf.Name).Call(jen.Id("b")),
					jen.Err().Op("!=").Nil(),
				).Block(
					e.reportUndecodable(st, sf),
				).Else().Block(
					jen.Id("data").Dot(sf.Name).Op("=").Id("x"),
				),
			)
		}
		g.Return(jen.Id("data"), jen.Nil())
	})

	// Save.
	e.doc(f.Group, "Save writes every stored field of data to the session in one change (one store round trip)%s. It writes them unconditionally: a change another request made to a field between Load and Save (an AddF, say) is overwritten; change such a field with its UpdateF instead. Bounds are checked first: when a value is over its declared bound, or the session would exceed its size limit, Save returns an error wrapping session.ErrTooLarge and changes nothing.", saveRemoves(st))
	f.Func().Params(recv()).Id("Save").Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("data").Add(e.typeName(st.Obj))).Error().BlockFunc(func(g *jen.Group) {
		for i, sf := range st.Fields {
			b := "b" + strconv.Itoa(i)
			g.List(jen.Id(b), jen.Err()).Op(":=").Id("v").Dot("encode" + sf.Name).Call(jen.Id("data").Dot(sf.Name))
			g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err()))
		}
		g.Return(jen.Id("v").Dot("s").Dot("SetRawFields").Call(jen.Id("ctx"), jen.Index().Qual(sessionPath, "Field").ValuesFunc(func(g *jen.Group) {
			for i, sf := range st.Fields {
				g.Values(jen.Dict{jen.Id("Key"): key(sf), jen.Id("Value"): jen.Id("b" + strconv.Itoa(i))})
			}
			for _, sf := range st.Fields {
				for _, w := range sf.Was {
					g.Values(jen.Dict{jen.Id("Key"): jen.Lit(w)})
				}
			}
		})))
	})

	// Stale-file guard: an assignment, not a conversion, since only
	// assignment needs the struct tags to be identical too.
	e.doc(f.Group, "The assignment below compiles only while %s has exactly the fields and tags this file was generated from: after adding, removing or retyping a field, or changing a tag, run go generate again.", T)
	f.Var().Id("_").StructFunc(func(g *jen.Group) {
		for i := range st.Struct.NumFields() {
			v := st.Struct.Field(i)
			var field *jen.Statement
			if v.Embedded() {
				field = e.typeExpr(v.Type())
			} else {
				field = jen.Id(v.Name()).Add(e.typeExpr(v.Type()))
			}
			if tag := st.Struct.Tag(i); tag != "" {
				field.Add(tagLit(tag))
			}
			g.Add(field)
		}
	}).Op("=").Add(e.typeName(st.Obj).Values())
}

// popMethod emits PopF for a field tagged flash: the value read and
// removed by one compare-and-set ((*session.Session).PopRaw).
func (e *emitter) popMethod(st *sessionType, sf *sessionField) {
	f := e.f
	T, F := st.Name, sf.Name
	keyName := T + "Key" + F
	typ := func() *jen.Statement { return e.typeExpr(sf.Info.T) }
	e.doc(f.Group, "Pop%s returns %s.%s (key %q) and removes the key in the same change: a value shown once (tag option flash). Two requests that pop it at once, in one process or several, never both get it: the removal is a compare-and-set at the engine, and the request that loses finds the key gone. ok is false when the key is absent, and nothing is written then. A value that cannot be decoded (one written by a build where the field had another type) is removed, reported as the getter reports it, and gives ok false. The removal goes to the engine at once, whatever the flush mode.", F, T, F, sf.Key)
	f.Func().Params(jen.Id("v").Id(T+"View")).Id("Pop"+F).Params(jen.Id("ctx").Qual("context", "Context")).Params(typ(), jen.Bool(), jen.Error()).Block(
		jen.List(jen.Id("b"), jen.Id("ok"), jen.Err()).Op(":=").Id("v").Dot("s").Dot("PopRaw").Call(jen.Id("ctx"), jen.Id(keyName)),
		jen.If(jen.Err().Op("!=").Nil().Op("||").Op("!").Id("ok")).Block(jen.Return(e.zero(sf.Info.T), jen.False(), jen.Err())),
		jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("v").Dot("decode"+F).Call(jen.Id("b")),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			e.reportUndecodable(st, sf),
			jen.Return(e.zero(sf.Info.T), jen.False(), jen.Nil()),
		),
		jen.Return(jen.Id("x"), jen.True(), jen.Nil()),
	)
}

// readCall is the call that reads the stored bytes of sf: the session's
// Raw, or raw<F> for a field with old keys (was=).
func readCall(st *sessionType, sf *sessionField) *jen.Statement {
	if len(sf.Was) > 0 {
		return jen.Id("v").Dot("raw" + sf.Name).Call()
	}
	return jen.Id("v").Dot("s").Dot("Raw").Call(jen.Id(st.Name + "Key" + sf.Name))
}

// writeCall is the call that stores b (nil: removes the key) under key,
// the key of sf, and removes sf's old keys (was=) in the same change.
func (e *emitter) writeCall(sf *sessionField, key jen.Code, b jen.Code) *jen.Statement {
	s := jen.Id("v").Dot("s")
	if len(sf.Was) == 0 {
		if b == nil {
			return s.Dot("Remove").Call(jen.Id("ctx"), key)
		}
		return s.Dot("SetRaw").Call(jen.Id("ctx"), key, b)
	}
	return s.Dot("SetRawFields").Call(jen.Id("ctx"), jen.Index().Qual(sessionPath, "Field").ValuesFunc(func(g *jen.Group) {
		if b == nil {
			g.Values(jen.Dict{jen.Id("Key"): key})
		} else {
			g.Values(jen.Dict{jen.Id("Key"): key, jen.Id("Value"): b})
		}
		for _, w := range sf.Was {
			g.Values(jen.Dict{jen.Id("Key"): jen.Lit(w)})
		}
	}))
}

// litKeys returns the keys as string literals.
func litKeys(keys []string) []jen.Code {
	var out []jen.Code
	for _, k := range keys {
		out = append(out, jen.Lit(k))
	}
	return out
}

// keyList names keys for a doc comment: key "a", keys "a" and "b".
func keyList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	if len(q) == 1 {
		return "key " + q[0]
	}
	return "keys " + strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// fallsBack says, for a getter's doc comment, where a renamed field's
// value is read from when its key is absent.
func fallsBack(sf *sessionField) string {
	if len(sf.Was) == 0 {
		return ""
	}
	return fmt.Sprintf(" or, while that is absent, under its old %s (tag option was=)", keyList(sf.Was))
}

// saveRemoves says, for Save's doc comment, which old keys it removes.
func saveRemoves(st *sessionType) string {
	var was []string
	for _, sf := range st.Fields {
		was = append(was, sf.Was...)
	}
	if len(was) == 0 {
		return ""
	}
	return ", removing the old " + keyList(was) + " of renamed fields"
}

// reportUndecodable is the statement that reports, once per key and
// process, the value b of field sf that did not decode (err).
func (e *emitter) reportUndecodable(st *sessionType, sf *sessionField) jen.Code {
	want := fmt.Sprintf("%s.%s (%s)", st.Name, sf.Name, e.typeLabel(sf.Info.T))
	return jen.Id("v").Dot("s").Dot("ReportUndecodable").Call(jen.Qual("context", "Background").Call(),
		jen.Id(st.Name+"Key"+sf.Name), jen.Lit(want), jen.Id("b"), jen.Err())
}

// typeLabel names t for messages as the package's code spells it.
func (e *emitter) typeLabel(t types.Type) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == e.pkg {
			return ""
		}
		return p.Name()
	})
}

// tagLit returns the struct tag tag as a literal, byte for byte: raw when
// it has no backquote.
func tagLit(tag string) jen.Code {
	if !strings.Contains(tag, "`") {
		return jen.Op("`" + tag + "`")
	}
	return jen.Lit(tag)
}

// field emits the accessors of one stored field.
func (e *emitter) field(st *sessionType, sf *sessionField) {
	f := e.f
	T, F := st.Name, sf.Name
	view := T + "View"
	keyName := T + "Key" + F
	ti := sf.Info
	typ := e.typeExpr(ti.T)
	zero := e.zero(ti.T)
	key := jen.Id(keyName)

	// Getter.
	e.doc(f.Group, "%s returns %s.%s, stored under key %q (%s)%s. ok is false when the key is absent or its value cannot be decoded (one written by a build where the field had another type); an error loading the session goes to the session's error reporting, and so does a value that does not decode, once per key and process (session.Session.ReportUndecodable).", F, T, F, sf.Key, keyName, fallsBack(sf))
	f.Func().Params(jen.Id("v").Id(view)).Id(F).Params().Params(typ, jen.Bool()).Block(
		jen.List(jen.Id("b"), jen.Id("ok"), jen.Err()).Op(":=").Add(readCall(st, sf)),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			jen.Id("v").Dot("s").Dot("Report").Call(jen.Qual("context", "Background").Call(),
				jen.Qual("fmt", "Errorf").Call(jen.Lit(T+"."+F+" (key %q): %w"), jen.Id(keyName), jen.Err())),
			jen.Return(zero, jen.False()),
		),
		jen.If(jen.Op("!").Id("ok")).Block(jen.Return(zero, jen.False())),
		jen.List(jen.Id("x"), jen.Err()).Op(":=").Id("v").Dot("decode"+F).Call(jen.Id("b")),
		jen.If(jen.Err().Op("!=").Nil()).Block(
			e.reportUndecodable(st, sf),
			jen.Return(zero, jen.False()),
		),
		jen.Return(jen.Id("x"), jen.True()),
	)

	// Setter.
	moves := ""
	if len(sf.Was) > 0 {
		moves = fmt.Sprintf(" and removes its old %s in the same change", keyList(sf.Was))
	}
	if b := describeBounds(ti); b != "" {
		e.doc(f.Group, "Set%s stores x as %s.%s under key %q"+moves+". A value over its declared bounds (%s), or one that would make the session exceed its size limit, is refused with an error wrapping session.ErrTooLarge, and nothing changes.", F, T, F, sf.Key, b)
	} else {
		e.doc(f.Group, "Set%s stores x as %s.%s under key %q"+moves+". A value that would make the session exceed its size limit is refused with an error wrapping session.ErrTooLarge, and nothing changes.", F, T, F, sf.Key)
	}
	f.Func().Params(jen.Id("v").Id(view)).Id("Set"+F).Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("x").Add(e.typeExpr(ti.T))).Error().Block(
		jen.List(jen.Id("b"), jen.Err()).Op(":=").Id("v").Dot("encode"+F).Call(jen.Id("x")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Err())),
		jen.Return(e.writeCall(sf, key, jen.Id("b"))),
	)

	// Read-modify-write: UpdateF, AddF (emit_update.go).
	e.updaters(st, sf)

	// Remover.
	removes := ""
	if len(sf.Was) > 0 {
		removes = fmt.Sprintf(" and its old %s, in one change,", keyList(sf.Was))
	}
	e.doc(f.Group, "Remove%s deletes key %q (%s.%s)%s from the session.", F, sf.Key, T, F, removes)
	f.Func().Params(jen.Id("v").Id(view)).Id("Remove" + F).Params(jen.Id("ctx").Qual("context", "Context")).Error().Block(
		jen.Return(e.writeCall(sf, jen.Id(keyName), nil)),
	)

	if sf.Flash {
		e.popMethod(st, sf)
	}

	if len(sf.Was) > 0 {
		e.doc(f.Group, "raw%s returns the stored bytes of %s.%s: under key %q or, when it is absent, under the first of its old %s present.", F, T, F, sf.Key, keyList(sf.Was))
		f.Func().Params(jen.Id("v").Id(view)).Id("raw"+F).Params().Params(jen.Index().Byte(), jen.Bool(), jen.Error()).BlockFunc(func(g *jen.Group) {
			keys := append([]jen.Code{jen.Id(keyName)}, litKeys(sf.Was)...)
			for _, k := range keys[:len(keys)-1] {
				g.If(
					jen.List(jen.Id("b"), jen.Id("ok"), jen.Err()).Op(":=").Id("v").Dot("s").Dot("Raw").Call(k),
					jen.Id("ok").Op("||").Err().Op("!=").Nil(),
				).Block(jen.Return(jen.Id("b"), jen.Id("ok"), jen.Err()))
			}
			g.Return(jen.Id("v").Dot("s").Dot("Raw").Call(keys[len(keys)-1]))
		})
	}

	// Encoder.
	e.doc(f.Group, "encode%s checks x against the bounds of %s.%s and encodes it.", F, T, F)
	f.Func().Params(jen.Id(view)).Id("encode"+F).Params(jen.Id("x").Add(e.typeExpr(ti.T))).Params(jen.Index().Byte(), jen.Error()).BlockFunc(func(g *jen.Group) {
		prefix := fmt.Sprintf("%s.%s (key %%q): ", T, F)
		e.checks(g, ti, jen.Id("x"), prefix, keyName, 0)
		if enc := e.hotEncode(ti, jen.Id("x")); enc != nil {
			g.Return(enc, jen.Nil())
			return
		}
		g.List(jen.Id("b"), jen.Err()).Op(":=").Qual(msgpackPath, "Marshal").Call(jen.Op("&").Id("x"))
		g.If(jen.Err().Op("!=").Nil()).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit(prefix+"encode: %w"), jen.Id(keyName), jen.Err())),
		)
		what := "the worst case of "
		if ti.Kind == kindOpaque {
			what = ti.Opt + "="
		}
		g.If(jen.Len(jen.Id("b")).Op(">").Lit(ti.Size)).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(
				jen.Lit(fmt.Sprintf("%s%%d encoded bytes, over %s%d: %%w", prefix, what, ti.Size)),
				jen.Id(keyName), jen.Len(jen.Id("b")), jen.Qual(sessionPath, "ErrTooLarge"))),
		)
		g.Return(jen.Id("b"), jen.Nil())
	})

	// Decoder.
	e.doc(f.Group, "decode%s decodes the stored value of %s.%s.", F, T, F)
	f.Func().Params(jen.Id(view)).Id("decode"+F).Params(jen.Id("b").Index().Byte()).Params(e.typeExpr(ti.T), jen.Error()).BlockFunc(func(g *jen.Group) {
		switch {
		case ti.Kind.hot() && ti.Kind != kindTime && !types.Identical(codecType(ti), ti.T):
			g.List(jen.Id("x"), jen.Err()).Op(":=").Add(e.hotDecodeCall(ti, jen.Id("b")))
			g.Return(e.convert(ti, jen.Id("x")), jen.Err())
		case ti.Kind.hot():
			g.Return(e.hotDecodeCall(ti, jen.Id("b")))
		case ti.Kind == kindByteArray:
			g.Var().Id("x").Add(e.typeExpr(ti.T))
			e.byteArrayDecode(g, ti, jen.Id("x"), jen.Id("b"))
			g.Return(jen.Id("x"), jen.Nil())
		case ti.Kind == kindOpaque:
			g.Var().Id("x").Add(e.typeExpr(ti.T))
			e.guardedReader(g)
			g.Err().Op("=").Qual(msgpackPath, "NewDecoder").Call(jen.Id("r")).Dot("Decode").Call(jen.Op("&").Id("x"))
			g.Return(jen.Id("x"), jen.Err())
		default:
			g.Var().Id("x").Add(e.typeExpr(ti.T))
			e.guardedReader(g)
			g.Id("d").Op(":=").Qual(msgpackPath, "NewDecoder").Call(jen.Id("r"))
			e.decodeInto(g, ti, jen.Id("x"), 0)
			g.If(jen.Id("r").Dot("Len").Call().Op("!=").Lit(0)).Block(
				jen.Return(jen.Id("x"), jen.Qual("fmt", "Errorf").Call(jen.Lit("%d bytes left over after the value"), jen.Id("r").Dot("Len").Call())),
			)
			g.Return(jen.Id("x"), jen.Nil())
		}
	})
}

// guardedReader emits r, a codec.Reader over the stored bytes b, for a
// msgpack.Decoder: codec.NewReader refuses bytes that are not one
// well-formed value (a length declared beyond the bytes that remain,
// nesting deeper than codec.MaxDepth), and the Reader keeps the decoder
// from reading values inside ext payloads. Stored bytes are data, not
// trusted code: without it five bytes can make msgpack allocate gigabytes
// (a struct field's name read as a str32, an opaque type's slice, a map
// read from inside an ext), and a deeply nested value exhausts the stack
// when msgpack skips an unknown field. Errors return x.
func (e *emitter) guardedReader(g *jen.Group) {
	g.List(jen.Id("r"), jen.Err()).Op(":=").Qual(codecPath, "NewReader").Call(jen.Id("b"))
	g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("x"), jen.Err()))
}

// docWidth is the width generated doc comments are wrapped at.
const docWidth = 76

// doc emits a comment, wrapped at docWidth columns.
func (e *emitter) doc(g *jen.Group, format string, args ...any) {
	line := ""
	for _, w := range strings.Fields(fmt.Sprintf(format, args...)) {
		if line != "" && len(line)+1+len(w) > docWidth {
			g.Comment(line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		g.Comment(line)
	}
}

// describeBounds summarizes the declared bounds of a field for its setter's
// doc comment.
func describeBounds(ti *typeInfo) string {
	var parts []string
	var walk func(ti *typeInfo)
	walk = func(ti *typeInfo) {
		if ti.Opt != "" && (ti.Kind == kindString || ti.Kind == kindBytes || ti.Kind == kindSlice || ti.Kind == kindMap || ti.Kind == kindOpaque) {
			unit := map[kind]string{kindString: "bytes", kindBytes: "bytes", kindSlice: "elements", kindMap: "entries", kindOpaque: "encoded bytes"}[ti.Kind]
			parts = append(parts, fmt.Sprintf("%s: %d %s", ti.Path, ti.Max, unit))
		}
		if ti.Key != nil {
			walk(ti.Key)
		}
		if ti.Elem != nil {
			walk(ti.Elem)
		}
		for _, nf := range ti.Fields {
			walk(nf.Info)
		}
	}
	walk(ti)
	return strings.Join(parts, "; ")
}

// checks emits the bound checks of a value x of type ti, returning an
// error wrapping session.ErrTooLarge.
func (e *emitter) checks(g *jen.Group, ti *typeInfo, x jen.Code, prefix, keyName string, depth int) {
	if !needsChecks(ti) {
		return
	}
	where := ""
	if depth > 0 {
		where = ti.Path + ": "
	}
	tooLarge := func(unit string) *jen.Statement {
		return jen.If(jen.Len(x).Op(">").Lit(ti.Max)).Block(
			jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(
				jen.Lit(fmt.Sprintf("%s%s%%d %s, over %s=%d: %%w", prefix, where, unit, ti.Opt, ti.Max)),
				jen.Id(keyName), jen.Len(x), jen.Qual(sessionPath, "ErrTooLarge"))),
		)
	}
	i := "i" + strconv.Itoa(depth)
	switch ti.Kind {
	case kindString, kindBytes:
		g.Add(tooLarge("bytes"))
	case kindSlice:
		g.Add(tooLarge("elements"))
		if needsChecks(ti.Elem) {
			g.For(jen.Id(i).Op(":=").Range().Add(x)).BlockFunc(func(g *jen.Group) {
				e.checks(g, ti.Elem, jen.Add(x).Index(jen.Id(i)), prefix, keyName, depth+1)
			})
		}
	case kindArray:
		g.For(jen.Id(i).Op(":=").Range().Add(x)).BlockFunc(func(g *jen.Group) {
			e.checks(g, ti.Elem, jen.Add(x).Index(jen.Id(i)), prefix, keyName, depth+1)
		})
	case kindMap:
		g.Add(tooLarge("entries"))
		k, v := jen.Id("_"), jen.Id("_")
		if needsChecks(ti.Key) {
			k = jen.Id("k" + strconv.Itoa(depth))
		}
		if needsChecks(ti.Elem) {
			v = jen.Id("e" + strconv.Itoa(depth))
		}
		if needsChecks(ti.Key) || needsChecks(ti.Elem) {
			if !needsChecks(ti.Elem) {
				g.For(jen.Add(k).Op(":=").Range().Add(x)).BlockFunc(func(g *jen.Group) {
					e.checks(g, ti.Key, k, prefix, keyName, depth+1)
				})
				return
			}
			g.For(jen.List(k, v).Op(":=").Range().Add(x)).BlockFunc(func(g *jen.Group) {
				e.checks(g, ti.Key, k, prefix, keyName, depth+1)
				e.checks(g, ti.Elem, v, prefix, keyName, depth+1)
			})
		}
	case kindStruct:
		for _, nf := range ti.Fields {
			e.checks(g, nf.Info, jen.Add(x).Dot(nf.Name), prefix, keyName, depth+1)
		}
	}
}

// needsChecks reports whether a value of type ti has a bound to check
// before encoding.
func needsChecks(ti *typeInfo) bool {
	switch ti.Kind {
	case kindString, kindBytes, kindSlice, kindMap:
		return true
	case kindArray:
		return needsChecks(ti.Elem)
	case kindStruct:
		for _, nf := range ti.Fields {
			if needsChecks(nf.Info) {
				return true
			}
		}
	}
	return false
}

// hotEncode returns the codec call that encodes x of type ti into a new
// buffer, or nil when ti is not encoded by codec.
func (e *emitter) hotEncode(ti *typeInfo, x jen.Code) jen.Code {
	call := func(fn string, goType types.Type) jen.Code {
		return jen.Qual(codecPath, fn).Call(jen.Nil(), e.convertTo(ti.T, goType, x))
	}
	switch ti.Kind {
	case kindBool:
		return call("AppendBool", types.Typ[types.Bool])
	case kindInt:
		return call("AppendInt", types.Typ[types.Int64])
	case kindUint:
		return call("AppendUint", types.Typ[types.Uint64])
	case kindFloat32:
		return call("AppendFloat32", types.Typ[types.Float32])
	case kindFloat64:
		return call("AppendFloat64", types.Typ[types.Float64])
	case kindString:
		return call("AppendString", types.Typ[types.String])
	case kindBytes:
		return call("AppendBytes", types.NewSlice(types.Typ[types.Byte]))
	case kindTime:
		return jen.Qual(codecPath, "AppendTime").Call(jen.Nil(), x)
	case kindByteArray:
		return jen.Qual(codecPath, "AppendBytes").Call(jen.Nil(), jen.Add(x).Index(jen.Op(":")))
	}
	return nil
}

// convertTo converts x of type from to type to, when they differ.
func (e *emitter) convertTo(from, to types.Type, x jen.Code) jen.Code {
	if types.Identical(from, to) {
		return x
	}
	return e.typeExpr(to).Call(x)
}

// hotDecodeCall returns the codec call decoding b for a hot type. Its
// result is the codec's Go type (int64 for every signed integer, ...).
func (e *emitter) hotDecodeCall(ti *typeInfo, b jen.Code) jen.Code {
	switch ti.Kind {
	case kindBool:
		return jen.Qual(codecPath, "Bool").Call(b)
	case kindInt:
		return jen.Qual(codecPath, "Int").Call(b, jen.Lit(ti.Bits))
	case kindUint:
		return jen.Qual(codecPath, "Uint").Call(b, jen.Lit(ti.Bits))
	case kindFloat32:
		return jen.Qual(codecPath, "Float32").Call(b)
	case kindFloat64:
		return jen.Qual(codecPath, "Float64").Call(b)
	case kindString:
		return jen.Qual(codecPath, "String").Call(b)
	case kindBytes:
		return jen.Qual(codecPath, "Bytes").Call(b)
	case kindTime:
		return jen.Qual(codecPath, "Time").Call(b)
	}
	panic("hotDecodeCall: not a hot kind")
}

// codecType returns the Go type a codec decoder returns for ti.
func codecType(ti *typeInfo) types.Type {
	switch ti.Kind {
	case kindBool:
		return types.Typ[types.Bool]
	case kindInt:
		return types.Typ[types.Int64]
	case kindUint:
		return types.Typ[types.Uint64]
	case kindFloat32:
		return types.Typ[types.Float32]
	case kindFloat64:
		return types.Typ[types.Float64]
	case kindString:
		return types.Typ[types.String]
	case kindBytes:
		return types.NewSlice(types.Typ[types.Byte])
	}
	return ti.T // time.Time
}

// convert converts x, the result of hotDecodeCall, to ti's type.
func (e *emitter) convert(ti *typeInfo, x jen.Code) jen.Code {
	if ti.Kind == kindTime || types.Identical(codecType(ti), ti.T) {
		return x
	}
	return e.typeExpr(ti.T).Call(x)
}

// byteArrayDecode emits the decoding of b, a msgpack bin, into the array
// x. Errors return x.
func (e *emitter) byteArrayDecode(g *jen.Group, ti *typeInfo, x, b jen.Code) {
	g.List(jen.Id("p"), jen.Err()).Op(":=").Qual(codecPath, "Bytes").Call(b)
	g.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Id("x"), jen.Err()))
	g.If(jen.Len(jen.Id("p")).Op(">").Lit(ti.Len)).Block(
		jen.Return(jen.Id("x"), jen.Qual("fmt", "Errorf").Call(
			jen.Lit(fmt.Sprintf("at %s: %%d bytes, over the array length %d", ti.Path, ti.Len)), jen.Len(jen.Id("p")))),
	)
	g.Copy(jen.Add(x).Index(jen.Op(":")), jen.Id("p"))
}

// decodeInto emits the decoding of the next value of the msgpack decoder d
// into the addressable expression target, of type ti. Errors return x, the
// function's result.
func (e *emitter) decodeInto(g *jen.Group, ti *typeInfo, target jen.Code, depth int) {
	ret := func(err jen.Code) *jen.Statement { return jen.Return(jen.Id("x"), err) }
	wrapped := jen.Qual("fmt", "Errorf").Call(jen.Lit("at "+ti.Path+": %w"), jen.Err())
	ifErr := func() *jen.Statement { return jen.If(jen.Err().Op("!=").Nil()).Block(ret(wrapped)) }
	d := strconv.Itoa(depth)
	n, i := jen.Id("n"+d), jen.Id("i"+d)
	switch {
	case ti.Kind.hot():
		g.List(jen.Id("raw"), jen.Err()).Op(":=").Id("d").Dot("DecodeRaw").Call()
		g.Add(ifErr())
		g.List(jen.Id("y"), jen.Err()).Op(":=").Add(e.hotDecodeCall(ti, jen.Id("raw")))
		g.Add(ifErr())
		g.Add(target).Op("=").Add(e.convert(ti, jen.Id("y")))
	case ti.Kind == kindByteArray:
		g.List(jen.Id("raw"), jen.Err()).Op(":=").Id("d").Dot("DecodeRaw").Call()
		g.Add(ifErr())
		e.byteArrayDecode(g, ti, target, jen.Id("raw"))
	case ti.Kind == kindOpaque:
		g.If(jen.Err().Op(":=").Id("d").Dot("Decode").Call(jen.Op("&").Add(target)), jen.Err().Op("!=").Nil()).Block(ret(wrapped))
	case ti.Kind == kindSlice:
		g.List(n, jen.Err()).Op(":=").Id("d").Dot("DecodeArrayLen").Call()
		g.Add(ifErr())
		g.Add(e.countCheck(ti, n, "elements", fmt.Sprintf("%s=%d", ti.Opt, ti.Max), ti.Max))
		g.If(n.Clone().Op(">=").Lit(0)).Block(
			jen.Add(target).Op("=").Make(e.typeExpr(ti.T), n),
			jen.For(i.Clone().Op(":=").Range().Add(target)).BlockFunc(func(g *jen.Group) {
				e.decodeInto(g, ti.Elem, jen.Add(target).Index(i), depth+1)
			}),
		)
	case ti.Kind == kindArray:
		g.List(n, jen.Err()).Op(":=").Id("d").Dot("DecodeArrayLen").Call()
		g.Add(ifErr())
		g.Add(e.countCheck(ti, n, "elements", fmt.Sprintf("the array length %d", ti.Len), ti.Len))
		g.For(i.Clone().Op(":=").Range().Add(n)).BlockFunc(func(g *jen.Group) {
			e.decodeInto(g, ti.Elem, jen.Add(target).Index(i), depth+1)
		})
	case ti.Kind == kindMap:
		k, v := jen.Id("k"+d), jen.Id("v"+d)
		g.List(n, jen.Err()).Op(":=").Id("d").Dot("DecodeMapLen").Call()
		g.Add(ifErr())
		g.Add(e.countCheck(ti, n, "entries", fmt.Sprintf("%s=%d", ti.Opt, ti.Max), ti.Max))
		g.If(n.Clone().Op(">=").Lit(0)).Block(
			jen.Add(target).Op("=").Make(e.typeExpr(ti.T), n),
			jen.For(jen.Range().Add(n)).BlockFunc(func(g *jen.Group) {
				g.Var().Add(k).Add(e.typeExpr(ti.Key.T))
				g.BlockFunc(func(g *jen.Group) { e.decodeInto(g, ti.Key, k, depth+1) })
				g.Var().Add(v).Add(e.typeExpr(ti.Elem.T))
				g.BlockFunc(func(g *jen.Group) { e.decodeInto(g, ti.Elem, v, depth+1) })
				g.Add(target).Index(k).Op("=").Add(v)
			}),
		)
	case ti.Kind == kindStruct:
		name := jen.Id("name" + d)
		g.List(n, jen.Err()).Op(":=").Id("d").Dot("DecodeMapLen").Call()
		g.Add(ifErr())
		g.For(jen.Range().Add(n)).Block(
			jen.List(name, jen.Err()).Op(":=").Id("d").Dot("DecodeString").Call(),
			ifErr(),
			jen.Switch(name).BlockFunc(func(g *jen.Group) {
				for _, nf := range ti.Fields {
					g.Case(jen.Lit(nf.Wire)).BlockFunc(func(g *jen.Group) {
						e.decodeInto(g, nf.Info, jen.Add(target).Dot(nf.Name), depth+1)
					})
				}
				g.Default().Block(
					jen.If(jen.Err().Op(":=").Id("d").Dot("Skip").Call(), jen.Err().Op("!=").Nil()).Block(ret(wrapped)),
				)
			}),
		)
	}
}

// countCheck emits the check of an element count read from the data
// against its bound. (The count is already at most the number of bytes
// that remain: guardedReader checked every declared length.)
func (e *emitter) countCheck(ti *typeInfo, n *jen.Statement, unit, bound string, limit int) jen.Code {
	return jen.If(n.Clone().Op(">").Lit(limit)).Block(
		jen.Return(jen.Id("x"), jen.Qual("fmt", "Errorf").Call(
			jen.Lit(fmt.Sprintf("at %s: %%d %s, over %s", ti.Path, unit, bound)), n.Clone())),
	)
}

// zero returns the zero value of t as an expression.
func (e *emitter) zero(t types.Type) jen.Code {
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return jen.False()
		case u.Info()&types.IsString != 0:
			return jen.Lit("")
		default:
			return jen.Lit(0)
		}
	case *types.Struct, *types.Array:
		return e.typeExpr(t).Values()
	}
	return jen.Nil()
}

// typeName renders a type name of the package or an imported one.
func (e *emitter) typeName(obj *types.TypeName) *jen.Statement {
	if obj.Pkg() == nil {
		return jen.Id(obj.Name())
	}
	if obj.Pkg() != e.pkg {
		e.importAs(obj.Pkg().Path(), obj.Pkg().Name(), false)
	}
	return jen.Qual(obj.Pkg().Path(), obj.Name())
}

// typeExpr renders t as Go source.
func (e *emitter) typeExpr(t types.Type) *jen.Statement {
	switch t := t.(type) {
	case *types.Alias:
		obj := t.Obj()
		if obj.Pkg() == nil || obj.Pkg() == e.pkg || obj.Exported() {
			s := e.typeName(obj)
			if args := t.TypeArgs(); args.Len() > 0 {
				s = s.Types(e.typeList(args)...)
			}
			return s
		}
		return e.typeExpr(types.Unalias(t))
	case *types.Named:
		s := e.typeName(t.Obj())
		if args := t.TypeArgs(); args.Len() > 0 {
			s = s.Types(e.typeList(args)...)
		}
		return s
	case *types.Basic:
		if t.Kind() == types.UnsafePointer {
			return jen.Qual("unsafe", "Pointer")
		}
		return jen.Id(t.Name())
	case *types.Pointer:
		return jen.Op("*").Add(e.typeExpr(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(e.typeExpr(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(e.typeExpr(t.Elem()))
	case *types.Map:
		return jen.Map(e.typeExpr(t.Key())).Add(e.typeExpr(t.Elem()))
	case *types.Chan:
		switch t.Dir() {
		case types.SendOnly:
			return jen.Chan().Op("<-").Add(e.typeExpr(t.Elem()))
		case types.RecvOnly:
			return jen.Op("<-").Chan().Add(e.typeExpr(t.Elem()))
		}
		return jen.Chan().Add(e.typeExpr(t.Elem()))
	case *types.Signature:
		return jen.Func().Add(e.signature(t))
	case *types.Struct:
		return jen.StructFunc(func(g *jen.Group) {
			for v := range t.Fields() {
				if v.Embedded() {
					g.Add(e.typeExpr(v.Type()))
				} else {
					g.Id(v.Name()).Add(e.typeExpr(v.Type()))
				}
			}
		})
	case *types.Interface:
		return jen.InterfaceFunc(func(g *jen.Group) {
			for et := range t.EmbeddedTypes() {
				g.Add(e.typeExpr(et))
			}
			for m := range t.ExplicitMethods() {
				g.Id(m.Name()).Add(e.signature(m.Type().(*types.Signature)))
			}
		})
	}
	// Not reached for a type-checked struct field; keep the output
	// compilable-looking for diagnosis.
	return jen.Id(types.TypeString(t, nil))
}

// typeList renders a list of type arguments.
func (e *emitter) typeList(l *types.TypeList) []jen.Code {
	out := make([]jen.Code, l.Len())
	for i := range l.Len() {
		out[i] = e.typeExpr(l.At(i))
	}
	return out
}

// signature renders the parameters and results of a function type.
func (e *emitter) signature(sig *types.Signature) *jen.Statement {
	tuple := func(t *types.Tuple, variadic bool) []jen.Code {
		var out []jen.Code
		for i := range t.Len() {
			vt := t.At(i).Type()
			if variadic && i == t.Len()-1 {
				out = append(out, jen.Op("...").Add(e.typeExpr(vt.(*types.Slice).Elem())))
				continue
			}
			out = append(out, e.typeExpr(vt))
		}
		return out
	}
	return jen.Params(tuple(sig.Params(), sig.Variadic())...).Params(tuple(sig.Results(), false)...)
}
