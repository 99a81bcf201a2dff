package session

import (
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// Value returns the value stored under key decoded as a T, and whether
// the key was present. Values of bool, every int and uint width, float32,
// float64, string, []byte, time.Time and time.Duration are decoded without
// reflection (a cache-hit read of an int64 allocates nothing), with narrow
// integers range-checked; any other T is decoded with msgpack, once the
// bytes have passed the checks of [codec.Validate]: no stored value,
// however hostile, makes the decoder build more than one element per byte
// of it or recurse deeper than [codec.MaxDepth].
//
// A stored value that does not decode into a T (another type, an integer
// out of range) gives an error wrapping [ErrDecode] that names the key and
// T, never a silent zero value. On a nil *Session the error wraps
// [ErrNoSession].
func Value[T any](s *Session, key string) (T, bool, error) {
	var v T
	if s == nil {
		return v, false, opError("get", key, ErrNoSession)
	}
	b, ok, err := s.Raw(key)
	if err != nil || !ok {
		return v, false, err
	}
	if handled, err := decodeFast(&v, b); handled {
		if err != nil {
			var zero T
			return zero, false, decodeError(key, reflect.TypeFor[T](), err)
		}
		return v, true, nil
	}
	var w T // on the heap: msgpack keeps no reference, but escape analysis cannot tell
	if err := unmarshal(b, &w); err != nil {
		return v, false, decodeError(key, reflect.TypeFor[T](), err)
	}
	return w, true, nil
}

// decodeError reports bytes under key that do not decode into t.
func decodeError(key string, t reflect.Type, err error) error {
	name := "<nil>"
	if t != nil {
		name = t.String()
	}
	return opError("get", key, fmt.Errorf("%w as %s: %w", ErrDecode, name, err))
}

// decodeFast decodes b into dst when dst is a non-nil pointer to one of
// the hot types, reporting whether it did. It keeps no reference to dst.
func decodeFast(dst any, b []byte) (handled bool, err error) {
	switch p := dst.(type) {
	case *bool:
		if p != nil {
			*p, err = codec.Bool(b)
			return true, err
		}
	case *int:
		if p != nil {
			var x int64
			x, err = codec.Int(b, strconv.IntSize)
			*p = int(x)
			return true, err
		}
	case *int8:
		if p != nil {
			var x int64
			x, err = codec.Int(b, 8)
			*p = int8(x)
			return true, err
		}
	case *int16:
		if p != nil {
			var x int64
			x, err = codec.Int(b, 16)
			*p = int16(x)
			return true, err
		}
	case *int32:
		if p != nil {
			var x int64
			x, err = codec.Int(b, 32)
			*p = int32(x)
			return true, err
		}
	case *int64:
		if p != nil {
			*p, err = codec.Int(b, 64)
			return true, err
		}
	case *uint:
		if p != nil {
			var x uint64
			x, err = codec.Uint(b, strconv.IntSize)
			*p = uint(x)
			return true, err
		}
	case *uint8:
		if p != nil {
			var x uint64
			x, err = codec.Uint(b, 8)
			*p = uint8(x)
			return true, err
		}
	case *uint16:
		if p != nil {
			var x uint64
			x, err = codec.Uint(b, 16)
			*p = uint16(x)
			return true, err
		}
	case *uint32:
		if p != nil {
			var x uint64
			x, err = codec.Uint(b, 32)
			*p = uint32(x)
			return true, err
		}
	case *uint64:
		if p != nil {
			*p, err = codec.Uint(b, 64)
			return true, err
		}
	case *float32:
		if p != nil {
			*p, err = codec.Float32(b)
			return true, err
		}
	case *float64:
		if p != nil {
			*p, err = codec.Float64(b)
			return true, err
		}
	case *string:
		if p != nil {
			*p, err = codec.String(b)
			return true, err
		}
	case *[]byte:
		if p != nil {
			*p, err = codec.Bytes(b)
			return true, err
		}
	case *time.Time:
		if p != nil {
			*p, err = codec.Time(b)
			return true, err
		}
	case *time.Duration:
		if p != nil {
			var x int64
			x, err = codec.Int(b, 64)
			*p = time.Duration(x)
			return true, err
		}
	}
	return false, nil
}

// encode returns the msgpack encoding of v: hot types without reflection
// (integers in their smallest form), anything else with msgpack.Marshal,
// whose output must then be exactly one well-formed msgpack value, as
// [Session.SetRaw] requires: a msgpack.RawMessage, or a type with its own
// MarshalMsgpack, can produce anything, and bytes SetRaw would refuse
// give an error wrapping [ErrInvalidValue] instead of being stored.
func encode(v any) ([]byte, error) {
	switch x := v.(type) {
	case bool:
		return codec.AppendBool(nil, x), nil
	case int:
		return codec.AppendInt(nil, int64(x)), nil
	case int8:
		return codec.AppendInt(nil, int64(x)), nil
	case int16:
		return codec.AppendInt(nil, int64(x)), nil
	case int32:
		return codec.AppendInt(nil, int64(x)), nil
	case int64:
		return codec.AppendInt(nil, x), nil
	case uint:
		return codec.AppendUint(nil, uint64(x)), nil
	case uint8:
		return codec.AppendUint(nil, uint64(x)), nil
	case uint16:
		return codec.AppendUint(nil, uint64(x)), nil
	case uint32:
		return codec.AppendUint(nil, uint64(x)), nil
	case uint64:
		return codec.AppendUint(nil, x), nil
	case float32:
		return codec.AppendFloat32(nil, x), nil
	case float64:
		return codec.AppendFloat64(nil, x), nil
	case string:
		return codec.AppendString(nil, x), nil
	case []byte:
		return codec.AppendBytes(nil, x), nil
	case time.Time:
		return codec.AppendTime(nil, x), nil
	case time.Duration:
		return codec.AppendInt(nil, int64(x)), nil
	}
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, err
	}
	if err := codec.Validate(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidValue, err)
	}
	return b, nil
}

// unmarshal decodes b into dst with msgpack, reading through a
// [codec.Reader]: b must pass [codec.Validate] (exactly one value, every
// declared length within the bytes that remain, nesting at most
// [codec.MaxDepth]), and the decoder may not read values inside ext
// payloads, which Validate treats as opaque.
//
// Stored bytes are data, not trusted code: msgpack sizes its allocations
// from the lengths the headers declare, so five bytes declaring an array
// of 2^32 elements would make it allocate tens of gigabytes (a fatal,
// unrecoverable out of memory), and a deeply nested value would recurse
// without limit. Behind these checks, what msgpack allocates is linear in
// len(b): at most one element per remaining byte, each of the Go size
// that dst's type gives it (a Go map costs a few hundred bytes even when
// it holds one entry; decode_test.go measures the worst cases).
//
// msgpack panics on some inputs: a map giving a struct field of interface
// type twice, say, where the second value cannot be set into the first
// (reflect.Value.SetInt using unaddressable value). Such a panic is an
// error here, like any other bytes that do not decode.
func unmarshal(b []byte, dst any) (err error) {
	r := readers.Get().(*codec.Reader)
	if err := r.Reset(b); err != nil {
		readers.Put(r)
		return err
	}
	// What msgpack.Unmarshal does, over r instead of a bytes.Reader.
	d := msgpack.GetDecoder()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("msgpack: %v", p) // d and r are dropped, not pooled
		}
	}()
	d.Reset(r)
	err = d.Decode(dst)
	msgpack.PutDecoder(d)
	_ = r.Reset(nil)
	readers.Put(r)
	return err
}

// readers holds the codec.Readers of unmarshal.
var readers = sync.Pool{New: func() any { return new(codec.Reader) }}

// derefType returns the type dst points to (dst's own type when it is not
// a pointer).
func derefType(dst any) reflect.Type {
	t := reflect.TypeOf(dst)
	if t != nil && t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}
