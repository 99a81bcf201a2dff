module github.com/sessiongen/sessiongen/runtime/store/redisstore

go 1.26.0

// The modules of this repository are released together, at one version;
// the replacements build them from the working tree.
replace github.com/sessiongen/sessiongen => ../../..

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/sessiongen/sessiongen v0.1.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
