module github.com/sessiongen/sessiongen/bench

go 1.26.0

replace github.com/sessiongen/sessiongen => ../

require (
	github.com/alexedwards/scs/pgxstore v0.0.0-20240316134038-7e11d57e8885
	github.com/alexedwards/scs/redisstore v0.0.0-20251002162104-209de6e426de
	github.com/alexedwards/scs/v2 v2.9.0
	github.com/go-sql-driver/mysql v1.10.1
	github.com/gomodule/redigo v1.8.0
	github.com/gorilla/sessions v1.4.0
	github.com/jackc/pgx/v5 v5.12.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/sessiongen/sessiongen v0.1.0
	github.com/stretchr/testify v1.12.1
	go.etcd.io/bbolt v1.5.0
)

require filippo.io/edwards25519 v1.2.0 // indirect

require (
	github.com/alexedwards/scs/mysqlstore v0.0.0-20250417082927-ab20b3feb5e9
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/gorilla/securecookie v1.1.2 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/maypok86/otter/v2 v2.4.0
	github.com/sessiongen/sessiongen/runtime/store/boltstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/mysqlstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/pgstore v0.1.0
	github.com/sessiongen/sessiongen/runtime/store/redisstore v0.1.0
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.41.0 // indirect
)

replace github.com/sessiongen/sessiongen/runtime/store/redisstore => ../runtime/store/redisstore

replace github.com/sessiongen/sessiongen/runtime/store/pgstore => ../runtime/store/pgstore

replace github.com/sessiongen/sessiongen/runtime/store/mysqlstore => ../runtime/store/mysqlstore

replace github.com/sessiongen/sessiongen/runtime/store/boltstore => ../runtime/store/boltstore
