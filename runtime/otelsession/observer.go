package otelsession

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// EngineCall implements [session.Observer]: it starts the client span
// "sessiongen.engine <op>" (attributes "op", "db.system.name" with
// [WithEngineName], and those of [WithAttributes]) as a child of ctx's
// span, and returns the context carrying it, for the engine's own spans.
// The function returned ends the span with the attribute "outcome" and
// records the call's duration in [MetricEngineDuration].
//
// Only [session.OutcomeError] marks the span as failed (status Error,
// with "error.type"): not-found and refused are normal answers of an
// engine. The error's message is not recorded, as it may name the
// session's engine key.
func (t *Telemetry) EngineCall(ctx context.Context, op session.EngineOp) (context.Context, func(error)) {
	i := t.attrs.op(op)
	ctx, span := t.tracer.Start(ctx, t.attrs.names[i], t.attrs.starts[i]...)
	start := time.Now()
	return ctx, func(err error) {
		o := session.OutcomeOf(err)
		j := t.attrs.outcome(o)
		t.inst.engineDuration.Record(ctx, time.Since(start).Seconds(), t.attrs.durs[i][j]...)
		if span.IsRecording() {
			span.SetAttributes(t.attrs.results[j]...)
			if o == session.OutcomeError {
				typ := errorType(err)
				span.SetAttributes(semconv.ErrorTypeKey.String(typ))
				span.SetStatus(codes.Error, typ)
			}
		}
		span.End()
	}
}

// BusLag implements [session.Observer]: it records d in [MetricBusLag].
func (t *Telemetry) BusLag(d time.Duration) {
	t.inst.busLag.Record(context.Background(), d.Seconds(), t.attrs.lag...)
}

// errorType names the kind of a failed engine call's error without its
// message: a context error or a store sentinel by name, else what
// semconv.ErrorType finds (an ErrorType method in the chain, or the Go
// type of the error fmt.Errorf wrapped), with "_OTHER" (the semantic
// conventions' fallback) for a plain errors.New value.
func errorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, context.Canceled):
		return "context.Canceled"
	case errors.Is(err, store.ErrCorrupt):
		return "store.ErrCorrupt"
	case errors.Is(err, store.ErrInvalid):
		return "store.ErrInvalid"
	}
	typ := semconv.ErrorType(err).Value.AsString()
	if typ == "*errors.errorString" {
		return semconv.ErrorTypeOther.Value.AsString()
	}
	return typ
}
