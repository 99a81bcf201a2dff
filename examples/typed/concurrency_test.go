package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// TestConcurrentRequestsLoseNothing fires the visits (GET /api/me) and
// the cart additions (POST /api/cart) of one session all at once, split
// over two instances of the app sharing one engine without a bus (two
// processes behind a load balancer): every visit is counted, each call
// seeing a count of its own, and the cart ends up holding exactly the
// items whose request succeeded, as many as it holds at most; the others
// get 413. A handler that read the field and then wrote it back would
// lose some.
func TestConcurrentRequestsLoseNothing(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	srvs := []*httptest.Server{newTestServer(t, st), newTestServer(t, st)}
	b := newBrowser(t, srvs[0].URL)
	b.login("alice")
	sid := b.sid()
	require.NotEmpty(t, sid)
	for _, srv := range srvs { // both instances hold the session in their cache
		require.Equal(t, http.StatusOK, b.at(srv.URL).get("/").status)
	}

	// send sends one request with the session cookie; it is safe for
	// concurrent use (no require).
	send := func(srv *httptest.Server, method, path string, form url.Values) (int, []byte, error) {
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, body)
		if err != nil {
			return 0, nil, err
		}
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.AddCookie(&http.Cookie{Name: "sid", Value: sid})
		res, err := srv.Client().Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		return res.StatusCode, data, err
	}

	const visits, adds = 60, maxCartItems + 4
	type result struct {
		status int
		body   []byte
		err    error
	}
	me := make([]result, visits)
	cart := make([]result, adds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range visits {
		wg.Go(func() {
			<-start
			r := &me[i]
			r.status, r.body, r.err = send(srvs[i%2], http.MethodGet, "/api/me", nil)
		})
	}
	for i := range adds {
		wg.Go(func() {
			<-start
			r := &cart[i]
			r.status, r.body, r.err = send(srvs[i%2], http.MethodPost, "/api/cart", url.Values{"item": {fmt.Sprintf("item-%d", i)}})
		})
	}
	close(start)
	wg.Wait()

	var counts []int64
	for i, r := range me {
		require.NoError(t, r.err, "visit %d", i)
		require.Equal(t, http.StatusOK, r.status, "visit %d: %s", i, r.body)
		var m meResponse
		require.NoError(t, json.Unmarshal(r.body, &m), string(r.body))
		counts = append(counts, m.Visits)
	}
	slices.Sort(counts)
	for i, n := range counts {
		require.Equal(t, int64(i+1), n, "each visit saw a count of its own")
	}
	var added []string
	for i, r := range cart {
		require.NoError(t, r.err, "add %d", i)
		item := fmt.Sprintf("item-%d", i)
		switch r.status {
		case http.StatusOK:
			var c cartResponse
			require.NoError(t, json.Unmarshal(r.body, &c), string(r.body))
			assert.Contains(t, c.Cart, item, "the response's cart holds its item")
			added = append(added, item)
		case http.StatusRequestEntityTooLarge:
			assert.Contains(t, string(r.body), "The cart is full", "add %d", i)
		default:
			t.Fatalf("add %d: status %d: %s", i, r.status, r.body)
		}
	}
	assert.Len(t, added, maxCartItems, "the cart filled up, and no more")

	// A third instance, with nothing cached, reads the engine.
	got := b.at(newTestServer(t, st).URL).me()
	assert.Equal(t, int64(visits+1), got.Visits, "no visit lost")
	assert.ElementsMatch(t, added, got.Cart, "no item lost, none extra")
}
