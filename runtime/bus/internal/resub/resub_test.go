package resub

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoop runs a session script: two failed attempts, a subscription
// that is lost, another that stays up until the context ends. The state
// calls alternate starting with up, the end of the context is not a loss,
// Loop returns the context's error, and the log tells each step.
func TestLoop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var states []bool
	calls := 0
	errDial := errors.New("dial failed")
	err := Loop(ctx, log, "ch", Logs{Up: "t: up", Lost: "t: lost", Retry: "t: retry"},
		func(up bool) { states = append(states, up) },
		func(ctx context.Context, up func()) (bool, error) {
			calls++
			switch calls {
			case 1, 2:
				return false, errDial
			case 3:
				up()
				return true, errors.New("connection reset")
			default:
				up()
				cancel()
				<-ctx.Done()
				return true, ctx.Err()
			}
		})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 4, calls)
	assert.Equal(t, []bool{true, false, true}, states)
	out := buf.String()
	assert.Equal(t, 1, strings.Count(out, "level=WARN msg=\"t: retry\""), out)
	assert.Equal(t, 1, strings.Count(out, "level=DEBUG msg=\"t: retry\""), out)
	assert.Equal(t, 1, strings.Count(out, "level=WARN msg=\"t: lost\""), out)
	assert.Equal(t, 2, strings.Count(out, "level=INFO msg=\"t: up\""), out)
	assert.Contains(t, out, "failed_attempts=2")
	assert.Contains(t, out, "channel=ch")
}

// TestLoopCanceledBeforeStart: an ended context returns at once, without
// a session or a state call.
func TestLoopCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Loop(ctx, slog.New(slog.DiscardHandler), "ch", Logs{},
		func(bool) { t.Error("state called") },
		func(context.Context, func()) (bool, error) { t.Error("session run"); return false, nil })
	require.ErrorIs(t, err, context.Canceled)
}
