package otelsession

import (
	"go.opentelemetry.io/otel/attribute"
)

// Option configures a [Telemetry] (see [New]).
type Option func(*config)

// config is what the options set.
type config struct {
	engine string
	attrs  []attribute.KeyValue
}

// WithEngineName names the storage engine, as the attribute
// "db.system.name" of the engine spans and of the engine metrics
// ([MetricEngineCalls], [MetricEngineDuration]). Use the OpenTelemetry
// semantic conventions' value where there is one: "redis",
// "postgresql", "mariadb", "mysql", "aws.dynamodb"; for the memory or
// bbolt engine, a name of your choice ("memory", "bbolt"). Default: none
// (the attribute is left out).
func WithEngineName(name string) Option {
	return func(c *config) { c.engine = name }
}

// WithAttributes adds attrs to every measurement and every span, for
// example attribute.String("sessiongen.manager", "admin") to tell apart
// the managers of one process, each observed by its own [Telemetry].
// Keep them constant and of low cardinality. Later options add to
// earlier ones; an attribute repeated keeps its last value. Default:
// none.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return func(c *config) { c.attrs = append(c.attrs, attrs...) }
}
