// Package servers runs the many-node suite (nodetest) on every engine
// that needs a server or a driver: bbolt, Redis (single and Cluster),
// PostgreSQL, MariaDB/MySQL and DynamoDB, each with its bus. It is a
// module of its own so that the runtime module requires none of their
// drivers; it holds tests only.
package servers
