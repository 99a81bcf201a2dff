package main

import (
	"fmt"
	"go/types"

	"github.com/dave/jennifer/jen"
)

// Same-key read-modify-write accessors: UpdateF for every field, AddF for
// integer fields. They are built on (*session.Session).UpdateRaw, the
// runtime's compare-and-set, with the field's own encoder and decoder, so
// an UpdateF stores nothing SetF would refuse (the same bound checks, the
// same errors) and reads nothing the getter would not (the same range
// checks; a value that does not decode counts as absent, as for the
// getter).
//
// The function given to UpdateF takes the current value alone, not
// (value, ok) as session.Update does: the typed view already treats an
// absent field as its zero value (Load leaves it zero), and the zero value
// is what a counter or a cart starts from, so the flag would be one more
// parameter for every caller to ignore. An undecodable stored value (left
// by a build where the field had another type) counts as absent too, so
// that a deploy that retypes a field fails no request; the engine still
// replaces it only if it holds the bytes read.
//
// The generated bodies use only the local names in localNames (b, ok,
// err, x, y, d, p) and the parameters fn and delta, which are reserved
// there too: a package type of one of those names would be shadowed where
// the bodies name the field's type.

// updaters emits UpdateF, and AddF for an integer field.
func (e *emitter) updaters(st *sessionType, sf *sessionField) {
	e.updateMethod(st, sf)
	if sf.Info.Kind == kindInt || sf.Info.Kind == kindUint {
		e.addMethod(st, sf)
	}
}

// updateMethod emits UpdateF: fn applied to the stored value through
// UpdateRaw, encoded and checked by encodeF.
func (e *emitter) updateMethod(st *sessionType, sf *sessionField) {
	f := e.f
	T, F := st.Name, sf.Name
	view := T + "View"
	keyName := T + "Key" + F
	ti := sf.Info
	typ := func() *jen.Statement { return e.typeExpr(ti.T) }

	checked := "over the session's size limit"
	if b := describeBounds(ti); b != "" {
		checked = fmt.Sprintf("over its declared bounds (%s) or the session's size limit", b)
	}
	e.doc(f.Group, "Update%s changes %s.%s (key %q) with fn, atomically: fn gets the stored value (the zero value when the key is absent%s; a copy fn may modify) and returns the new one, which the engine stores only if the key still holds what fn was given. When another request or process changed the key in between, fn is called again with the fresh value (so fn must have no other effects), at most session.MaxUpdateTries times; then the error wraps session.ErrConflict. The new value is checked as by Set%s: %s, the error wraps session.ErrTooLarge. A stored value that cannot be decoded (one written by a build where the field had another type) counts as absent and is reported as the getter reports it; an error from fn is returned as it is. On any error nothing changes. The change goes to the engine at once, whatever the flush mode; Update%s returns the value stored.",
		F, T, F, sf.Key, updateFallsBack(sf), F, checked, F)
	f.Func().Params(jen.Id("v").Id(view)).Id("Update"+F).Params(
		jen.Id("ctx").Qual("context", "Context"),
		jen.Id("fn").Func().Params(typ()).Params(typ(), jen.Error()),
	).Params(typ(), jen.Error()).Block(
		// x is the value stored by the try that succeeded.
		jen.Var().Id("x").Add(typ()),
		jen.List(jen.Id("_"), jen.Err()).Op(":=").Add(updateCall(sf, keyName)).Call(
			jen.Id("ctx"), jen.Id(keyName), wasArg(sf),
			jen.Func().Params(jen.Id("b").Index().Byte(), jen.Id("ok").Bool()).Params(jen.Index().Byte(), jen.Error()).Block(
				jen.Var().Id("y").Add(typ()),
				jen.If(jen.Id("ok")).Block(
					jen.If(
						jen.List(jen.Id("d"), jen.Err()).Op(":=").Id("v").Dot("decode"+F).Call(jen.Id("b")),
						jen.Err().Op("!=").Nil(),
					).Block(
						e.reportUndecodable(st, sf),
					).Else().Block(
						jen.Id("y").Op("=").Id("d"),
					),
				),
				jen.List(jen.Id("y"), jen.Err()).Op(":=").Id("fn").Call(jen.Id("y")),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
				jen.List(jen.Id("p"), jen.Err()).Op(":=").Id("v").Dot("encode"+F).Call(jen.Id("y")),
				jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
				jen.Id("x").Op("=").Id("y"),
				jen.Return(jen.Id("p"), jen.Nil()),
			),
		),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(e.zero(ti.T), jen.Err())),
		jen.Return(jen.Id("x"), jen.Nil()),
	)
}

// updateCall is the compare-and-set UpdateF is built on: UpdateRaw, or
// UpdateRawRenamed for a field with old keys (was=).
func updateCall(sf *sessionField, keyName string) *jen.Statement {
	if len(sf.Was) > 0 {
		return jen.Id("v").Dot("s").Dot("UpdateRawRenamed")
	}
	return jen.Id("v").Dot("s").Dot("UpdateRaw")
}

// updateFallsBack says, for UpdateF's doc comment, what a renamed field
// starts from.
func updateFallsBack(sf *sessionField) string {
	if len(sf.Was) == 0 {
		return ""
	}
	return fmt.Sprintf(" and its old %s too, which the change then removes", keyList(sf.Was))
}

// wasArg is the argument of UpdateRawRenamed listing sf's old keys, or
// nothing for UpdateRaw.
func wasArg(sf *sessionField) jen.Code {
	if len(sf.Was) == 0 {
		return jen.Null()
	}
	return jen.Index().String().Values(litKeys(sf.Was)...)
}

// addMethod emits AddF for an integer field: UpdateF with a sum that must
// stay in the range of the field's type.
func (e *emitter) addMethod(st *sessionType, sf *sessionField) {
	f := e.f
	T, F := st.Name, sf.Name
	view := T + "View"
	keyName := T + "Key" + F
	ti := sf.Info
	typ := func() *jen.Statement { return e.typeExpr(ti.T) }
	rng := e.rangeName(ti.T)

	x, y, delta := jen.Id("x"), jen.Id("y"), jen.Id("delta")
	// The sum wraps around on overflow (Go's integer arithmetic is
	// modular), which moves it to the wrong side of x.
	overflow := jen.Add(y.Clone()).Op("<").Add(x.Clone())
	unsigned := fmt.Sprintf(" As delta is unsigned, subtract with Update%s.", F)
	if ti.Kind == kindInt {
		overflow = jen.Parens(delta.Clone().Op(">").Lit(0).Op("&&").Add(y.Clone()).Op("<").Add(x.Clone())).
			Op("||").Parens(delta.Clone().Op("<").Lit(0).Op("&&").Add(y.Clone()).Op(">").Add(x.Clone()))
		unsigned = ""
	}
	e.doc(f.Group, "Add%s adds delta to %s.%s (key %q) atomically, as Update%s does (an absent key counts as 0), and returns the sum stored. A sum outside the range of %s is refused with an error wrapping codec.ErrRange, and nothing changes.%s",
		F, T, F, sf.Key, F, rng, unsigned)
	f.Func().Params(jen.Id("v").Id(view)).Id("Add"+F).Params(
		jen.Id("ctx").Qual("context", "Context"),
		jen.Id("delta").Add(typ()),
	).Params(typ(), jen.Error()).Block(
		jen.Return(jen.Id("v").Dot("Update"+F).Call(jen.Id("ctx"),
			jen.Func().Params(jen.Id("x").Add(typ())).Params(typ(), jen.Error()).Block(
				jen.Id("y").Op(":=").Id("x").Op("+").Id("delta"),
				jen.If(overflow).Block(
					jen.Return(jen.Id("x"), jen.Qual("fmt", "Errorf").Call(
						jen.Lit(fmt.Sprintf("%s.%s (key %%q): %%d + %%d is outside the range of %s: %%w", T, F, rng)),
						jen.Id(keyName), jen.Id("x"), jen.Id("delta"), jen.Qual(codecPath, "ErrRange"))),
				),
				jen.Return(jen.Id("y"), jen.Nil()),
			),
		)),
	)
}

// rangeName names an integer type for messages as the package's code
// spells it, with its underlying type when that says the range better:
// "int8", "Level (int8)", "time.Duration (int64)".
func (e *emitter) rangeName(t types.Type) string {
	name := types.TypeString(t, func(p *types.Package) string {
		if p == e.pkg {
			return ""
		}
		return p.Name()
	})
	if u := t.Underlying().String(); u != name {
		return fmt.Sprintf("%s (%s)", name, u)
	}
	return name
}
