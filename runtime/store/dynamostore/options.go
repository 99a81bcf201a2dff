package dynamostore

// Option configures a [Store] in [New].
type Option func(*config)

// config holds the settings options change.
type config struct {
	setup bool // describe, create and wait for the table (default true)
	ttl   bool // turn on Time to Live on "ttl" (default true)
}

// WithoutSetup makes [New] send no request at all: the table (partition
// key "id", string) and its Time to Live on "ttl" are managed elsewhere,
// for example by infrastructure code, and the credentials need no
// DescribeTable, CreateTable or UpdateTimeToLive permission.
func WithoutSetup() Option {
	return func(c *config) { c.setup = false }
}

// WithoutTTL makes [New] leave the table's Time to Live settings alone
// (by default it turns TTL on for the attribute "ttl"). Sessions still
// expire on time; only the purge of expired items is up to you.
func WithoutTTL() Option {
	return func(c *config) { c.ttl = false }
}
