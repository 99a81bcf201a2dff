package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/types"
	"io/fs"
	"os"
	"strings"
)

// The schema record: a small JSON file written next to the generated code
// (<output stem>.schema.json), committed with it, holding each type's
// stored fields as the engine sees them: key, wire type, bounds, options
// and the Go field they come from. It is the baseline the next run
// compares the structs with (schemacheck.go): a session written by one
// build is read by the next, and what changed between the two decides
// whether the stored values still decode.

// schemaFormat is the version of the record's layout.
const schemaFormat = 1

// schemaRecord is the content of a schema record.
type schemaRecord struct {
	// Format is schemaFormat when written.
	Format int `json:"sessiongen_schema"`
	// Types are the session structs of the generated file, in -type order.
	Types []schemaType `json:"types"`
}

// schemaType is one session struct.
type schemaType struct {
	Name   string        `json:"name"`
	Fields []schemaField `json:"fields"`
}

// schemaField is one stored field.
type schemaField struct {
	// Key is the session key.
	Key string `json:"key"`
	// Field is the Go field name.
	Field string `json:"field"`
	// Type is the Go type as the package spells it, for messages.
	Type string `json:"type"`
	// Wire is how the value is encoded.
	Wire wireType `json:"wire"`
	// Index marks the owner index (tag option index).
	Index bool `json:"index,omitempty"`
	// Was lists the old keys (tag option was=).
	Was []string `json:"was,omitempty"`
}

// wireType is the encoding of a value, with the bounds that decide
// whether a stored value fits: two fields with equal wire types read each
// other's values.
type wireType struct {
	// Kind is the kind of encoding: bool, int, uint, float32, float64,
	// string, bytes, time, bytearray, array, slice, map, struct, opaque.
	Kind string `json:"kind"`
	// Bits is the size of an integer: 8, 16, 32 or 64 (int and uint
	// count as 64).
	Bits int `json:"bits,omitempty"`
	// Max is the max= bound (bytes, elements or encoded bytes).
	Max int `json:"max,omitempty"`
	// Len is the length of an array.
	Len int `json:"len,omitempty"`
	// Key and Elem are the key and element types of a container.
	Key  *wireType `json:"key,omitempty"`
	Elem *wireType `json:"elem,omitempty"`
	// Fields are a struct's fields, by the name msgpack writes.
	Fields []wireField `json:"fields,omitempty"`
	// Codec names the type and method that encode an opaque value.
	Codec string `json:"codec,omitempty"`
}

// wireField is a field of a struct stored inside a field.
type wireField struct {
	Name string   `json:"name"`
	Type string   `json:"type"`
	Wire wireType `json:"wire"`
}

// kindNames are the record's names of the kinds.
var kindNames = map[kind]string{
	kindBool: "bool", kindInt: "int", kindUint: "uint", kindFloat32: "float32",
	kindFloat64: "float64", kindString: "string", kindBytes: "bytes", kindTime: "time",
	kindByteArray: "bytearray", kindArray: "array", kindSlice: "slice", kindMap: "map",
	kindStruct: "struct", kindOpaque: "opaque",
}

// schemaPath returns the path of the schema record of the generated file
// output.
func schemaPath(output string) string {
	return strings.TrimSuffix(output, ".go") + ".schema.json"
}

// newSchema returns the record of the types, naming types as pkg's code
// spells them.
func newSchema(sts []*sessionType, pkg *types.Package) *schemaRecord {
	rec := &schemaRecord{Format: schemaFormat, Types: []schemaType{}}
	for _, st := range sts {
		t := schemaType{Name: st.Name, Fields: []schemaField{}}
		for _, sf := range st.Fields {
			t.Fields = append(t.Fields, schemaField{
				Key: sf.Key, Field: sf.Name, Type: localType(sf.Info.T, pkg),
				Wire: wireOf(sf.Info, pkg), Index: st.Index == sf, Was: sf.Was,
			})
		}
		rec.Types = append(rec.Types, t)
	}
	return rec
}

// wireOf returns the wire type of ti.
func wireOf(ti *typeInfo, pkg *types.Package) wireType {
	w := wireType{Kind: kindNames[ti.Kind], Len: ti.Len}
	switch ti.Kind {
	case kindInt, kindUint:
		w.Bits = cmpOr(ti.Bits, 64)
	case kindString, kindBytes, kindSlice, kindMap, kindOpaque:
		w.Max = ti.Max
	}
	if ti.Key != nil {
		k := wireOf(ti.Key, pkg)
		w.Key = &k
	}
	if ti.Elem != nil {
		e := wireOf(ti.Elem, pkg)
		w.Elem = &e
	}
	for _, nf := range ti.Fields {
		w.Fields = append(w.Fields, wireField{Name: nf.Wire, Type: localType(nf.Info.T, pkg), Wire: wireOf(nf.Info, pkg)})
	}
	if ti.Kind == kindOpaque {
		enc, _ := marshalMethods(ti.T)
		w.Codec = types.TypeString(ti.T, nil) + "." + enc
	}
	return w
}

// cmpOr returns a, or b when a is 0.
func cmpOr(a, b int) int {
	if a == 0 {
		return b
	}
	return a
}

// localType names t as pkg's code spells it.
func localType(t types.Type, pkg *types.Package) string {
	return types.TypeString(t, func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Name()
	})
}

// encode returns the record as the file holds it: JSON with one line per
// field, so that a change of one field is a change of one line in review.
func (r *schemaRecord) encode() []byte {
	var b bytes.Buffer
	line := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			panic(err) // plain data: cannot fail
		}
		return string(j)
	}
	fmt.Fprintf(&b, "{\n\t\"sessiongen_schema\": %d,\n\t\"types\": [", r.Format)
	for i, t := range r.Types {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "\n\t\t{\"name\": %s, \"fields\": [", line(t.Name))
		for j, f := range t.Fields {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString("\n\t\t\t" + line(f))
		}
		b.WriteString("\n\t\t]}")
	}
	b.WriteString("\n\t]\n}\n")
	return b.Bytes()
}

// readSchema reads the schema record at path: nil when there is none.
func readSchema(path string) (*schemaRecord, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec schemaRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("schema record %s: %v: restore it from version control, or delete it to start a new baseline", path, err)
	}
	if rec.Format != schemaFormat {
		return nil, fmt.Errorf("schema record %s has format %d; this sessiongen (%s) reads format %d: use the sessiongen that wrote it, or delete the record to start a new baseline", path, rec.Format, version, schemaFormat)
	}
	return &rec, nil
}
