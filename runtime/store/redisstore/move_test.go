package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// freezeLimit is how long a Move on a Cluster may keep the old session
// frozen (moveFreeze in move.go).
const freezeLimit = 30 * time.Second

// errInjected is the error stepHook gives commands it fails.
var errInjected = errors.New("injected failure")

// stepHook is a redis.Hook that sees every script call touching one of
// two session hashes (the old and new key of a Move) and calls at
// before each, with the hash and the how-manieth call on it it is (1,
// 2...). A call at returns an error for fails without being sent; a
// call for which after returns an error is sent, but its caller gets
// that error instead of the answer (a lost reply).
type stepHook struct {
	from, to string // the two session hashes
	at       func(hash string, n int) error
	after    func(hash string, n int) error

	mu     sync.Mutex
	counts map[string]int
	fired  map[string]bool
}

// once reports whether the hook named what has not fired yet for step n
// of hash, and records that it now has. A step can reach the hook twice:
// an EVALSHA that Redis answers NOSCRIPT (a node that has not seen the
// script yet, as on a fresh cluster) is sent again as EVAL.
func (h *stepHook) once(what, hash string, n int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fired == nil {
		h.fired = map[string]bool{}
	}
	k := fmt.Sprintf("%s %s %d", what, hash, n)
	if h.fired[k] {
		return false
	}
	h.fired[k] = true
	return true
}

// noScript reports whether err is Redis's NOSCRIPT answer: the step did
// not run and is about to be sent again as EVAL.
func noScript(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT")
}

func (h *stepHook) DialHook(next redis.DialHook) redis.DialHook { return next }

// step returns the hash cmd's script touches and its count, or "".
func (h *stepHook) step(cmd redis.Cmder) (string, int) {
	args := cmd.Args()
	if len(args) < 4 || (cmd.Name() != "evalsha" && cmd.Name() != "eval") {
		return "", 0
	}
	key, _ := args[3].(string)
	if key != h.from && key != h.to {
		return "", 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[string]int{}
	}
	if cmd.Name() == "evalsha" { // an EVAL after NOSCRIPT is the same step
		h.counts[key]++
	}
	return key, h.counts[key]
}

func (h *stepHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		key, n := h.step(cmd)
		if key == "" {
			return next(ctx, cmd)
		}
		if h.at != nil && h.once("at", key, n) {
			if err := h.at(key, n); err != nil {
				cmd.SetErr(err)
				return err
			}
		}
		err := next(ctx, cmd)
		if h.after != nil && !noScript(err) && h.once("after", key, n) {
			if lost := h.after(key, n); lost != nil {
				cmd.SetErr(lost)
				return lost
			}
		}
		return err
	}
}

func (h *stepHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var fail error
		var lost []func() error
		for _, cmd := range cmds {
			key, n := h.step(cmd)
			if key == "" {
				continue
			}
			if h.at != nil && h.once("at", key, n) {
				if err := h.at(key, n); err != nil {
					fail = err
				}
			}
			if h.after != nil {
				lost = append(lost, func() error {
					if noScript(cmd.Err()) || !h.once("after", key, n) {
						return nil
					}
					return h.after(key, n)
				})
			}
		}
		if fail != nil {
			for _, cmd := range cmds {
				cmd.SetErr(fail)
			}
			return fail
		}
		err := next(ctx, cmds)
		for _, l := range lost {
			if e := l(); e != nil {
				for _, cmd := range cmds {
					cmd.SetErr(e)
				}
				return e
			}
		}
		return err
	}
}

// moveSetup is a session to move on the Cluster through a client with a
// stepHook, and a second Store on a plain client for what races the Move.
type moveSetup struct {
	c      redis.UniversalClient // plain client
	prefix string
	s      *redisstore.Store // through the hook
	other  *redisstore.Store // plain
	hook   *stepHook
	owner  string
	from   string
	to     string
	rec    store.Record
}

// newMoveSetup creates an owned session on the Cluster, ready to move.
func newMoveSetup(t *testing.T) *moveSetup {
	t.Helper()
	plain := clusterClient(t)
	hooked := clusterClient(t)
	prefix := testPrefix(t, plain)
	m := &moveSetup{
		c: plain, prefix: prefix,
		s: newStore(t, hooked, prefix), other: newStore(t, plain, prefix),
		owner: "mover", from: storetest.NewKey(t), to: storetest.NewKey(t),
	}
	m.hook = &stepHook{from: m.hash(m.from), to: m.hash(m.to)}
	hooked.AddHook(m.hook)
	m.rec = store.Record{
		Fields:  map[string][]byte{"a": []byte("1")},
		Created: time.UnixMilli(time.Now().UnixMilli()), Expires: time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()),
		Owner: m.owner,
	}
	require.NoError(t, m.other.Create(context.Background(), m.from, m.rec))
	return m
}

// hash is the Redis key of the session key.
func (m *moveSetup) hash(key string) string { return m.prefix + "{" + key + "}" }

// move moves from to to through the hook.
func (m *moveSetup) move() (store.Record, error) {
	return m.s.Move(context.Background(), m.from, m.to, store.Change{Set: map[string][]byte{"b": []byte("2")}, Expires: time.Now().Add(2 * time.Hour)})
}

// revoke lists the owner's sessions and deletes each (log out
// everywhere), through the plain Store, and returns the keys listed.
func (m *moveSetup) revoke(t *testing.T) []string {
	ctx := context.Background()
	owned, err := m.other.Owned(ctx, m.owner)
	require.NoError(t, err)
	var keys []string
	for _, o := range owned {
		keys = append(keys, o.Key)
		require.NoError(t, m.other.Delete(ctx, o.Key))
	}
	return keys
}

// requireNothing fails unless neither key holds anything in Redis and the
// owner lists no session.
func (m *moveSetup) requireNothing(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	n, err := m.c.Exists(ctx, m.hash(m.from)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the old key holds something")
	n, err = m.c.Exists(ctx, m.hash(m.to)).Result()
	require.NoError(t, err)
	assert.Zero(t, n, "the new key holds something")
	owned, err := m.other.Owned(ctx, m.owner)
	require.NoError(t, err)
	assert.Empty(t, owned)
}

// requireFrozen fails unless the old key reads as gone to every
// operation but is held by Redis with an expiry no later than the end of
// a freeze begun by now (the freeze happened before this call), and lists
// in the owner's index with that expiry at most.
func (m *moveSetup) requireFrozen(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := m.other.Load(ctx, m.from)
	require.ErrorIs(t, err, store.ErrNotFound, "Load of a frozen session")
	_, err = m.other.Version(ctx, m.from)
	require.ErrorIs(t, err, store.ErrNotFound, "Version of a frozen session")
	_, err = m.other.Update(ctx, m.from, store.Change{Set: map[string][]byte{"x": []byte("1")}})
	require.ErrorIs(t, err, store.ErrNotFound, "Update of a frozen session")
	_, err = m.other.Move(ctx, m.from, storetest.NewKey(t), store.Change{Expires: time.Now().Add(time.Hour)})
	require.ErrorIs(t, err, store.ErrNotFound, "Move of a frozen session")
	require.ErrorIs(t, m.other.Create(ctx, m.from, m.rec), store.ErrExists, "Create over a frozen session")
	at, err := m.c.PExpireTime(ctx, m.hash(m.from)).Result()
	require.NoError(t, err)
	limit := time.Now().Add(freezeLimit).UnixMilli()
	require.Positive(t, at.Milliseconds(), "the frozen session is held")
	require.LessOrEqual(t, at.Milliseconds(), limit, "the frozen session is purged when its freeze ends")
	owned, err := m.other.Owned(ctx, m.owner)
	require.NoError(t, err)
	for _, o := range owned {
		if o.Key == m.from {
			require.LessOrEqual(t, o.Expires.UnixMilli(), limit, "Owned lists a frozen session at most until its freeze ends")
		}
	}
}

// TestClusterMoveRevoked revokes the session (Owned, then Delete of each
// listed key) between the steps of a Move on a Cluster: the Move fails
// with ErrNotFound and nothing is left under either key.
func TestClusterMoveRevoked(t *testing.T) {
	for _, step := range []struct {
		name string
		hash func(m *moveSetup) string
		n    int
		want []string // "from", "to": what the revocation lists
	}{
		{"before the write", func(m *moveSetup) string { return m.hook.to }, 1, []string{"from"}},
		{"before the finish", func(m *moveSetup) string { return m.hook.from }, 2, []string{"from", "to"}},
	} {
		t.Run(step.name, func(t *testing.T) {
			m := newMoveSetup(t)
			var listed []string
			m.hook.at = func(hash string, n int) error {
				if hash == step.hash(m) && n == step.n {
					listed = m.revoke(t)
				}
				return nil
			}
			_, err := m.move()
			require.ErrorIs(t, err, store.ErrNotFound)
			names := map[string]string{m.from: "from", m.to: "to"}
			var got []string
			for _, k := range listed {
				got = append(got, names[k])
			}
			assert.ElementsMatch(t, step.want, got, "sessions the revocation listed")
			m.requireNothing(t)
		})
	}
}

// TestClusterMoveDeleted deletes the old key (Delete alone) between the
// write and the finish of a Move on a Cluster: the Move fails with
// ErrNotFound and removes what it wrote under the new key.
func TestClusterMoveDeleted(t *testing.T) {
	m := newMoveSetup(t)
	m.hook.at = func(hash string, n int) error {
		if hash == m.hook.from && n == 2 {
			require.NoError(t, m.other.Delete(context.Background(), m.from))
		}
		return nil
	}
	_, err := m.move()
	require.ErrorIs(t, err, store.ErrNotFound)
	m.requireNothing(t)
}

// TestClusterMoveFrozen checks what others see of a session while a Move
// on a Cluster has frozen it: gone to Load, Version, Update, Move, taken
// to Create, purged at the end of the freeze at the latest; the Move then
// succeeds.
func TestClusterMoveFrozen(t *testing.T) {
	m := newMoveSetup(t)
	m.hook.at = func(hash string, n int) error {
		if hash == m.hook.to && n == 1 {
			m.requireFrozen(t)
		}
		return nil
	}
	got, err := m.move()
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "b": []byte("2")}, got.Fields)
	ctx := context.Background()
	_, err = m.other.Load(ctx, m.from)
	require.ErrorIs(t, err, store.ErrNotFound)
	loaded, err := m.other.Load(ctx, m.to)
	require.NoError(t, err)
	assert.Equal(t, got.Fields, loaded.Fields)
	owned, err := m.other.Owned(ctx, m.owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	assert.Equal(t, m.to, owned[0].Key)
	members, err := m.c.ZRange(ctx, indexKey(m.prefix, m.owner), 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{m.to}, members, "the old key's index entry is removed")
}

// TestClusterMoveCrash stops a Move on a Cluster after each step, as a
// crash of its process would (every later command fails, the
// compensating ones too), and checks what is left: never two live
// copies; the old session frozen, purged when its freeze ends; after the
// write, an orphan record under the new key.
func TestClusterMoveCrash(t *testing.T) {
	for _, step := range []struct {
		name   string
		hash   func(m *moveSetup) string
		n      int
		orphan bool
	}{
		{"after the freeze", func(m *moveSetup) string { return m.hook.to }, 1, false},
		{"after the write", func(m *moveSetup) string { return m.hook.from }, 2, true},
	} {
		t.Run(step.name, func(t *testing.T) {
			m := newMoveSetup(t)
			crashed := false
			m.hook.at = func(hash string, n int) error {
				if hash == step.hash(m) && n == step.n {
					crashed = true
				}
				if crashed {
					return errInjected
				}
				return nil
			}
			_, err := m.move()
			require.ErrorIs(t, err, errInjected)
			assert.NotErrorIs(t, err, store.ErrNotFound)
			m.requireFrozen(t)
			_, err = m.other.Load(context.Background(), m.to)
			if step.orphan {
				require.NoError(t, err, "the orphan under the new key")
			} else {
				require.ErrorIs(t, err, store.ErrNotFound)
			}
		})
	}
}

// TestClusterMoveUndone fails the steps of a Move on a Cluster without a
// crash (a refused command, a lost reply): the Move reports the error,
// and its compensating steps leave either the old session as it was or,
// when the outcome of the finish is unknown, nothing; never two copies.
func TestClusterMoveUndone(t *testing.T) {
	ctx := context.Background()
	t.Run("write refused", func(t *testing.T) {
		m := newMoveSetup(t)
		m.hook.at = func(hash string, n int) error {
			if hash == m.hook.to && n == 1 {
				return errInjected
			}
			return nil
		}
		_, err := m.move()
		require.ErrorIs(t, err, errInjected)
		got, err := m.other.Load(ctx, m.from)
		require.NoError(t, err, "the old session is thawed")
		assert.Equal(t, m.rec.Fields, got.Fields)
		assert.True(t, m.rec.Expires.Equal(got.Expires), "with its expiry")
		assert.Equal(t, uint64(1), got.Version)
		at, err := m.c.PExpireTime(ctx, m.hash(m.from)).Result()
		require.NoError(t, err)
		assert.Equal(t, m.rec.Expires.UnixMilli(), at.Milliseconds())
		_, err = m.other.Load(ctx, m.to)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("write reply lost", func(t *testing.T) {
		m := newMoveSetup(t)
		m.hook.after = func(hash string, n int) error {
			if hash == m.hook.to && n == 1 {
				return errInjected
			}
			return nil
		}
		_, err := m.move()
		require.ErrorIs(t, err, errInjected)
		_, err = m.other.Load(ctx, m.from)
		require.NoError(t, err, "the old session is thawed")
		n, err := m.c.Exists(ctx, m.hash(m.to)).Result()
		require.NoError(t, err)
		assert.Zero(t, n, "the record written under the new key is dropped")
		owned, err := m.other.Owned(ctx, m.owner)
		require.NoError(t, err)
		require.Len(t, owned, 1)
		assert.Equal(t, m.from, owned[0].Key)
	})
	t.Run("finish reply lost", func(t *testing.T) {
		m := newMoveSetup(t)
		m.hook.after = func(hash string, n int) error {
			if hash == m.hook.from && n == 2 {
				return errInjected
			}
			return nil
		}
		_, err := m.move()
		require.ErrorIs(t, err, errInjected)
		m.requireNothing(t)
	})
}

// TestMoveCanceled checks that a Move with a canceled context fails with
// context.Canceled at once and leaves the session where it was.
func TestMoveCanceled(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		from, to := storetest.NewKey(t), storetest.NewKey(t)
		rec := store.Record{Fields: map[string][]byte{"a": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
		require.NoError(t, s.Create(ctx, from, rec))
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Move(canceled, from, to, store.Change{Expires: time.Now().Add(time.Hour)})
		require.ErrorIs(t, err, context.Canceled)
		assert.Contains(t, err.Error(), "redisstore: move: ")
		got, err := s.Load(ctx, from)
		require.NoError(t, err)
		assert.Equal(t, rec.Fields, got.Fields)
		_, err = s.Load(ctx, to)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
