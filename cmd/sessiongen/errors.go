package main

import (
	"cmp"
	"fmt"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
)

// posError is one problem found in the input, at a position in a source
// file. Filename is absolute; formatting makes it relative.
type posError struct {
	Pos token.Position
	Msg string
}

// format renders the error as "file:line:col: message" with the file
// relative to base when it lies below it (or base is empty).
func (e posError) format(base string) string {
	if !e.Pos.IsValid() {
		return e.Msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", relPath(base, e.Pos.Filename), e.Pos.Line, e.Pos.Column, e.Msg)
}

// relPath returns name relative to base when that is possible without
// climbing above base, and name otherwise.
func relPath(base, name string) string {
	if base == "" {
		return name
	}
	rel, err := filepath.Rel(base, name)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return name
	}
	return rel
}

// errorList collects every problem of one run, so that a user fixes them
// all in one go rather than one per run. It is an error itself.
type errorList []posError

// add records a problem at pos.
func (l *errorList) add(pos token.Position, format string, args ...any) {
	*l = append(*l, posError{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// sorted returns the problems ordered by file, line and column; problems at
// one position keep the order in which they were found.
func (l errorList) sorted() errorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b posError) int {
		return cmp.Or(
			cmp.Compare(a.Pos.Filename, b.Pos.Filename),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Column, b.Pos.Column),
		)
	})
	return out
}

// Format renders every problem, one per line, paths relative to base.
func (l errorList) Format(base string) string {
	var b strings.Builder
	for i, e := range l.sorted() {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.format(base))
	}
	return b.String()
}

// Error implements error with absolute paths.
func (l errorList) Error() string { return l.Format("") }

// err returns l as an error, or nil when it is empty.
func (l errorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}
