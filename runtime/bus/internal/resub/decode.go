package resub

import (
	"log/slog"
	"sync/atomic"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Decoder decodes received payloads and delivers them, counting and
// logging those that are not messages in the wire format of package bus.
// Set its fields before the first Handle; it is safe for concurrent use
// afterwards. The zero count is where a new Decoder starts.
type Decoder struct {
	// Log receives a Warn line per malformed payload.
	Log *slog.Logger
	// Name prefixes the log line ("pgbus").
	Name string
	// Channel is logged with every line.
	Channel string

	malformed atomic.Uint64
}

// Malformed returns how many payloads Handle skipped as malformed.
func (d *Decoder) Malformed() uint64 { return d.malformed.Load() }

// Handle decodes payload and delivers it, or counts and logs it as
// malformed.
func (d *Decoder) Handle(payload string, deliver func(bus.Message)) {
	m, err := bus.Decode([]byte(payload))
	if err != nil {
		n := d.malformed.Add(1)
		d.Log.Warn(d.Name+": skipped a malformed message",
			"channel", d.Channel, "bytes", len(payload), "skipped", n, "error", err)
		return
	}
	deliver(m)
}
