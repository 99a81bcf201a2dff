package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkFile compares the file on disk, and the schema record beside it,
// with the generated ones. It returns an error naming the file (the
// generated file as name) when a file is missing or differs, with the
// first line that differs.
func checkFile(res *result, name string) error {
	if err := checkSource(res, name); err != nil {
		return err
	}
	old, err := os.ReadFile(res.SchemaPath)
	record := filepath.Join(filepath.Dir(name), filepath.Base(res.SchemaPath))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the schema record %s is missing: run go generate, and commit it with %s", record, name)
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(old, res.Schema) {
		return fmt.Errorf("the schema record %s is stale (first difference at line %d): run go generate", record, firstDiffLine(old, res.Schema))
	}
	return nil
}

// checkSource is checkFile for the generated code.
func checkSource(res *result, name string) error {
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
