package otelsession_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Wiring takes two steps: the Telemetry observes the manager from its
// creation (engine latencies, spans), then Register exports the
// manager's counters. Here the meter provider is read by hand; in a
// service it is the one the program exports with, and a nil provider
// means the global one.
func Example() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()

	tel, err := otelsession.New(mp, nil, otelsession.WithEngineName("memory"))
	if err != nil {
		log.Fatal(err)
	}
	engine := memstore.New()
	defer func() { _ = engine.Close() }()
	m, err := session.New(session.WithStore(engine), session.WithObserver(tel))
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	unregister, err := tel.Register(m)
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = unregister() }()

	// One request starts a session, a second one reads it from the cache.
	visits := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := session.Update(r.Context(), session.FromContext(r.Context()), "visits", func(n int, _ bool) (int, error) {
			return n + 1, nil
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, n)
	}))
	rec := httptest.NewRecorder()
	visits.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range rec.Result().Cookies() {
		req.AddCookie(c)
	}
	visits.ServeHTTP(httptest.NewRecorder(), req)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, metric := range sm.Metrics {
			switch data := metric.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range data.DataPoints {
					if p.Value != 0 && metric.Name != otelsession.MetricCacheSessions {
						fmt.Printf("%s{%s} %d\n", metric.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range data.DataPoints {
					fmt.Printf("%s{%s} count %d\n", metric.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Count)
				}
			}
		}
	}
	// Unordered output:
	// sessiongen.cache.hits{} 1
	// sessiongen.engine.calls{db.system.name=memory,op=create,outcome=ok} 1
	// sessiongen.engine.calls{db.system.name=memory,op=update,outcome=ok} 1
	// sessiongen.engine.duration{db.system.name=memory,op=create,outcome=ok} count 1
	// sessiongen.engine.duration{db.system.name=memory,op=update,outcome=ok} count 1
}
