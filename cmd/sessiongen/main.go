// Command sessiongen generates typed session accessors from a Go struct
// whose fields carry `session:"key"` tags, and proves at generate time that
// a session holding the struct's fields stays within a size budget.
//
// Usage:
//
//	//go:generate sessiongen -type=UserSession
//	type UserSession struct {
//		UserID int64     `session:"uid"`
//		Name   string    `session:"name,max=64"`
//		Seen   time.Time `session:"seen"`
//		Cart   []string  `session:"cart,max=8,elem=32"`
//	}
//
// go generate then writes usersession_session.go beside the struct. For a
// struct T with a stored field F of type X under key k it declares:
//
//	const TKeyF = "k"                                 // the session key
//	type TView struct{ ... }                          // typed view of a session
//	func TFrom(ctx context.Context) TView             // view of the request's session
//	func TOf(s *session.Session) TView                // view of s
//	func TOptions() []session.Option                  // options of session.New T implies (size limit, proof, owner key)
//	const TOwnerKey = "k"                             // with an owner index only
//	func (v TView) Session() *session.Session
//	func (v TView) F() (X, bool)                      // ok false: absent or undecodable
//	func (v TView) SetF(ctx context.Context, x X) error
//	func (v TView) UpdateF(ctx context.Context, fn func(X) (X, error)) (X, error)
//	func (v TView) AddF(ctx context.Context, delta X) (X, error) // integer X only
//	func (v TView) PopF(ctx context.Context) (X, bool, error) // tag option flash only
//	func (v TView) RemoveF(ctx context.Context) error
//	func (v TView) Load() (T, error)                  // every field at once
//	func (v TView) Save(ctx context.Context, t T) error // every field, one change
//
// Values are msgpack-encoded exactly as untyped mode encodes them, so
// session.Value[X](s, "k") reads what SetF wrote. Booleans, integers, floats,
// strings, []byte, [N]byte and time.Time are encoded and decoded by package
// runtime/codec, without reflection. Arrays, slices, maps and structs are
// encoded by msgpack.Marshal and decoded by generated code that walks the
// msgpack data (reflection only for types with their own msgpack methods).
// Narrow integers are range-checked on read at every depth (a stored 300 is
// not an int8), and element counts are checked against their bounds before
// anything is allocated. A value that does not decode (one written by a
// build where the field had another type) reads as absent: the getter
// returns ok == false, Load leaves the field zero, UpdateF starts from the
// zero value, and the manager's error reporting (session.WithErrorReporter)
// hears of it once per key and process, with the key, the type stored and
// the type wanted. No request fails because of it, and the next write of
// the field replaces the value. A setter refuses a value
// over its declared bound with an error wrapping session.ErrTooLarge and
// changes nothing.
//
// UpdateF is a read-modify-write that loses no concurrent write: fn gets
// the stored value (the zero value when absent) and returns the new one,
// which is stored by a compare-and-set at the engine
// ((*session.Session).UpdateRaw), fn running again on the fresh value
// after a conflict. The new value passes the setter's checks; a stored
// value that does not decode counts as absent, as for the getter. AddF, for integer fields, adds delta the same way and
// refuses a sum outside the field type's range with an error wrapping
// codec.ErrRange (runtime/codec), storing nothing.
//
// PopF, for a field tagged flash (`session:"notice,max=128,flash"`),
// returns the value and removes the key in one compare-and-set
// ((*session.Session).PopRaw): a message shown once, after a redirect
// say. Two requests popping at once never both get it; ok is false when
// the key is absent, and nothing is written then.
//
// # Tag grammar
//
//	session:"key"                     store the field under key
//	session:"key,max=N"               string, []byte: at most N bytes;
//	                                  slice, map: at most N elements;
//	                                  a type with its own msgpack methods:
//	                                  at most N encoded bytes
//	session:"key,max=N,elem=M"        slice, map, array: each element (map
//	                                  value) bounded by M as max bounds a field
//	session:"key,max=N,keymax=K"      map with string keys: keys of at most K bytes
//	session:"key,index"               the owner index (combines with max=N)
//	session:"key,was=old"             a rename from key old (see Changing a struct)
//	session:"key,flash"               also PopF: read once, removed in the same change
//	session:"-"                       not stored (as is a field without a session tag)
//
// A key is 1 to 128 bytes of valid UTF-8, unique within the struct. A struct
// with no tagged field is an error. Tagged fields must be exported.
//
// # Owner index
//
// The option index marks the field whose value names the session's owner,
// e.g. the signed-in user: `session:"uid,index"`. At most one field of a
// struct carries it, and its type is a string or an integer of any width,
// or a named type over one. sessiongen then declares TOwnerKey, the
// field's key, and TOptions also returns session.WithOwnerKey(TOwnerKey)
// (see Size budget for the rest): pass it to session.New, e.g.
//
//	mgr, err := session.New(append(TOptions(), session.WithStore(st))...)
//
// and the engine keeps an index of sessions by owner, through which
// (*session.Manager).Sessions lists an owner's sessions and
// (*session.Manager).RevokeAll ends them on every node.
//
// Supported field types: bool; int, int8..int64; uint, uint8..uint64;
// float32, float64; string; []byte; [N]byte; time.Time; time.Duration and
// other named types over these (stored as their underlying type);
// arrays [N]T, bounded slices []T and bounded maps map[K]V (K a string or
// integer type) of supported types; structs of supported fields; and types
// that implement msgpack.CustomEncoder/CustomDecoder,
// msgpack.Marshaler/Unmarshaler or encoding.BinaryMarshaler or
// encoding.TextMarshaler (and their decoding counterparts), with an
// explicit max=N on their encoded size. For such a type inside a
// container (elem=N), the setter checks the encoded size of the field as a
// whole against its worst case.
//
// A struct stored inside a field (directly or as an element) is written by
// msgpack as a map from field name to value: its exported fields are
// stored under their msgpack tag's name, or their Go name. Its fields take
// their bounds from their own tags, without a key:
// `session:",max=32"`. Such a struct must not have unexported or embedded
// fields (msgpack would drop or inline them); leave a field out with
// `msgpack:"-"`. Element bounds reach one level deep: a [][]string cannot be
// bounded, a []Item whose Item has bounded fields can.
//
// Not supported, each reported with its position and type: pointers,
// interfaces, channels, functions, complex numbers, uintptr,
// unsafe.Pointer, generic and recursive types, slices and arrays of named
// byte types, and any string, slice or map without a bound.
//
// # Size budget
//
// The size of a session is the sum over its fields of len(key) plus the
// length of the encoded value (the runtime's definition). sessiongen
// computes the worst case of every field from the type and its bounds
// (e.g. int64: 9 bytes, string max=64: 66, time.Time: 15) and fails with
// file:line:col and the worst case of each field when the total can exceed
// -budget (default 1024, the runtime's default limit).
//
// The limit the runtime enforces is the one proven: TOptions, declared for
// every struct, returns session.WithMaxSize(budget) and
// session.WithProvenSize("T", TMaxSize), so a manager built with
//
//	mgr, err := session.New(append(TOptions(), session.WithStore(st))...)
//
// stores every value the setters accept, also with -budget above 1024; and
// a limit below TMaxSize given after them (session.WithMaxSize(n)) makes
// session.New fail, naming both numbers, rather than some Saves failing at
// run time.
//
// # Changing a struct
//
// Sessions outlive the binary that wrote them: during a deploy, and for
// as long as sessions last, the next build reads what the last one
// stored. Beside the generated file sessiongen writes a schema record,
// <file>.schema.json (e.g. usersession_session.schema.json): for each
// type and stored field, its key, Go field and type, and its wire type
// (encoding, integer size, bounds, array length, nested fields, the
// method of a type that encodes itself) and options. Commit it with the
// generated file: it is the baseline of the next run, which compares the
// structs with it and reports each change, with its file:line:col, as
//
//   - safe: a new key; a bound widened; an integer widened (an unsigned
//     one into a wider signed one too; float32, or an integer of up to
//     32 bits, into float64); a nested struct field added; a Go field
//     renamed under the same key; a key renamed with was=;
//   - lossy: a key gone with no field taking it over by was= (the report
//     suggests the was= when the same Go field now has another key); a
//     nested struct field removed (dropped at the field's next write);
//   - breaking: a key kept with a wire type its stored values no longer
//     decode as (int64 to string, []string to []Item, an integer
//     narrowed or turned unsigned, another array length or encoding
//     method), a bound narrowed (of the field, its elements, keys or
//     nested fields), the owner index added or moved to another key.
//
// Safe changes are reported and written to the record. A lossy or
// breaking change fails the run (go generate and -check alike), writing
// nothing, unless -accept=KEY,... names its key (the old key of a key
// gone): accept it for one run, from the shell or the go:generate line,
// then take the flag out again, since the record now holds the change and
// a flag left behind would let a later change of the key through unseen
// (the run says so). A stored value that no longer decodes reads as
// absent and is reported once per key and process (see above), so even
// an accepted breaking change fails no request. -check also fails when the
// record is missing or differs from what this run would write. With no
// record (the first run) the record is written without a report.
//
// A tag option was=old renames a key: `session:"display,max=32,was=name"`.
// The getter, Load and UpdateF read the old key while the new one is
// absent (was= may repeat: old keys are tried in the order given); the
// setter, UpdateF, AddF, Save and the remover write the new key and remove
// the old ones in the same change, UpdateF's compare-and-set covering the
// old keys too ((*session.Session).UpdateRawRenamed). An old key must not
// be another field's key or old key, and the owner index cannot be
// renamed.
//
// # Stale files
//
// The generated file assigns the struct to a variable of an unnamed struct
// type listing every field and its tag as they were at generate time, so
// adding, removing or retyping a field, or changing a tag (a key, a bound),
// without regenerating breaks the build. -check fails (naming the
// file) when the file on disk differs from what sessiongen would write now.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// version is written into every generated file.
const version = "v0.1.0"

// usage is printed by -h before the flags.
const usage = `sessiongen generates typed session accessors for tagged Go structs.

Usage:
	sessiongen -type=T[,T2...] [-output=file] [-budget=N] [-accept=KEY,...] [-check] [dir|package]

Run it from //go:generate (the package directory is the current one), or
from a shell with the package's directory or import path as argument
(default "."). It writes <lowercased first type>_session.go beside the
structs unless -output names another file in that directory, and beside
it the schema record <same name>.schema.json (commit both): the stored
fields as the engine sees them. Each run compares the structs with the
record and reports every change as safe, lossy (stored values become
unreachable) or breaking (stored values no longer decode or fit); lossy
and breaking changes fail the run unless -accept names their keys.

Tags on the struct's fields:
	session:"key"                  store the field under key (1..128 bytes of UTF-8)
	session:"key,max=N"            string/[]byte: N bytes; slice/map: N elements;
	                               a type with msgpack methods: N encoded bytes
	session:"key,max=N,elem=M"     bound each element (map value) of a slice,
	                               array or map as max bounds a field
	session:"key,max=N,keymax=K"   map with string keys: keys of at most K bytes
	session:"key,index"            the owner index: at most one field, a string
	                               or integer; with max=N too, e.g. "user,max=64,index".
	                               TOptions() then adds session.WithOwnerKey(TOwnerKey),
	                               for Manager.Sessions and RevokeAll
	session:"key,flash"            a value read once: the field also gets PopF(ctx),
	                               which returns it and removes it in one change
	session:"newkey,was=oldkey"    a rename: reads fall back to oldkey while newkey is
	                               absent; every write sets newkey and removes oldkey
	                               in one change (was= may repeat, tried in order)
	session:"-"                    not stored; so is a field without a session tag
Fields of a struct stored inside a field take bounds without a key:
	session:",max=N"

Create the manager with the generated options, which set the size limit
to -budget and record the proven worst case (and the owner key):
	session.New(append(TOptions(), session.WithStore(st))...)

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the command: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sessiongen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	typeList := fs.String("type", "", "comma-separated names of the session structs (required)")
	output := fs.String("output", "", "output file (default <lowercased first type>_session.go in the package directory)")
	check := fs.Bool("check", false, "write nothing; exit 1 naming the file when it or its schema record is missing or differs from what would be written, or when a change is refused")
	accept := fs.String("accept", "", "comma-separated keys whose breaking or lossy changes against the schema record go ahead (for one run: the record then holds the change)")
	budget := fs.Int("budget", 1024, "largest worst-case encoded session size, in bytes, keys included; TOptions() sets it as the runtime's limit (session.WithMaxSize)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sessiongen: "+format+"\n", a...)
		return 1
	}
	if len(positional) > 1 {
		fs.Usage()
		return fail("at most one directory or package argument, got %d: %s", len(positional), strings.Join(positional, " "))
	}
	if *typeList == "" {
		fs.Usage()
		return fail("-type is required")
	}
	opts := options{Target: ".", Output: *output, Budget: *budget}
	for name := range strings.SplitSeq(*typeList, ",") {
		if name = strings.TrimSpace(name); name != "" {
			opts.Types = append(opts.Types, name)
		}
	}
	if len(opts.Types) == 0 {
		return fail("-type names no type")
	}
	for key := range strings.SplitSeq(*accept, ",") {
		if key = strings.TrimSpace(key); key != "" {
			opts.Accept = append(opts.Accept, key)
		}
	}
	if len(positional) == 1 {
		opts.Target = positional[0]
	} else {
		// Run by go generate in the package's directory.
		opts.GoFile, opts.GoLine = os.Getenv("GOFILE"), goLine()
		opts.GoPackage = os.Getenv("GOPACKAGE")
	}
	cwd, _ := os.Getwd()
	res, err := generate(opts)
	var list interface{ Format(base string) string }
	if errors.As(err, &list) {
		fmt.Fprintln(stderr, list.Format(cwd))
		return 1
	}
	if err != nil {
		return fail("%v", err)
	}
	if report := res.report(cwd); report != "" {
		fmt.Fprintln(stderr, report)
	}
	out := relPath(cwd, res.Output)
	if *check {
		if err := checkFile(res, out); err != nil {
			return fail("%v", err)
		}
		return 0
	}
	if err := writeFile(res); err != nil {
		return fail("%v", err)
	}
	return 0
}

// writeFile writes the generated file and the schema record, each unless
// the file on disk already holds exactly that (its modification time then
// stays).
func writeFile(res *result) error {
	for _, f := range []struct {
		path string
		data []byte
	}{{res.Output, res.Src}, {res.SchemaPath, res.Schema}} {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := os.WriteFile(f.path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// parseInterspersed parses flags that may come before and after positional
// arguments (sessiongen -check ./pkg -type=T) and returns the positional
// ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
