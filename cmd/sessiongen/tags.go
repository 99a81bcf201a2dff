package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	session "github.com/sessiongen/sessiongen/runtime"
)

// maxKeyLen is the longest session key the runtime accepts, in bytes.
const maxKeyLen = 128

// maxBound is the largest value a max=, elem= or keymax= option takes.
const maxBound = math.MaxInt32

// tagInfo is a parsed `session:"..."` struct tag.
type tagInfo struct {
	// Skip is set for `session:"-"`.
	Skip bool
	// Key is the session key (empty in a nested struct's tags).
	Key string
	// Bounds holds the max=, elem= and keymax= options.
	Bounds bounds
	// Index is set by the index option: the field is the owner index,
	// whose value names the session's owner (see session.WithOwnerKey).
	Index bool
	// Was lists the keys the field was stored under before (tag option
	// was=oldkey, repeatable): reads fall back to them, writes remove
	// them.
	Was []string
	// Flash is set by the flash option: the field also gets PopF, which
	// reads the value and removes it in one change.
	Flash bool
}

// bounds are the size options of one tag. A nil pointer is an option that
// was not given.
type bounds struct {
	// Max bounds the bytes of a string or []byte, the elements of a slice
	// or map, or the encoded bytes of a method-encoded type.
	Max *int
	// Elem bounds each element of a slice, array or map (each map value),
	// as Max bounds the field itself.
	Elem *int
	// KeyMax bounds the bytes of each string key of a map.
	KeyMax *int
}

// parseTag parses the value of a session tag. nested reports a field of a
// nested struct, whose tag holds bounds only: its stored name comes from
// msgpack.
func parseTag(s string, nested bool) (tagInfo, error) {
	if s == "-" {
		return tagInfo{Skip: true}, nil
	}
	parts := strings.Split(s, ",")
	t := tagInfo{Key: parts[0]}
	if nested {
		if t.Key != "" {
			return t, fmt.Errorf("the session tag of a nested struct field takes bounds only (e.g. `session:\",max=32\"`): msgpack names the field; found key %q", t.Key)
		}
	} else if err := checkKey(t.Key); err != nil {
		return t, err
	}
	for _, opt := range parts[1:] {
		name, val, ok := strings.Cut(opt, "=")
		if name == "index" {
			switch {
			case nested:
				return t, fmt.Errorf("session tag option index applies to a field of the session struct, not to a field of a nested struct")
			case ok:
				return t, fmt.Errorf("session tag option %q takes no value: write index", opt)
			case t.Index:
				return t, fmt.Errorf("session tag option index given twice")
			}
			t.Index = true
			continue
		}
		if name == "flash" {
			switch {
			case nested:
				return t, fmt.Errorf("session tag option flash applies to a field of the session struct, not to a field of a nested struct")
			case ok:
				return t, fmt.Errorf("session tag option %q takes no value: write flash", opt)
			case t.Flash:
				return t, fmt.Errorf("session tag option flash given twice")
			}
			t.Flash = true
			continue
		}
		if name == "was" {
			switch {
			case nested:
				return t, fmt.Errorf("session tag option was= applies to a field of the session struct, not to a field of a nested struct (msgpack names those)")
			case !ok:
				return t, fmt.Errorf("session tag option was needs the old key: was=oldkey")
			}
			if err := checkKey(val); err != nil {
				return t, fmt.Errorf("session tag option was=%s: %w", val, err)
			}
			if val == t.Key {
				return t, fmt.Errorf("session tag option was=%s names the field's own key", val)
			}
			if slices.Contains(t.Was, val) {
				return t, fmt.Errorf("session tag option was=%s given twice", val)
			}
			t.Was = append(t.Was, val)
			continue
		}
		var dst **int
		switch name {
		case "max":
			dst = &t.Bounds.Max
		case "elem":
			dst = &t.Bounds.Elem
		case "keymax":
			dst = &t.Bounds.KeyMax
		default:
			return t, fmt.Errorf("unknown session tag option %q (want max=N, elem=N, keymax=N, index, flash or was=oldkey)", opt)
		}
		if !ok {
			return t, fmt.Errorf("session tag option %q needs a value: %s=N", name, name)
		}
		if *dst != nil {
			return t, fmt.Errorf("session tag option %s given twice", name)
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil || n == 0 || n > maxBound {
			return t, fmt.Errorf("session tag option %s=%s: want an integer from 1 to %d", name, val, maxBound)
		}
		v := int(n)
		*dst = &v
	}
	return t, nil
}

// checkKey reports whether key is a valid session key: 1 to 128 bytes of
// valid UTF-8 without control characters (session.ValidKey).
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("invalid session key: empty (want `session:\"key\"` with 1 to %d bytes)", maxKeyLen)
	case len(key) > maxKeyLen:
		return fmt.Errorf("invalid session key %.20q...: %d bytes, longer than %d", key, len(key), maxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("invalid session key %q: not valid UTF-8", key)
	case !session.ValidKey(key):
		return fmt.Errorf("invalid session key %q: holds a control character", key)
	}
	return nil
}

// lookupTag returns the value of key in the struct tag as
// reflect.StructTag.Lookup does, and also says why a tag that Lookup
// cannot parse is malformed. Lookup reads the tag's key:"value" pairs in
// order and stops, reporting nothing, at the first malformed one, so a
// key there or after it silently reads as absent (`session:uid` stores
// nothing). err is nil when the key is found (whatever follows it) or the
// whole tag is well formed; otherwise it describes the first malformed
// pair.
func lookupTag(tag, key string) (value string, ok bool, err error) {
	rest := tag
	for {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" {
			return "", false, nil
		}
		// A key is a run of characters other than space, control
		// characters, colon and quote (reflect's rule).
		i := 0
		for i < len(rest) && rest[i] > ' ' && rest[i] != ':' && rest[i] != '"' && rest[i] != 0x7f {
			i++
		}
		name := rest[:i]
		switch {
		case i == 0:
			return "", false, fmt.Errorf("unexpected %q where a key should start (want key:\"value\" pairs separated by spaces)", rest[:1])
		case i == len(rest) || rest[i] != ':':
			if i < len(rest) && rest[i] == '"' && strings.HasSuffix(name, "=") && len(name) > 1 {
				return "", false, fmt.Errorf("%s is followed by \"=\" where a colon belongs: write %s:\"...\"", name[:len(name)-1], name[:len(name)-1])
			}
			return "", false, fmt.Errorf("%s is not followed by a colon and a quoted value (want key:\"value\" pairs separated by spaces)", name)
		case i+1 == len(rest) || rest[i+1] != '"':
			after := rest[i+1:]
			if t := strings.TrimLeft(after, " "); t != after && strings.HasPrefix(t, "\"") {
				return "", false, fmt.Errorf("a space follows the colon after %s: write %s:\"...\" with no space", name, name)
			}
			word, _, _ := strings.Cut(after, " ")
			if len(word) >= 2 && (word[0] == '\'' || word[0] == '`') && word[len(word)-1] == word[0] {
				return "", false, fmt.Errorf("the value of %s is not in double quotes: write %s:%q", name, name, word[1:len(word)-1])
			}
			if word != "" && !strings.ContainsAny(word, "\"`'") {
				return "", false, fmt.Errorf("the value of %s is not quoted: write %s:%q", name, name, word)
			}
			return "", false, fmt.Errorf("the value of %s does not start with a double quote right after the colon", name)
		}
		rest = rest[i+1:]
		// The quoted value runs to the next unescaped quote.
		j := 1
		for j < len(rest) && rest[j] != '"' {
			if rest[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(rest) {
			return "", false, fmt.Errorf("the value of %s has no closing double quote", name)
		}
		quoted := rest[:j+1]
		rest = rest[j+1:]
		if name == key {
			v, err := strconv.Unquote(quoted)
			if err != nil {
				return "", false, fmt.Errorf("the value of %s, %s, is not a valid quoted string: %v", name, quoted, err)
			}
			return v, true, nil
		}
	}
}

// malformedTag describes a struct tag that lookupTag cannot parse.
func malformedTag(tag string, err error) string {
	shown := "`" + tag + "`"
	if strings.ContainsFunc(tag, func(r rune) bool { return r == '`' || !strconv.IsPrint(r) }) {
		shown = strconv.Quote(tag)
	}
	return fmt.Sprintf("malformed struct tag %s: %v", shown, err)
}
