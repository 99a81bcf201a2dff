package bustest

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// LogBuffer is a log destination safe to read while a Bus writes.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Logger returns a text logger at Debug level writing to b.
func (b *LogBuffer) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// PublishUntil publishes m through b until it is delivered to r (the
// publisher's connections may be dead after an outage), failing the test
// after ten seconds.
func PublishUntil(t *testing.T, b bus.Bus, r *Recorder, m bus.Message) {
	t.Helper()
	Eventually(t, 10*time.Second, "delivery after the outage", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if b.Publish(ctx, m) != nil {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		deadline := time.Now().Add(time.Second)
		for time.Now().Before(deadline) {
			msgs := r.Messages()
			if len(msgs) > 0 && msgs[len(msgs)-1] == m {
				return true
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
}

// MalformedLogged checks that a payload sub skips is counted and logged
// to logs, with the channel but without its content. sub must be a Bus of
// tr on channel ch, logging to logs.
func MalformedLogged(t *testing.T, tr Transport, sub bus.Bus, ch string, logs *LogBuffer) {
	t.Helper()
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	tr.Inject(t, ch, "secret-looking garbage")
	Publish(t, tr.New(t, ch), Msg("n", "k", 1))
	r.WaitMessages(1, Wait)
	assert.Equal(t, uint64(1), tr.Malformed(sub))
	out := logs.String()
	assert.Contains(t, out, tr.Name+": skipped a malformed message")
	assert.Contains(t, out, "channel="+ch)
	assert.NotContains(t, out, "secret-looking")
}
