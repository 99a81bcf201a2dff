module github.com/sessiongen/sessiongen/runtime/bus/pgbus

go 1.26.0

// The modules of this repository are released together, at one version;
// the replacements build them from the working tree.
replace github.com/sessiongen/sessiongen => ../../..

require (
	github.com/jackc/pgx/v5 v5.12.0
	github.com/sessiongen/sessiongen v0.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
