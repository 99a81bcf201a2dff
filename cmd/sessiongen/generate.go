package main

import (
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	session "github.com/sessiongen/sessiongen/runtime"
	"golang.org/x/tools/go/packages"
)

// options are the inputs of one run.
type options struct {
	// Target is the package: a directory or a package pattern.
	Target string
	// Types are the names of the session structs.
	Types []string
	// Output is the file to write; empty means the default,
	// <lowercased first type>_session.go in the package directory.
	Output string
	// Budget is the largest worst-case encoded size allowed per type.
	Budget int
	// GoFile and GoLine locate the go:generate line when run by go
	// generate, for problems that have no position in the code.
	GoFile string
	GoLine int
	// GoPackage, set by go generate, is the package the go:generate line
	// is in; it must be the package loaded.
	GoPackage string
	// Accept lists the keys whose breaking or lossy changes against the
	// schema record go ahead (-accept).
	Accept []string
}

// result is the generated file.
type result struct {
	// Src is the file's content.
	Src []byte
	// Output is the absolute path the file belongs at.
	Output string
	// Schema is the schema record of the types, and SchemaPath where it
	// belongs (next to Output).
	Schema     []byte
	SchemaPath string
	// Changes are the changes against the record found on disk (none
	// when there was no record), each safe or accepted.
	Changes []schemaChange
	// Unused are the keys of -accept that no breaking or lossy change
	// needed.
	Unused []string
}

// sessionType is a session struct to generate accessors for.
type sessionType struct {
	// Name is the struct's type name.
	Name string
	// Obj is the struct's type name object.
	Obj *types.TypeName
	// Struct is the struct type.
	Struct *types.Struct
	// Fields are the stored fields, in declaration order.
	Fields []*sessionField
	// MaxSize is the worst-case encoded size of all fields, keys included.
	MaxSize int
	// Index is the owner-index field (tag option index), or nil.
	Index *sessionField
}

// sessionField is one stored field of a session struct.
type sessionField struct {
	// Name is the Go field name.
	Name string
	// Key is the session key.
	Key string
	// Info describes the field's type.
	Info *typeInfo
	// Was lists the keys the field was stored under before (tag option
	// was=): reads fall back to them, writes remove them.
	Was []string
	// Flash is set by the tag option flash: the field gets PopF.
	Flash bool
	// Pos is where the field is declared.
	Pos token.Position
}

// defaultOutput returns the default output file name for the types.
func defaultOutput(typeNames []string) string {
	return strings.ToLower(typeNames[0]) + "_session.go"
}

// generate loads the package, checks the types and returns the generated
// file, or an error: an errorList of positioned problems, or a plain error
// when the package cannot be loaded.
func generate(opts options) (*result, error) {
	if len(opts.Types) == 0 {
		return nil, fmt.Errorf("no type given: use -type=Name[,Name...]")
	}
	if opts.Budget <= 0 {
		return nil, fmt.Errorf("-budget must be positive, not %d", opts.Budget)
	}
	outBase := defaultOutput(opts.Types)
	var outAbs string
	if opts.Output != "" {
		var err error
		if outAbs, err = filepath.Abs(opts.Output); err != nil {
			return nil, err
		}
		outBase = filepath.Base(outAbs)
	}
	// The output file is about to be replaced: its errors (a stale file
	// does not compile) and declarations do not count.
	isOutput := func(filename string) bool { return filepath.Base(filename) == outBase }
	pkg, typeErrs, err := loadPackage(opts.Target, isOutput)
	if err != nil {
		return nil, err
	}
	if opts.GoPackage != "" && opts.GoPackage != pkg.Name {
		return nil, fmt.Errorf("go:generate runs in package %s, but the package in %s is %s: sessiongen reads non-test files only", opts.GoPackage, packageDir(pkg), pkg.Name)
	}
	dir := packageDir(pkg)
	if outAbs == "" {
		outAbs = filepath.Join(dir, outBase)
	} else if filepath.Dir(outAbs) != dir {
		return nil, fmt.Errorf("-output %s: the file must be in the package directory %s", opts.Output, dir)
	}
	isOutput = func(filename string) bool { return filename == outAbs }
	if err := checkOwnFile(outAbs); err != nil {
		return nil, err
	}

	g := &generator{
		pkg:      pkg,
		opts:     opts,
		typeErrs: typeErrs,
		isOutput: isOutput,
		names:    map[string]token.Position{},
	}
	var sts []*sessionType
	seenType := map[string]bool{}
	for _, name := range opts.Types {
		if seenType[name] {
			g.errs.add(g.noPos(), "type %s given twice in -type", name)
			continue
		}
		seenType[name] = true
		if st := g.sessionType(name); st != nil {
			sts = append(sts, st)
		}
	}
	if err := g.errs.err(); err != nil {
		return nil, err
	}
	src, err := emit(pkg.Types, sts, opts, func(name string) bool { return g.lookup(name) != nil })
	if err != nil {
		return nil, err
	}
	res := &result{Src: src, Output: outAbs, SchemaPath: schemaPath(outAbs)}
	cur := newSchema(sts, pkg.Types)
	res.Schema = cur.encode()
	old, err := readSchema(res.SchemaPath)
	if err != nil {
		return nil, err
	}
	if old != nil {
		res.Changes = g.compareSchema(old, cur, sts, opts.Accept)
	}
	var refused []string
	for _, c := range sortChanges(res.Changes) {
		if c.Class > classSafe && !c.Accepted && !slices.Contains(refused, c.Key) {
			refused = append(refused, c.Key)
		}
	}
	if len(refused) > 0 {
		return nil, &schemaError{Changes: res.Changes, Refused: refused, Record: res.SchemaPath}
	}
	for _, k := range opts.Accept {
		if !slices.ContainsFunc(res.Changes, func(c schemaChange) bool { return c.Accepted && c.Key == k }) {
			res.Unused = append(res.Unused, k)
		}
	}
	return res, nil
}

// header is the first line of every generated file.
const header = "// Code generated by sessiongen. DO NOT EDIT.\n"

// checkOwnFile returns an error when the file at path exists and was not
// written by sessiongen: it is not to be replaced (or ignored while
// loading the package).
func checkOwnFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, len(header))
	n, _ := io.ReadFull(f, buf)
	if string(buf[:n]) != header {
		return fmt.Errorf("%s exists and was not generated by sessiongen (it does not start with %q): remove it or choose another -output", path, strings.TrimSuffix(header, "\n"))
	}
	return nil
}

// generator holds the state of one run's checks.
type generator struct {
	pkg      *packages.Package
	opts     options
	typeErrs []packages.Error
	isOutput func(filename string) bool
	errs     errorList
	// names maps each package-level name the file will declare to the
	// position of what it is generated from.
	names map[string]token.Position
}

// position returns the position of p.
func (g *generator) position(p token.Pos) token.Position {
	return g.pkg.Fset.Position(p)
}

// noPos returns the position of the go:generate line, when known, for
// problems that have no place in the code.
func (g *generator) noPos() token.Position {
	if g.opts.GoFile == "" {
		return token.Position{}
	}
	name := g.opts.GoFile
	if !filepath.IsAbs(name) {
		name = filepath.Join(packageDir(g.pkg), name)
	}
	return token.Position{Filename: name, Line: g.opts.GoLine, Column: 1}
}

// lookup returns the package-level object name, ignoring what the output
// file declares.
func (g *generator) lookup(name string) types.Object {
	obj := g.pkg.Types.Scope().Lookup(name)
	if obj == nil || g.isOutput(g.position(obj.Pos()).Filename) {
		return nil
	}
	return obj
}

// sessionType checks the struct type name and its fields. It records the
// problems and returns nil when there are any.
func (g *generator) sessionType(name string) *sessionType {
	obj := g.lookup(name)
	if obj == nil {
		msg := fmt.Sprintf("type %s not found in package %s (%s)", name, g.pkg.Name, g.pkg.PkgPath)
		if len(g.typeErrs) > 0 {
			msg += fmt.Sprintf("; the package has type errors, the first: %s", g.typeErrs[0].Msg)
		}
		g.errs.add(g.noPos(), "%s", msg)
		return nil
	}
	pos := g.position(obj.Pos())
	tn, ok := obj.(*types.TypeName)
	if !ok {
		g.errs.add(pos, "%s is a %s, not a type", name, objKind(obj))
		return nil
	}
	if tn.IsAlias() {
		g.errs.add(pos, "%s is an alias: name the struct type it stands for", name)
		return nil
	}
	named, ok := tn.Type().(*types.Named)
	if !ok {
		g.errs.add(pos, "%s is not a defined type", name)
		return nil
	}
	if named.TypeParams().Len() > 0 {
		g.errs.add(pos, "%s is generic: session structs cannot have type parameters", name)
		return nil
	}
	st, ok := named.Underlying().(*types.Struct)
	if !ok {
		g.errs.add(pos, "%s is %s, not a struct", name, typeString(named.Underlying()))
		return nil
	}
	if localNames[name] || localNumbered(name) || name == "data" {
		g.errs.add(pos, "%s is a name the generated code uses as a local variable: rename the type", name)
		return nil
	}
	s := &sessionType{Name: name, Obj: tn, Struct: st}
	errsBefore := len(g.errs)
	type keyUse struct {
		name string
		pos  token.Position
	}
	keys := map[string]keyUse{}
	var index *keyUse // the first field tagged index
	a := &analyzer{visiting: map[*types.Named]bool{named: true}}
	for i := range st.NumFields() {
		f := st.Field(i)
		fpos := g.position(f.Pos())
		tag, ok, err := lookupTag(st.Tag(i), "session")
		if err != nil {
			g.errs.add(fpos, "field %s: %s", f.Name(), malformedTag(st.Tag(i), err))
			continue
		}
		if !ok {
			continue
		}
		ti, err := parseTag(tag, false)
		if err != nil {
			g.errs.add(fpos, "field %s: %v", f.Name(), err)
			continue
		}
		if ti.Skip {
			continue
		}
		if !f.Exported() {
			g.errs.add(fpos, "field %s is unexported: export it to get accessors, or drop its session tag", f.Name())
			continue
		}
		if first, dup := keys[ti.Key]; dup {
			g.errs.add(fpos, "field %s: duplicate session key %q, first used by field %s at %s", f.Name(), ti.Key, first.name, shortPos(first.pos))
			continue
		}
		keys[ti.Key] = keyUse{f.Name(), fpos}
		if ti.Index && len(ti.Was) > 0 {
			g.errs.add(fpos, "field %s: the owner index (tag option index) cannot be renamed with was=: the engine indexes sessions by the key they were written with; keep its key, or move owners with a new field and Manager.RevokeAll", f.Name())
			continue
		}
		if ti.Flash && (ti.Index || len(ti.Was) > 0) {
			g.errs.add(fpos, "field %s: tag option flash does not combine with index or was=: a flash value lives until the next request reads it", f.Name())
			continue
		}
		if !g.checkWas(f.Name(), fpos, ti, st, i) {
			continue
		}
		if ti.Index {
			if index != nil {
				g.errs.add(fpos, "field %s: a second owner index (tag option index): field %s at %s is already the index; a session struct has at most one", f.Name(), index.name, shortPos(index.pos))
				continue
			}
			index = &keyUse{f.Name(), fpos}
		}
		if !validType(f.Type()) {
			g.errs.add(fpos, "field %s: its type could not be resolved%s", f.Name(), g.typeErrHint())
			continue
		}
		info, err := a.analyze(f.Type(), ti.Bounds, level{path: f.Name(), top: true, opt: "max", tag: tag})
		if err != nil {
			g.errs.add(fpos, "field %s (key %q): %v", f.Name(), ti.Key, err)
			continue
		}
		if name := localNameClash(info, pkgOf(g)); name != "" {
			g.errs.add(fpos, "field %s: its type uses the type name %s, which the generated code uses as a local variable: rename the type", f.Name(), name)
			continue
		}
		if ti.Index && !indexable(info) {
			g.errs.add(fpos, "field %s (key %q): the owner index (tag option index) must be a string or integer type, or a named type over one; %s is not", f.Name(), ti.Key, describeType(info))
			continue
		}
		sf := &sessionField{Name: f.Name(), Key: ti.Key, Info: info, Was: ti.Was, Flash: ti.Flash, Pos: fpos}
		s.Fields = append(s.Fields, sf)
		if ti.Index {
			s.Index = sf
		}
	}
	if len(g.errs) > errsBefore {
		return nil
	}
	if len(s.Fields) == 0 {
		g.errs.add(pos, "%s has no field with a session tag: tag the fields to store, e.g. `session:\"key\"`", name)
		return nil
	}
	g.checkBudget(s, pos)
	g.checkNames(s, pos)
	if len(g.errs) > errsBefore {
		return nil
	}
	return s
}

// checkWas records an error, and returns false, when a key that field
// name (the i-th of st, tagged ti) was renamed from is the key, or an old
// key, of another field of st: reads of the two fields would meet.
func (g *generator) checkWas(name string, pos token.Position, ti tagInfo, st *types.Struct, i int) bool {
	for j := range st.NumFields() {
		if j == i {
			continue
		}
		tag, ok, err := lookupTag(st.Tag(j), "session")
		if err != nil || !ok {
			continue
		}
		other, err := parseTag(tag, false)
		if err != nil || other.Skip {
			continue
		}
		for _, w := range ti.Was {
			if w == other.Key {
				g.errs.add(pos, "field %s: was=%s names the key of field %s at %s: an old key must be free", name, w, st.Field(j).Name(), shortPos(g.position(st.Field(j).Pos())))
				return false
			}
			if j < i && slices.Contains(other.Was, w) {
				g.errs.add(pos, "field %s: was=%s is also an old key of field %s at %s: the old value can move to one field only", name, w, st.Field(j).Name(), shortPos(g.position(st.Field(j).Pos())))
				return false
			}
		}
	}
	return true
}

// checkBudget records an error when the worst-case encoded size of s can
// exceed the budget, with the worst case of every field and the most the
// runtime's per-session settings add (remember-me and deadline).
func (g *generator) checkBudget(s *sessionType, pos token.Position) {
	total := session.SettingsSize
	parts := []string{fmt.Sprintf("session settings %d", session.SettingsSize)}
	var largest *sessionField
	for _, f := range s.Fields {
		n := addSize(len(f.Key), f.Info.Size)
		total = addSize(total, n)
		parts = append(parts, fmt.Sprintf("%s %d", f.Key, n))
		if largest == nil || n > addSize(len(largest.Key), largest.Info.Size) {
			largest = f
		}
	}
	s.MaxSize = total
	if total <= g.opts.Budget {
		return
	}
	g.errs.add(pos, "%s: worst-case encoded size %d bytes exceeds budget %d: %s (bytes of key + value per field; largest: field %s at %s); lower its bounds or raise -budget",
		s.Name, total, g.opts.Budget, strings.Join(parts, ", "), largest.Name, shortPos(largest.Pos))
}

// checkNames records an error for each generated name that collides with a
// declaration of the package or with another generated name.
func (g *generator) checkNames(s *sessionType, pos token.Position) {
	declare := func(name string, at token.Position, what string) {
		if obj := g.lookup(name); obj != nil {
			g.errs.add(at, "generated %s %s conflicts with %s declared at %s", what, name, objKind(obj), shortPos(g.position(obj.Pos())))
			return
		}
		if prev, dup := g.names[name]; dup {
			g.errs.add(at, "generated %s %s is also generated for the declaration at %s", what, name, shortPos(prev))
			return
		}
		g.names[name] = at
	}
	declare(s.Name+"View", pos, "type")
	declare(s.Name+"MaxSize", pos, "constant")
	declare(s.Name+"From", pos, "function")
	declare(s.Name+"Of", pos, "function")
	declare(s.Name+"Options", pos, "function")
	if s.Index != nil {
		declare(s.Name+"OwnerKey", s.Index.Pos, "constant")
	}
	methods := map[string]string{"Session": "", "Load": "", "Save": ""}
	for _, f := range s.Fields {
		declare(s.Name+"Key"+f.Name, f.Pos, "constant")
		ms := []string{f.Name, "Set" + f.Name, "Update" + f.Name, "Remove" + f.Name}
		if k := f.Info.Kind; k == kindInt || k == kindUint {
			ms = append(ms, "Add"+f.Name)
		}
		if f.Flash {
			ms = append(ms, "Pop"+f.Name)
		}
		for _, m := range ms {
			if other, dup := methods[m]; dup {
				if other == "" {
					g.errs.add(f.Pos, "field %s: generated method %sView.%s is also a method every view has: rename the field", f.Name, s.Name, m)
				} else {
					g.errs.add(f.Pos, "field %s: generated method %sView.%s is also generated for field %s: rename a field", f.Name, s.Name, m, other)
				}
				continue
			}
			methods[m] = f.Name
		}
	}
}

// indexable reports whether a field of type ti can be the owner index: a
// string or an integer of any width, or a named type over one, encoded by
// package codec (a type with its own msgpack methods is not: the runtime
// reads the owner from the standard encoding).
func indexable(ti *typeInfo) bool {
	return ti.Kind == kindString || ti.Kind == kindInt || ti.Kind == kindUint
}

// describeType names the type of ti for a message, with what it is made
// of when the name does not say it.
func describeType(ti *typeInfo) string {
	name := typeString(ti.T)
	if _, ok := ti.T.(*types.Named); !ok || ti.Kind == kindTime {
		return name
	}
	if ti.Kind == kindOpaque {
		enc, _ := marshalMethods(ti.T)
		return fmt.Sprintf("%s (it encodes itself with %s)", name, enc)
	}
	return fmt.Sprintf("%s (%s)", name, typeString(ti.T.Underlying()))
}

// pkgOf returns the types of the package being generated for.
func pkgOf(g *generator) *types.Package { return g.pkg.Types }

// localNames are the local variable and parameter names of generated
// code; numbered ones (n0, i1, ...) match localNumbered.
var localNames = map[string]bool{
	"b": true, "ok": true, "err": true, "x": true, "y": true, "v": true, "d": true, "r": true,
	"p": true, "raw": true, "ctx": true, "fn": true, "delta": true,
}

// localNumbered reports a numbered local name of generated code.
func localNumbered(name string) bool {
	for _, prefix := range []string{"name", "n", "i", "k", "v", "e", "b"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
			return true
		}
	}
	return false
}

// localNameClash returns the name of a type of pkg used by ti that a local
// variable of the generated code would shadow, or "".
func localNameClash(ti *typeInfo, pkg *types.Package) string {
	if n, ok := ti.T.(*types.Named); ok && n.Obj().Pkg() == pkg {
		if name := n.Obj().Name(); localNames[name] || localNumbered(name) {
			return name
		}
	}
	for _, c := range []*typeInfo{ti.Key, ti.Elem} {
		if c != nil {
			if name := localNameClash(c, pkg); name != "" {
				return name
			}
		}
	}
	for _, nf := range ti.Fields {
		if name := localNameClash(nf.Info, pkg); name != "" {
			return name
		}
	}
	return ""
}

// shortPos renders a position as file:line:col with the file's base name:
// positions quoted inside a message are in the package's directory.
func shortPos(p token.Position) string {
	return fmt.Sprintf("%s:%d:%d", filepath.Base(p.Filename), p.Line, p.Column)
}

// typeErrHint returns the first type error of the package, for messages.
func (g *generator) typeErrHint() string {
	if len(g.typeErrs) == 0 {
		return ""
	}
	return ": " + g.typeErrs[0].Msg
}

// validType reports whether t is free of invalid (unresolved) types.
func validType(t types.Type) bool {
	return !strings.Contains(types.TypeString(t, nil), "invalid type")
}

// objKind names the kind of a package-level object for messages.
func objKind(obj types.Object) string {
	switch obj.(type) {
	case *types.Func:
		return "function"
	case *types.Var:
		return "variable"
	case *types.Const:
		return "constant"
	case *types.TypeName:
		return "type"
	}
	return "declaration"
}

// goLine parses the GOLINE variable that go generate sets.
func goLine() int {
	n, _ := strconv.Atoi(os.Getenv("GOLINE"))
	return n
}
