package main

import (
	"cmp"
	"fmt"
	"go/token"
	"slices"
	"strconv"
	"strings"
)

// The schema check: what changed between the schema record (what the
// sessions in the engine were written with) and the structs now, each
// change classed by what it does to the values already stored.
//
//   - breaking: a key kept with a wire type its stored values no longer
//     decode as (they read as absent until rewritten), a bound narrowed so
//     that stored values may not fit, the owner index added or moved;
//   - lossy: a key gone without a field taking it over with was= (its
//     stored values become unreachable), a nested struct field removed
//     (dropped at the field's next write);
//   - safe: a new key, a widened bound or integer, a rename with was=, a
//     Go field renamed under the same key.
//
// Breaking and lossy changes fail the run unless -accept names their key.

// changeClass is how a change affects stored values, in rising severity.
type changeClass int

const (
	classSafe changeClass = iota
	classLossy
	classBreaking
)

// String names the class as reports do.
func (c changeClass) String() string {
	return [...]string{"safe", "lossy", "breaking"}[c]
}

// schemaChange is one change between the record and the structs.
type schemaChange struct {
	Pos   token.Position
	Class changeClass
	// Key is what -accept names to accept the change: the session key
	// (the old one for a key gone), or a type's name for a type gone.
	Key string
	Msg string
	// Hint says what to do, in a change not accepted.
	Hint string
	// Accepted is set when -accept names Key.
	Accepted bool
}

// format renders the change as a report line.
func (c schemaChange) format(base string) string {
	msg := c.Class.String() + ": " + c.Msg
	switch {
	case c.Accepted:
		msg += " (accepted by -accept=" + c.Key + ")"
	case c.Hint != "":
		msg += "; " + c.Hint
	}
	return posError{Pos: c.Pos, Msg: msg}.format(base)
}

// formatChanges renders changes one per line, ordered by position.
func formatChanges(changes []schemaChange, base string) string {
	var lines []string
	for _, c := range sortChanges(changes) {
		lines = append(lines, c.format(base))
	}
	return strings.Join(lines, "\n")
}

// sortChanges returns the changes ordered by file, line and column;
// changes at one position keep the order in which they were found.
func sortChanges(changes []schemaChange) []schemaChange {
	out := slices.Clone(changes)
	slices.SortStableFunc(out, func(a, b schemaChange) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return out
}

// report renders the changes of a successful run, and the keys of
// -accept it did not need, for standard error: "" when there are none.
func (res *result) report(base string) string {
	lines := []string{}
	if len(res.Changes) > 0 {
		lines = append(lines, formatChanges(res.Changes, base))
	}
	for _, k := range res.Unused {
		lines = append(lines, fmt.Sprintf("sessiongen: -accept=%s: no breaking or lossy change of key %q to accept; remove it (from the go:generate line too), or it would let a later change through unseen", k, k))
	}
	return strings.Join(lines, "\n")
}

// schemaError is the error of a run whose structs change the stored
// values in ways not accepted.
type schemaError struct {
	// Changes are every change found, accepted or not.
	Changes []schemaChange
	// Refused are the keys of the breaking and lossy changes not
	// accepted.
	Refused []string
	// Record is the schema record's path.
	Record string
}

// Format renders the reports and what to do, paths relative to base.
func (e *schemaError) Format(base string) string {
	changes := "changes"
	if len(e.Refused) == 1 {
		changes = "change"
	}
	ahead := "To go ahead"
	if slices.ContainsFunc(e.Changes, func(c schemaChange) bool { return c.Class == classLossy && !c.Accepted }) {
		ahead = "Carry renamed keys over with was=oldkey; to go ahead"
	}
	return fmt.Sprintf("%s\nsessiongen: %d %s against the schema record %s would lose or break values already stored in sessions (see \"Changing your session struct\" in the README). %s as it is, run sessiongen once with -accept=%s",
		formatChanges(e.Changes, base), len(e.Refused), changes, relPath(base, e.Record), ahead, strings.Join(e.Refused, ","))
}

// Error implements error with absolute paths.
func (e *schemaError) Error() string { return e.Format("") }

// compareSchema returns the changes from the record old to the types sts
// (whose record is cur), with the changes whose key is in accept marked
// accepted.
func (g *generator) compareSchema(old, cur *schemaRecord, sts []*sessionType, accept []string) []schemaChange {
	var changes []schemaChange
	add := func(pos token.Position, class changeClass, key, format string, args ...any) {
		c := schemaChange{Pos: pos, Class: class, Key: key, Msg: fmt.Sprintf(format, args...)}
		c.Accepted = class > classSafe && slices.Contains(accept, key)
		changes = append(changes, c)
	}
	for _, ot := range old.Types {
		i := slices.IndexFunc(sts, func(st *sessionType) bool { return st.Name == ot.Name })
		if i < 0 {
			var keys []string
			for _, f := range ot.Fields {
				keys = append(keys, strconv.Quote(f.Key))
			}
			add(g.noPos(), classLossy, ot.Name, "type %s is in the schema record but not in -type: the values stored under its keys %s become unreachable", ot.Name, strings.Join(keys, ", "))
			changes[len(changes)-1].Hint = "keep generating it, or accept with -accept=" + ot.Name
			continue
		}
		st, nt := sts[i], cur.Types[i]
		typePos := g.position(st.Obj.Pos())
		oldByKey := map[string]schemaField{}
		for _, f := range ot.Fields {
			oldByKey[f.Key] = f
		}
		taken := map[string]bool{} // old keys a field of the struct still reads
		for j, sf := range st.Fields {
			nf := nt.Fields[j]
			name := fmt.Sprintf("key %q (field %s)", nf.Key, nf.Field)
			if of, ok := oldByKey[nf.Key]; ok {
				taken[of.Key] = true
				class, detail := wireChange(nf.Field, of.Type, nf.Type, of.Wire, nf.Wire)
				if of.Field != nf.Field {
					detail = append([]string{fmt.Sprintf("Go field renamed from %s, same key", of.Field)}, detail...)
				}
				if len(detail) > 0 {
					add(sf.Pos, class, nf.Key, "%s: %s", name, strings.Join(detail, "; "))
				}
				continue
			}
			renamed := false
			for _, w := range nf.Was {
				of, ok := oldByKey[w]
				if !ok {
					continue
				}
				taken[w], renamed = true, true
				class, detail := wireChange(nf.Field, of.Type, nf.Type, of.Wire, nf.Wire)
				msg := fmt.Sprintf("%s: renamed from key %q (was=): reads fall back to it until the first write of the field moves the value", name, w)
				if len(detail) > 0 {
					msg += "; " + strings.Join(detail, "; ")
				}
				add(sf.Pos, class, nf.Key, "%s", msg)
				break
			}
			if !renamed {
				add(sf.Pos, classSafe, nf.Key, "%s: new key, of type %s (absent in stored sessions until written)", name, nf.Type)
			}
		}
		for _, of := range ot.Fields {
			if taken[of.Key] {
				continue
			}
			pos, hint := typePos, fmt.Sprintf("if that is intended, accept with -accept=%s", of.Key)
			for j, nf := range nt.Fields {
				if nf.Field == of.Field {
					pos = st.Fields[j].Pos
					hint = fmt.Sprintf("to carry them over, add was=%s to the field's tag: `session:\"%s,was=%s\"`", of.Key, nf.Key, of.Key)
					break
				}
			}
			add(pos, classLossy, of.Key, "key %q (field %s, %s) is gone: the values stored under it become unreachable", of.Key, of.Field, of.Type)
			changes[len(changes)-1].Hint = hint
		}
		oldIdx, newIdx := indexKey(ot), indexKey(nt)
		switch {
		case oldIdx == newIdx:
		case newIdx == "":
			add(typePos, classSafe, oldIdx, "%s: the owner index (key %q) is dropped; the engine's index entries of existing sessions stay until they expire", st.Name, oldIdx)
		case oldIdx == "":
			add(st.Index.Pos, classBreaking, newIdx, "key %q (field %s): the owner index is added: sessions already stored are not indexed by owner until they are written again, so Manager.Sessions and RevokeAll miss them", newIdx, st.Index.Name)
		default:
			add(st.Index.Pos, classBreaking, newIdx, "key %q (field %s): the owner index moves from key %q: sessions already stored are indexed by the old key's value, so Manager.Sessions and RevokeAll miss them until they are written again", newIdx, st.Index.Name, oldIdx)
		}
	}
	return changes
}

// indexKey returns the key of the type's owner index, or "".
func indexKey(t schemaType) string {
	for _, f := range t.Fields {
		if f.Index {
			return f.Key
		}
	}
	return ""
}

// wireChange compares the wire type of a field (of Go type oldT, newT)
// in the record with the one now, and returns the class of the change and
// what changed (nothing when nothing did).
func wireChange(field, oldT, newT string, o, n wireType) (changeClass, []string) {
	class, detail := wireDiff(field, "", oldT, newT, o, n)
	if len(detail) == 0 && oldT != newT {
		detail = []string{fmt.Sprintf("Go type changed from %s to %s, same encoding", oldT, newT)}
	}
	return class, detail
}

// wireDiff compares the wire types o and n at path in field ("" for the
// field itself, "[i]" for its elements...), of Go types oldT and newT.
func wireDiff(field, path, oldT, newT string, o, n wireType) (changeClass, []string) {
	at := ""
	if path != "" {
		at = field + path + ": "
	}
	if o.Kind != n.Kind || o.Bits != n.Bits {
		if widens(o, n) {
			return classSafe, []string{fmt.Sprintf("%swidened from %s to %s (stored values still decode)", at, oldT, newT)}
		}
		if o.Kind == n.Kind {
			return classBreaking, []string{fmt.Sprintf("%snarrowed from %s to %s: stored values outside the range of %s no longer decode and read as absent until the field is written again", at, oldT, newT, newT)}
		}
		return classBreaking, []string{fmt.Sprintf("%sretyped from %s to %s: stored values no longer decode and read as absent until the field is written again", at, oldT, newT)}
	}
	var class changeClass
	var detail []string
	note := func(c changeClass, format string, args ...any) {
		class = max(class, c)
		detail = append(detail, at+fmt.Sprintf(format, args...))
	}
	// noteField is note for a message naming the nested field itself.
	noteField := func(c changeClass, format string, args ...any) {
		class = max(class, c)
		detail = append(detail, fmt.Sprintf(format, args...))
	}
	switch {
	case n.Max < o.Max:
		note(classBreaking, "bound narrowed from %d to %d: values stored under the old bound may not fit", o.Max, n.Max)
	case n.Max > o.Max:
		note(classSafe, "bound widened from %d to %d", o.Max, n.Max)
	}
	if o.Len != n.Len {
		note(classBreaking, "array length changed from %d to %d: stored values no longer decode", o.Len, n.Len)
	}
	if o.Codec != n.Codec {
		note(classBreaking, "encoded by %s instead of %s: stored values may no longer decode", n.Codec, o.Codec)
	}
	sub := func(p string, ow, nw *wireType) {
		if ow == nil || nw == nil {
			return
		}
		c, d := wireDiff(field, path+p, wireString(*ow), wireString(*nw), *ow, *nw)
		class = max(class, c)
		detail = append(detail, d...)
	}
	sub(" (keys)", o.Key, n.Key)
	if o.Kind == "map" {
		sub("[k]", o.Elem, n.Elem)
	} else {
		sub("[i]", o.Elem, n.Elem)
	}
	for _, of := range o.Fields {
		i := slices.IndexFunc(n.Fields, func(f wireField) bool { return f.Name == of.Name })
		if i < 0 {
			noteField(classLossy, "nested field %s (%s) is gone: its stored values are dropped at the field's next write", field+path+"."+of.Name, of.Type)
			continue
		}
		nf := n.Fields[i]
		c, d := wireDiff(field, path+"."+of.Name, of.Type, nf.Type, of.Wire, nf.Wire)
		class = max(class, c)
		detail = append(detail, d...)
	}
	for _, nf := range n.Fields {
		if !slices.ContainsFunc(o.Fields, func(f wireField) bool { return f.Name == nf.Name }) {
			noteField(classSafe, "nested field %s (%s) is new: zero in stored values", field+path+"."+nf.Name, nf.Type)
		}
	}
	return class, detail
}

// wireString names a wire type for messages about a component of a
// field (an element, a map key), which the record holds no Go type for.
func wireString(w wireType) string {
	sub := func(p *wireType) string {
		if p == nil {
			return "?"
		}
		return wireString(*p)
	}
	switch w.Kind {
	case "int", "uint":
		return w.Kind + strconv.Itoa(w.Bits)
	case "bytes":
		return "[]byte"
	case "time":
		return "time.Time"
	case "bytearray":
		return fmt.Sprintf("[%d]byte", w.Len)
	case "array":
		return fmt.Sprintf("[%d]%s", w.Len, sub(w.Elem))
	case "slice":
		return "[]" + sub(w.Elem)
	case "map":
		return fmt.Sprintf("map[%s]%s", sub(w.Key), sub(w.Elem))
	case "opaque":
		return w.Codec
	}
	return w.Kind
}

// widens reports whether every value stored as o decodes as n: an
// integer into a wider one (an unsigned one into a wider signed one too),
// float32 into float64, an integer of up to 32 bits into float64.
func widens(o, n wireType) bool {
	switch {
	case o.Kind == n.Kind && (o.Kind == "int" || o.Kind == "uint"):
		return n.Bits > o.Bits
	case o.Kind == "uint" && n.Kind == "int":
		return n.Bits > o.Bits
	case o.Kind == "float32" && n.Kind == "float64":
		return true
	case (o.Kind == "int" || o.Kind == "uint") && n.Kind == "float64":
		return o.Bits <= 32
	}
	return false
}
