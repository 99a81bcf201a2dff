package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"
)

// loadMode asks go/packages for a type-checked package with its syntax.
const loadMode = packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
	packages.NeedTypes | packages.NeedTypesInfo | packages.NeedModule

// loadPackage loads and type-checks the one package named by target: a
// directory, or a package pattern resolved from the current directory.
// Test files are not loaded.
//
// Type errors do not stop the load: the package may well use the code that
// is about to be generated (first run) or a stale version of it. They are
// returned so that later checks can show them when a type they need is
// broken. List and syntax errors stop the load, except those in skip (the
// generated file being replaced).
func loadPackage(target string, skip func(filename string) bool) (*packages.Package, []packages.Error, error) {
	cfg := &packages.Config{Mode: loadMode}
	pattern := target
	if fi, err := os.Stat(target); err == nil && fi.IsDir() {
		dir, err := filepath.Abs(target)
		if err != nil {
			return nil, nil, err
		}
		cfg.Dir, pattern = dir, "."
	} else if strings.HasPrefix(target, ".") || filepath.IsAbs(target) {
		return nil, nil, fmt.Errorf("%s: no such directory", target)
	}
	pkgs, err := packages.Load(cfg, pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s: %w", target, err)
	}
	if len(pkgs) != 1 {
		return nil, nil, fmt.Errorf("load %s: matched %d packages, want exactly one", target, len(pkgs))
	}
	pkg := pkgs[0]
	var fatal []string
	var typeErrs []packages.Error
	for _, e := range pkg.Errors {
		file, _, _ := strings.Cut(e.Pos, ":")
		if file != "" && skip(file) {
			continue
		}
		if e.Kind == packages.TypeError {
			typeErrs = append(typeErrs, e)
			continue
		}
		if e.Kind == packages.ListError && strings.HasPrefix(e.Msg, "# ") {
			// The go command's compiler output for the package itself
			// (go/packages asks it for export data): the same problems
			// come again as type errors from the type-check of the
			// syntax, which is what counts.
			continue
		}
		fatal = append(fatal, e.Error())
	}
	if len(fatal) > 0 {
		return nil, nil, errors.New(strings.Join(fatal, "\n"))
	}
	if len(pkg.GoFiles) == 0 || pkg.Types == nil {
		return nil, nil, fmt.Errorf("load %s: no Go files", target)
	}
	return pkg, typeErrs, nil
}

// packageDir returns the directory of a loaded package.
func packageDir(pkg *packages.Package) string {
	return filepath.Dir(pkg.GoFiles[0])
}
