package session

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strings"
)

// fieldSet holds a snapshot's fields, in key order, packed in one byte
// slice: a cached session costs one allocation for all its keys and
// values instead of a map, its buckets and a string per key.
//
//	uvarint(n<<1 | wide) ‖ klen[n] ‖ end[n] ‖ data
//
// klen[i] is the length of key i (one byte: keys are at most 128 bytes,
// see ValidKey); end[i] is where field i ends in data, little-endian, 2
// bytes wide, or 4 when wide (data of 64 KiB or more); data holds each
// field's key then its value, so field i spans data[end[i-1]:end[i]]
// (from 0 for the first), and len(data) is the session's encoded size.
//
// A session holds a few fields (at most some tens within the default
// 1 KB), so a lookup scans the key lengths and compares a key only where
// the length matches: about as fast as a map, and allocation-free. A nil
// fieldSet is empty. A fieldSet is never modified once built: lookups
// return slices of it.
type fieldSet []byte

// maxKeyLen bounds the keys a fieldSet can hold (klen is one byte).
const maxKeyLen = math.MaxUint8

// header returns the field count of f, the width of its end offsets
// (2 or 4 bytes) and the length of its header.
func (f fieldSet) header() (n, ew, w int) {
	h, w := int(f[0]), 1
	if h >= 0x80 { // 64 fields or more
		h, w = longHeader(f)
	}
	return h >> 1, 2 + 2*(h&1), w
}

// longHeader decodes a header of more than one byte.
func longHeader(f fieldSet) (int, int) {
	h, w := binary.Uvarint(f)
	return int(h), w
}

// end returns end[i] of ends, whose entries are ew bytes wide.
func end(ends []byte, ew, i int) int {
	if ew == 4 {
		return int(binary.LittleEndian.Uint32(ends[4*i:]))
	}
	return int(binary.LittleEndian.Uint16(ends[2*i:]))
}

// get returns the value of key, and whether f holds key. The value is
// shared with f (its capacity ends with it): it must not be modified.
// Every cache-hit read goes through it.
func (f fieldSet) get(key string) ([]byte, bool) {
	if len(f) == 0 {
		return nil, false
	}
	// f.header(), inline: this is every cache-hit read.
	h, w := int(f[0]), 1
	if h >= 0x80 {
		h, w = longHeader(f)
	}
	n, ew := h>>1, 2+2*(h&1)
	for i, l := range f[w : w+n] {
		if int(l) != len(key) {
			continue
		}
		ends, base := f[w+n:], w+n*(1+ew) // base: where data starts in f
		start := base
		if i > 0 {
			start += end(ends, ew, i-1)
		}
		if string(f[start:start+len(key)]) == key {
			stop := base + end(ends, ew, i)
			return f[start+len(key) : stop : stop], true
		}
	}
	return nil, false
}

// size returns the encoded size of the fields: the sum of len(key) +
// len(value).
func (f fieldSet) size() int {
	if len(f) == 0 {
		return 0
	}
	n, ew, w := f.header()
	return len(f) - w - n*(1+ew)
}

// keys returns the keys in order, nil when there are none.
func (f fieldSet) keys() []string {
	if len(f) == 0 {
		return nil
	}
	n, _, _ := f.header()
	keys := make([]string, 0, n)
	for it := f.iter(); it.next(); {
		keys = append(keys, string(it.key))
	}
	return keys
}

// fieldIter walks a fieldSet in key order:
//
//	for it := f.iter(); it.next(); { use it.key, it.value }
type fieldIter struct {
	klen, ends, data []byte
	ew, i, off       int
	key, value       []byte // the current field, shared with the fieldSet
}

// iter returns an iterator over f.
func (f fieldSet) iter() fieldIter {
	if len(f) == 0 {
		return fieldIter{}
	}
	n, ew, w := f.header()
	return fieldIter{klen: f[w : w+n], ends: f[w+n : w+n*(1+ew)], data: f[w+n*(1+ew):], ew: ew}
}

// next moves to the next field and reports whether there is one.
func (it *fieldIter) next() bool {
	if it.i == len(it.klen) {
		return false
	}
	k, stop := it.off+int(it.klen[it.i]), end(it.ends, it.ew, it.i)
	it.key, it.value = it.data[it.off:k:k], it.data[k:stop:stop]
	it.i, it.off = it.i+1, stop
	return true
}

// fieldWriter builds a fieldSet in two passes over the same fields in
// key order: a counting one (f nil: n and d count the fields and their
// bytes), then a writing one into the fieldWriter that newFieldWriter
// made from the counts.
type fieldWriter struct {
	f                fieldSet
	n, d             int // fields and bytes of data so far
	klen, ends, data []byte
	ew               int
}

// newFieldWriter returns a writer for the fields a counting writer c
// saw; its f is nil when there are none.
func newFieldWriter(c fieldWriter) fieldWriter {
	if c.n == 0 {
		return fieldWriter{}
	}
	h, ew := uint64(c.n)<<1, 2
	if c.d > math.MaxUint16 {
		h, ew = h|1, 4
	}
	w := (bits.Len64(h) + 6) / 7 // the header's length as a uvarint
	f := make(fieldSet, w+c.n*(1+ew)+c.d)
	binary.PutUvarint(f, h)
	return fieldWriter{f: f, klen: f[w : w+c.n], ends: f[w+c.n : w+c.n*(1+ew)], data: f[w+c.n*(1+ew):], ew: ew}
}

// putField adds the field k = v, after every field with a smaller key.
// len(k) is at most maxKeyLen.
func putField[K string | []byte](w *fieldWriter, k K, v []byte) {
	if w.f != nil {
		w.klen[w.n] = byte(len(k))
		copy(w.data[w.d:], k)
		stop := w.d + len(k) + copy(w.data[w.d+len(k):], v)
		if w.ew == 4 {
			binary.LittleEndian.PutUint32(w.ends[4*w.n:], uint32(stop))
		} else {
			binary.LittleEndian.PutUint16(w.ends[2*w.n:], uint16(stop))
		}
	}
	w.n++
	w.d += len(k) + len(v)
}

// packFields returns the fieldSet of fields (a record as an engine
// returned it, its keys checked with ValidKey: a longer key than a
// fieldSet can hold is left out). The values are copied.
func packFields(fields map[string][]byte) fieldSet {
	var buf [32]string
	keys := buf[:0]
	for k := range fields {
		if len(k) <= maxKeyLen {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var c fieldWriter
	for _, k := range keys {
		putField(&c, k, fields[k])
	}
	w := newFieldWriter(c)
	if w.f != nil {
		for _, k := range keys {
			putField(&w, k, fields[k])
		}
	}
	return w.f
}

// with returns f with fs (valid keys) applied in order: a Field with a
// Value sets its key, one without removes it; a later Field with the
// same key wins. The values are copied; fs is left as it is.
func (f fieldSet) with(fs []Field) fieldSet {
	changes := fs
	if len(fs) > 1 {
		// In key order, the last change of each key only.
		changes = slices.Clone(fs)
		slices.SortStableFunc(changes, func(a, b Field) int { return strings.Compare(a.Key, b.Key) })
		last := changes[:0]
		for i, c := range changes {
			if i+1 == len(changes) || changes[i+1].Key != c.Key {
				last = append(last, c)
			}
		}
		changes = last
	}
	var c fieldWriter
	f.merge(changes, &c)
	w := newFieldWriter(c)
	if w.f != nil {
		f.merge(changes, &w)
	}
	return w.f
}

// merge puts into w the fields of f with changes applied; changes are
// in key order, one per key.
func (f fieldSet) merge(changes []Field, w *fieldWriter) {
	it := f.iter()
	more := it.next()
	for _, c := range changes {
		for more && string(it.key) < c.Key {
			putField(w, it.key, it.value)
			more = it.next()
		}
		if more && string(it.key) == c.Key {
			more = it.next() // replaced or removed
		}
		if c.Value != nil {
			putField(w, c.Key, c.Value)
		}
	}
	for ; more; more = it.next() {
		putField(w, it.key, it.value)
	}
}
