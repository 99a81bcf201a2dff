package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sizes of the Move races.
const (
	moveRounds  = 40 // rounds of each Move race
	moveWriters = 4  // goroutines updating the session while it moves
	moveUpdates = 64 // most updates per goroutine and round
)

// testMoveRoundTrip: Move applies its change on the way, keeps Created
// and the owner, starts the version at 1, and leaves nothing under the
// old key.
func testMoveRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	from, to := NewKey(t), NewKey(t)
	rec := newRecord(awkwardFields())
	rec.Created = msTime(-time.Minute)
	rec.Owner = "mover"
	mustCreate(t, s, from, rec)
	mustUpdate(t, s, from, store.Change{Set: fields("later", "write")})
	c := store.Change{Set: fields("pending", "1"), Remove: []string{"later"}, Expires: msTime(2 * time.Hour)}
	got, err := s.Move(ctx, from, to, c)
	require.NoError(t, err, "Move")
	want := store.Record{Fields: merged(rec.Fields, c.Set, c.Remove...), Created: rec.Created, Expires: c.Expires, Version: 1, Owner: "mover"}
	requireRecord(t, want, got)
	requireRecord(t, want, mustLoad(t, s, to))
	requireNotFound(t, s, from)
	require.ErrorIs(t, updateErr(ctx, s, from, store.Change{Set: fields("x", "1")}), store.ErrNotFound)
	if v, ok := s.(store.Versioner); ok {
		requireVersion(t, v, to, 1)
	}
	requireUpdate(t, s, to, store.Change{Set: fields("after", "move")}, 2)
}

// testMoveOwner: Move with an Owner moves the session in the owner
// index; without one the new key is listed under the old owner.
func testMoveOwner(t *testing.T, s store.Store) {
	ctx := context.Background()
	first, second := newOwner(t, "move-first"), newOwner(t, "move-second")
	from, rec := createOwned(t, s, first, time.Hour)
	to := NewKey(t)
	got, err := s.Move(ctx, from, to, store.Change{Expires: rec.Expires})
	require.NoError(t, err, "Move")
	require.Equal(t, first, got.Owner)
	want := rec
	want.Version = 1
	if _, ok := s.(store.OwnerIndex); ok {
		requireOwned(t, s, first, map[string]store.Record{to: want})
	}
	third := NewKey(t)
	got, err = s.Move(ctx, to, third, store.Change{Expires: rec.Expires, Owner: ptr(second)})
	require.NoError(t, err, "Move")
	require.Equal(t, second, got.Owner)
	want.Owner = second
	requireRecord(t, want, mustLoad(t, s, third))
	if _, ok := s.(store.OwnerIndex); ok {
		requireOwned(t, s, first, nil)
		requireOwned(t, s, second, map[string]store.Record{third: want})
	}
}

// testMoveRefused: Move of a missing or deleted session, to a live key,
// with a failing condition or with invalid arguments writes nothing.
func testMoveRefused(t *testing.T, s store.Store) {
	ctx := context.Background()
	exp := msTime(time.Hour)
	move := func(from, to string, c store.Change) error {
		_, err := s.Move(ctx, from, to, c)
		return err
	}

	to := NewKey(t)
	require.ErrorIs(t, move(NewKey(t), to, store.Change{Expires: exp}), store.ErrNotFound, "missing")
	requireNotFound(t, s, to)

	deleted, _ := createBase(t, s)
	require.NoError(t, s.Delete(ctx, deleted))
	require.ErrorIs(t, move(deleted, to, store.Change{Expires: exp}), store.ErrNotFound, "deleted")
	requireNotFound(t, s, to)

	from, rec := createBase(t, s)
	live, liveRec := createBase(t, s)
	require.ErrorIs(t, move(from, live, store.Change{Expires: exp}), store.ErrExists, "to a live key")
	require.ErrorIs(t, move(from, to, store.Change{Expires: exp, Expect: map[string][]byte{"a": []byte("9")}}), store.ErrConflict, "conflict")
	require.ErrorIs(t, move(from, to, store.Change{Expires: exp, Set: fields("big", "0123456789"), MaxSize: 15}), store.ErrTooLarge, "too large")
	require.ErrorIs(t, move(from, to, store.Change{}), store.ErrInvalid, "zero Expires")
	require.ErrorIs(t, move(from, from, store.Change{Expires: exp}), store.ErrInvalid, "same key")
	require.ErrorIs(t, move("", to, store.Change{Expires: exp}), store.ErrInvalid, "empty from")
	require.ErrorIs(t, move(from, "", store.Change{Expires: exp}), store.ErrInvalid, "empty to")
	requireRecord(t, rec, mustLoad(t, s, from))
	requireRecord(t, liveRec, mustLoad(t, s, live))
	requireNotFound(t, s, to)

	// An expired record under to is replaced.
	old := NewKey(t)
	mustCreate(t, s, old, store.Record{Fields: fields("old", "1"), Created: msTime(0), Expires: msTime(shortTTL)})
	time.Sleep(time.Until(msTime(shortTTL + expiryMargin)))
	got, err := s.Move(ctx, from, old, store.Change{Expires: exp, Expect: map[string][]byte{"a": []byte("1")}, Set: fields("big", "0123456789"), MaxSize: 100})
	require.NoError(t, err, "Move over an expired record")
	requireFields(t, merged(rec.Fields, fields("big", "0123456789")), got.Fields)
	requireNotFound(t, s, from)
}

// testMoveRaces runs the Move races on one handle.
func testMoveRaces(t *testing.T, s store.Store) {
	MoveRaces(t, s, s)
}

// MoveRaces checks, over many rounds, that Move through a never loses a
// write and never revives a deleted session, while b (another handle on
// the same backend, or a itself):
//
//   - updates the session: every Update that returned nil is in the
//     moved record, and none succeeds on the old key after Move returned;
//   - deletes it: when Move fails it fails with ErrNotFound and leaves
//     nothing under the new key; when it succeeds nothing is left under
//     the old one;
//   - moves it elsewhere: at most one of the two moves succeeds, and
//     only its new key holds the session.
func MoveRaces(t *testing.T, a, b store.Store) {
	t.Helper()
	t.Run("MoveUpdateRace", func(t *testing.T) {
		for range moveRounds {
			moveUpdateRound(t, a, b)
			if t.Failed() {
				return
			}
		}
	})
	t.Run("MoveDeleteRace", func(t *testing.T) {
		for range moveRounds {
			moveDeleteRound(t, a, b)
			if t.Failed() {
				return
			}
		}
	})
	t.Run("MoveMoveRace", func(t *testing.T) {
		for range moveRounds {
			moveMoveRound(t, a, b)
			if t.Failed() {
				return
			}
		}
	})
}

// moveUpdateRound is one round of the Move-versus-Update race.
func moveUpdateRound(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	from, to := NewKey(t), NewKey(t)
	mustCreate(t, a, from, newRecord(fields("base", "1")))
	var (
		wg    sync.WaitGroup
		moved atomic.Bool
		mu    sync.Mutex
		acked []string
		half  = make(chan struct{})
		once  sync.Once
	)
	for g := range moveWriters {
		wg.Go(func() {
			for i := 0; i < moveUpdates; i++ {
				after := moved.Load()
				k := fmt.Sprintf("g%d-%d", g, i)
				_, err := b.Update(ctx, from, store.Change{Set: fields(k, "v")})
				if i == 2 {
					once.Do(func() { close(half) })
				}
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if !assert.NoError(t, err, "Update") {
					return
				}
				assert.False(t, after, "an Update of the old key that began after Move returned succeeded")
				mu.Lock()
				acked = append(acked, k)
				mu.Unlock()
			}
		})
	}
	<-half
	got, err := a.Move(ctx, from, to, store.Change{Expires: msTime(time.Hour)})
	moved.Store(true)
	wg.Wait()
	require.NoError(t, err, "Move")
	stored := mustLoad(t, a, to)
	for _, k := range acked {
		if _, ok := stored.Fields[k]; !ok {
			t.Fatalf("acknowledged write %s lost by Move", k)
		}
		if _, ok := got.Fields[k]; !ok {
			t.Fatalf("acknowledged write %s missing from the record Move returned", k)
		}
	}
	requireNotFound(t, a, from)
	requireNotFound(t, b, from)
}

// moveDeleteRound is one round of the Move-versus-Delete race.
func moveDeleteRound(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	from, to := NewKey(t), NewKey(t)
	mustCreate(t, a, from, newRecord(fields("base", "1")))
	var wg sync.WaitGroup
	start := make(chan struct{})
	var moveErr, delErr error
	wg.Go(func() {
		<-start
		_, moveErr = a.Move(ctx, from, to, store.Change{Expires: msTime(time.Hour)})
	})
	wg.Go(func() {
		<-start
		delErr = b.Delete(ctx, from)
	})
	close(start)
	wg.Wait()
	require.NoError(t, delErr, "Delete")
	requireNotFound(t, a, from)
	requireNotFound(t, b, from)
	if moveErr != nil {
		require.ErrorIs(t, moveErr, store.ErrNotFound, "Move racing Delete")
		requireNotFound(t, a, to)
		requireNotFound(t, b, to)
		return
	}
	mustLoad(t, b, to)
	// A Delete that returns before Move starts always wins.
	from2, to2 := NewKey(t), NewKey(t)
	mustCreate(t, a, from2, newRecord(fields("base", "1")))
	require.NoError(t, b.Delete(ctx, from2))
	_, err := a.Move(ctx, from2, to2, store.Change{Expires: msTime(time.Hour)})
	require.ErrorIs(t, err, store.ErrNotFound)
	requireNotFound(t, a, to2)
}

// moveMoveRound is one round of two Moves of one session racing.
func moveMoveRound(t *testing.T, a, b store.Store) {
	ctx := context.Background()
	from := NewKey(t)
	tos := [2]string{NewKey(t), NewKey(t)}
	mustCreate(t, a, from, newRecord(fields("base", "1")))
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, node := range []store.Store{a, b} {
		wg.Go(func() {
			<-start
			_, errs[i] = node.Move(ctx, from, tos[i], store.Change{Expires: msTime(time.Hour)})
		})
	}
	close(start)
	wg.Wait()
	live := 0
	for i := range tos {
		if errs[i] == nil {
			live++
			mustLoad(t, a, tos[i])
			continue
		}
		require.ErrorIs(t, errs[i], store.ErrNotFound, "the losing Move")
		requireNotFound(t, a, tos[i])
	}
	require.Equal(t, 1, live, "Moves of one session that succeeded")
	requireNotFound(t, a, from)
}
