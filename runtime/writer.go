package session

import (
	"bufio"
	"io"
	"net"
	"net/http"
)

// writer wraps the handler's http.ResponseWriter so the session is
// flushed and its ID written before the response's first byte.
type writer struct {
	s *Session
}

// begin starts the response once and reports whether the handler's
// output goes through (false: the error handler answered).
func (s *Session) begin() bool {
	switch s.phase.Load() {
	case phaseSent:
		return true
	case phaseFailed:
		return false
	}
	return s.startResponse()
}

// Header returns the underlying writer's header map.
func (w *writer) Header() http.Header {
	return w.s.rw.Header()
}

// WriteHeader starts the response, then writes the status. Informational
// statuses (1xx except 101) pass through without starting it.
func (w *writer) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		if w.s.phase.Load() != phaseFailed {
			w.s.rw.WriteHeader(code)
		}
		return
	}
	if w.s.begin() {
		w.s.rw.WriteHeader(code)
	}
}

// Write starts the response, then writes b.
func (w *writer) Write(b []byte) (int, error) {
	if !w.s.begin() {
		return 0, errDiscarded
	}
	return w.s.rw.Write(b)
}

// ReadFrom starts the response, then copies src, using the underlying
// writer's ReadFrom when it has one.
func (w *writer) ReadFrom(src io.Reader) (int64, error) {
	if !w.s.begin() {
		return 0, errDiscarded
	}
	if rf, ok := w.s.rw.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(writerOnly{w.s.rw}, src)
}

// writerOnly hides every method but Write, so io.Copy does not loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

// Flush starts the response and flushes it, as [writer.FlushError].
func (w *writer) Flush() {
	_ = w.FlushError()
}

// FlushError starts the response, then flushes the underlying writer.
// [http.ResponseController.Flush] calls it.
func (w *writer) FlushError() error {
	if !w.s.begin() {
		return errDiscarded
	}
	return http.NewResponseController(w.s.rw).Flush()
}

// Hijack starts the response (the session's changes reach the engine;
// the ID goes into the header map, which a hijacking handler may send
// itself), then hijacks the connection.
func (w *writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.s.begin() {
		return nil, nil, errDiscarded
	}
	return http.NewResponseController(w.s.rw).Hijack()
}

// Unwrap returns the underlying writer, for [http.ResponseController].
func (w *writer) Unwrap() http.ResponseWriter {
	return w.s.rw
}
