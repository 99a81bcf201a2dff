module github.com/sessiongen/sessiongen/examples/typed

go 1.26.0

// The modules of this repository are released together, at one version;
// the replacements build them from the working tree.
replace (
	github.com/sessiongen/sessiongen => ../..
	github.com/sessiongen/sessiongen/cmd/sessiongen => ../../cmd/sessiongen
	github.com/sessiongen/sessiongen/runtime/bus/pgbus => ../../runtime/bus/pgbus
	github.com/sessiongen/sessiongen/runtime/bus/redisbus => ../../runtime/bus/redisbus
	github.com/sessiongen/sessiongen/runtime/store/boltstore => ../../runtime/store/boltstore
	github.com/sessiongen/sessiongen/runtime/store/dynamostore => ../../runtime/store/dynamostore
	github.com/sessiongen/sessiongen/runtime/store/mysqlstore => ../../runtime/store/mysqlstore
	github.com/sessiongen/sessiongen/runtime/store/pgstore => ../../runtime/store/pgstore
	github.com/sessiongen/sessiongen/runtime/store/redisstore => ../../runtime/store/redisstore
)

require (
	github.com/aws/aws-sdk-go-v2 v1.48.0
	github.com/aws/aws-sdk-go-v2/credentials v1.21.0
	github.com/aws/aws-sdk-go-v2/service/dynamodb v1.74.0
	github.com/chromedp/chromedp v0.23.0
	github.com/go-sql-driver/mysql v1.10.1
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/sessiongen/sessiongen v0.1.0
	github.com/sessiongen/sessiongen/runtime/bus/pgbus v0.1.0
	github.com/sessiongen/sessiongen/runtime/bus/redisbus v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/boltstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/dynamostore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/mysqlstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/pgstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/redisstore v0.1.0
	github.com/stretchr/testify v1.12.1
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require (
	filippo.io/edwards25519 v1.2.0 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.5.12 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.8.12 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/accept-encoding v1.13.25 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/endpoint-discovery v1.13.12 // indirect
	github.com/aws/smithy-go v1.28.9 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/chromedp/cdproto v0.159.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/maypok86/otter/v2 v2.4.0 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.etcd.io/bbolt v1.5.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)
