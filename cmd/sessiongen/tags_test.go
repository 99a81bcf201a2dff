package main

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestLookupTagAgreesWithReflect: lookupTag finds what
// reflect.StructTag.Lookup finds, and gives an error exactly when Lookup
// finds nothing because the tag is malformed before or at the key.
func TestLookupTagAgreesWithReflect(t *testing.T) {
	for _, c := range []struct {
		tag       string
		malformed bool
	}{
		{``, false},
		{`json:"a"`, false},
		{`session:"uid"`, false},
		{`  session:"uid"  `, false},
		{`json:"a" session:"uid,max=3"`, false},
		{`json:"a"session:"uid"`, false},
		{`session:"uid" json:bad`, false},
		{`session:"a\"b"`, false},
		{`session:"a\\"`, false},
		{`json:"a\q" session:"uid"`, false}, // Lookup unquotes the wanted value only
		{`sessions:"x" session:"uid"`, false},
		{`session:uid`, true},
		{`session:`, true},
		{`session`, true},
		{`session: "uid"`, true},
		{`session:'uid'`, true},
		{`session="uid"`, true},
		{`session:"uid`, true},
		{`session:"a\q"`, true},
		{`session:"a\"`, true},
		{`json:a session:"uid"`, true},
		{"json:\"a\"\tsession:\"uid\"", true},
		{`"session":"uid"`, true},
		{`:"uid"`, true},
		{"session:\"\x7f\" x\x7f:\"y\"", false},
		{"x\x7f:\"y\" session:\"uid\"", true},
	} {
		want, wantOK := reflect.StructTag(c.tag).Lookup("session")
		got, ok, err := lookupTag(c.tag, "session")
		assert.Equal(t, wantOK, ok, "%q: found", c.tag)
		assert.Equal(t, want, got, "%q: value", c.tag)
		if c.malformed {
			assert.Error(t, err, "%q is malformed", c.tag)
		} else {
			assert.NoError(t, err, "%q", c.tag)
		}
	}
}

// FuzzLookupTag: on any tag, lookupTag finds what reflect finds, and an
// error means reflect found nothing.
func FuzzLookupTag(f *testing.F) {
	for _, s := range []string{`session:"uid"`, `json:"a" session:uid`, `session:"a\q"`, "a:\"b\"\tsession:\"c\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		want, wantOK := reflect.StructTag(tag).Lookup("session")
		got, ok, err := lookupTag(tag, "session")
		if got != want || ok != wantOK {
			t.Fatalf("lookupTag(%q) = %q, %v; reflect: %q, %v", tag, got, ok, want, wantOK)
		}
		if err != nil && ok {
			t.Fatalf("lookupTag(%q) found the key and gave an error: %v", tag, err)
		}
	})
}
