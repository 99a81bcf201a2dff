package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// checkFile compares the file on disk with the generated one. It returns
// an error naming the file (as name) when the file is missing or differs,
// with the first line that differs.
func checkFile(res *result, name string) error {
	old, err := os.ReadFile(res.Output)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s is missing: run go generate", name)
	}
	if err != nil {
		return err
	}
	if bytes.Equal(old, res.Src) {
		return nil
	}
	return fmt.Errorf("%s is stale (first difference at line %d): run go generate", name, firstDiffLine(old, res.Src))
}

// firstDiffLine returns the 1-based number of the first line that differs
// between a and b.
func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}
