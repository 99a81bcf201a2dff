package session

import "github.com/sessiongen/sessiongen/runtime/codec"

// maxDepth bounds the nesting of arrays and maps wellFormed accepts, so a
// hostile value cannot exhaust the stack of a decoder.
const maxDepth = codec.MaxDepth

// wellFormed reports whether b holds exactly one complete msgpack value,
// with nothing after it. It checks structure (headers, declared lengths
// against the bytes that remain, nesting up to maxDepth) only, not the
// content of strings or extensions; see [codec.Validate], which generated
// code runs too.
func wellFormed(b []byte) bool {
	return codec.Validate(b) == nil
}
