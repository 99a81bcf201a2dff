package otelsession

import (
	"slices"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	session "github.com/sessiongen/sessiongen/runtime"
)

// attrTables holds every attribute set and option a Telemetry records
// with, computed once in [New], so recording builds none: the options
// are passed as ready slices.
//
// Tables indexed by operation have one entry more than
// [session.EngineOps], for an operation this package does not know (a
// newer runtime): it is recorded as "unknown", as its String says.
// Likewise for outcomes.
type attrTables struct {
	ops      []session.EngineOp
	outcomes []session.Outcome

	plain   []metric.ObserveOption    // WithAttributes only
	lag     []metric.RecordOption     // WithAttributes only
	bus     [3][]metric.ObserveOption // sent, received, dropped
	calls   [][][]metric.ObserveOption
	durs    [][][]metric.RecordOption
	names   []string                  // span names, by operation
	starts  [][]trace.SpanStartOption // span start options, by operation
	results [][]attribute.KeyValue    // span attribute at the end, by outcome
	base    []attribute.KeyValue      // WithAttributes, deduplicated
	engine  []attribute.KeyValue      // db.system.name, or none
}

// The bus directions, indexes of attrTables.bus.
const (
	busSent = iota
	busReceived
	busDropped
)

// newAttrTables computes the tables for configuration c.
func newAttrTables(c config) attrTables {
	a := attrTables{ops: session.EngineOps(), outcomes: session.Outcomes()}
	base := attribute.NewSet(c.attrs...)
	a.base = base.ToSlice()
	if c.engine != "" {
		a.engine = []attribute.KeyValue{semconv.DBSystemNameKey.String(c.engine)}
	}
	a.plain = []metric.ObserveOption{metric.WithAttributeSet(base)}
	a.lag = []metric.RecordOption{metric.WithAttributeSet(base)}
	for i, dir := range [...]string{"sent", "received", "dropped"} {
		a.bus[i] = []metric.ObserveOption{metric.WithAttributeSet(with(a.base, attribute.String(AttrDirection, dir)))}
	}

	engineBase := append(slices.Clone(a.base), a.engine...)
	nOps, nOutcomes := len(a.ops)+1, len(a.outcomes)+1
	a.calls = make([][][]metric.ObserveOption, nOps)
	a.durs = make([][][]metric.RecordOption, nOps)
	a.names = make([]string, nOps)
	a.starts = make([][]trace.SpanStartOption, nOps)
	for i := range nOps {
		op := session.EngineOp(i).String() // "unknown" past the last
		opAttr := attribute.String(AttrOp, op)
		a.names[i] = "sessiongen.engine " + op
		spanAttrs := with(engineBase, opAttr)
		a.starts[i] = []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(spanAttrs.ToSlice()...),
		}
		a.calls[i] = make([][]metric.ObserveOption, nOutcomes)
		a.durs[i] = make([][]metric.RecordOption, nOutcomes)
		for j := range nOutcomes {
			set := with(engineBase, opAttr, attribute.String(AttrOutcome, session.Outcome(j).String()))
			a.calls[i][j] = []metric.ObserveOption{metric.WithAttributeSet(set)}
			a.durs[i][j] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	a.results = make([][]attribute.KeyValue, nOutcomes)
	for j := range nOutcomes {
		a.results[j] = []attribute.KeyValue{attribute.String(AttrOutcome, session.Outcome(j).String())}
	}
	return a
}

// with returns the set of base and then more (a repeated key keeps its
// last value).
func with(base []attribute.KeyValue, more ...attribute.KeyValue) attribute.Set {
	all := make([]attribute.KeyValue, 0, len(base)+len(more))
	return attribute.NewSet(append(append(all, base...), more...)...)
}

// op returns the table index of operation op.
func (a *attrTables) op(op session.EngineOp) int {
	return min(int(op), len(a.ops))
}

// outcome returns the table index of outcome o.
func (a *attrTables) outcome(o session.Outcome) int {
	return min(int(o), len(a.outcomes))
}
