module github.com/sessiongen/sessiongen/runtime/store/mysqlstore

go 1.26.0

// The modules of this repository are released together, at one version;
// the replacements build them from the working tree.
replace github.com/sessiongen/sessiongen => ../../..

require (
	github.com/go-sql-driver/mysql v1.10.1
	github.com/sessiongen/sessiongen v0.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
