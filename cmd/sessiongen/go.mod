module github.com/sessiongen/sessiongen/cmd/sessiongen

go 1.26.0

// The modules of this repository are released together, at one version;
// the replacements build them from the working tree.
replace github.com/sessiongen/sessiongen => ../..

require (
	github.com/dave/jennifer v1.7.1
	github.com/sessiongen/sessiongen v0.1.0
	github.com/stretchr/testify v1.12.1
	golang.org/x/tools v0.52.0
)

require (
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
)
