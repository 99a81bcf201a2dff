package dynamostore_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// retryingStore returns a Store whose requests pass through the returned
// hookHTTP with the SDK's default retries on (as a client built from
// the default config has), and a second Store on a plain client.
func retryingStore(t *testing.T) (*dynamostore.Store, *hookHTTP, *dynamostore.Store) {
	t.Helper()
	_, table, plain := testStore(t)
	h := &hookHTTP{next: &http.Client{}}
	return newStore(t, newClient(endpoint(t), h, 0), table, dynamostore.WithoutSetup()), h, plain
}

// throttled answers the request, without forwarding it, as DynamoDB
// answers one it refused for throughput.
func throttled(func() (*http.Response, error)) (*http.Response, error) {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}`
	return &http.Response{
		StatusCode: http.StatusBadRequest,
		Header:     http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:       io.NopCloser(strings.NewReader(body)),
	}, nil
}

// TestNoResendAfterLostAnswer: with the SDK's retries on, a conditional
// write whose answer is lost after the engine applied it is not sent
// again (the second send would be judged against the first one's work):
// Create does not report ErrExists for the session it wrote, an Update
// with expectations does not report a conflict with itself, and a Move
// whose mark was applied does not report the session gone (and leave it
// marked, lost). Each fails with the network's error and leaves the
// engine as one send of it would.
func TestNoResendAfterLostAnswer(t *testing.T) {
	s, h, plain := retryingStore(t)
	ctx := context.Background()

	t.Run("create", func(t *testing.T) {
		key := storetest.NewKey(t)
		h.on("PutItem", lostAnswer)
		err := s.Create(ctx, key, enginetest.LiveRecord("a", "1"))
		require.ErrorIs(t, err, errLost)
		assert.NotErrorIs(t, err, store.ErrExists)
		got, err := plain.Load(ctx, key)
		require.NoError(t, err, "the Create was applied once")
		assert.Equal(t, uint64(1), got.Version)
	})
	t.Run("update", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.NoError(t, plain.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		h.on("UpdateItem", lostAnswer)
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}})
		require.ErrorIs(t, err, errLost)
		assert.NotErrorIs(t, err, store.ErrConflict)
		got, err := plain.Load(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, []byte("2"), got.Fields["a"])
		assert.Equal(t, uint64(2), got.Version, "the Update was applied once")
	})
	t.Run("move", func(t *testing.T) {
		from, rec := created(t, plain)
		to := storetest.NewKey(t)
		h.on("UpdateItem", lostAnswer) // the mark
		_, err := s.Move(ctx, from, to, store.Change{Expires: rec.Expires})
		require.ErrorIs(t, err, errLost)
		assert.NotErrorIs(t, err, store.ErrNotFound)
		assert.Equal(t, 1, liveCopies(t, plain, from, to), "the session is not lost")
		_, err = plain.Load(ctx, from)
		require.NoError(t, err, "the mark was taken back")
	})
	t.Run("throttled writes are still sent again", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.NoError(t, plain.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		h.on("UpdateItem", throttled)
		v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}})
		require.NoError(t, err, "the SDK sent the refused request again")
		assert.Equal(t, uint64(2), v)
	})
}

// TestThrottledOutIsNotSent: a conditional write whose every attempt is
// refused for throughput, until the SDK's retries run out, applied
// nothing, and its error wraps store.ErrNotSent (so a manager keeps its
// cached copy); an answer lost after the engine applied the write does
// not.
func TestThrottledOutIsNotSent(t *testing.T) {
	_, table, plain := testStore(t)
	h := &hookHTTP{next: &http.Client{}}
	client := dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("sessiongen", "sessiongen", ""),
		BaseEndpoint: aws.String(endpoint(t)),
		HTTPClient:   h,
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	s := newStore(t, client, table, dynamostore.WithoutSetup())
	ctx := context.Background()
	// always refuses every request of op until the test stops it.
	always := func(op string) (stop func(), sent *atomic.Int64) {
		sent = &atomic.Int64{}
		var hook func(func() (*http.Response, error)) (*http.Response, error)
		hook = func(f func() (*http.Response, error)) (*http.Response, error) {
			sent.Add(1)
			h.on(op, hook)
			return throttled(f)
		}
		h.on(op, hook)
		return func() { h.on(op, nil) }, sent
	}

	t.Run("create", func(t *testing.T) {
		key := storetest.NewKey(t)
		stop, sent := always("PutItem")
		err := s.Create(ctx, key, enginetest.LiveRecord("a", "1"))
		stop()
		require.ErrorIs(t, err, store.ErrNotSent)
		assert.EqualValues(t, 3, sent.Load(), "every attempt was refused")
		_, err = plain.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("update", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.NoError(t, plain.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		stop, _ := always("UpdateItem")
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}})
		stop()
		require.ErrorIs(t, err, store.ErrNotSent)
		requireVersion(t, plain, key, 1)
	})
	t.Run("lost answer", func(t *testing.T) {
		key := storetest.NewKey(t)
		require.NoError(t, plain.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		h.on("UpdateItem", lostAnswer)
		_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}})
		require.ErrorIs(t, err, errLost)
		assert.NotErrorIs(t, err, store.ErrNotSent)
		requireVersion(t, plain, key, 2)
	})
}

// requireVersion checks the version of the session under key.
func requireVersion(t *testing.T, s *dynamostore.Store, key string, want uint64) {
	t.Helper()
	got, err := s.Load(context.Background(), key)
	require.NoError(t, err)
	assert.Equal(t, want, got.Version)
}
