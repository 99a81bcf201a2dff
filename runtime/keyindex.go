package session

import (
	"crypto/sha256"
	"encoding/base64"
	"hash/maphash"
	"sync"
)

// keyIndex finds the cached entry of a session by its engine key: change
// messages name sessions by engine key (see coherence.go), while the
// cache is keyed by session ID.
//
// It is lean, as it holds one slot per cached session: an entry does not
// keep its engine key (the key is derived from the ID when needed, see
// entry.key), so the index maps a seeded hash of the engine key to the
// entry and confirms a candidate by deriving its key. The rare session
// whose hash another session's entry already holds (two sessions in 2^64
// share one) goes to a side map keyed by the engine key itself, so no
// session is ever shadowed. Sharded maps under mutexes: a load, a write
// or a change message touches one shard.
type keyIndex struct {
	seed   maphash.Seed
	shards [keyShards]keyShard
}

// keyShards is the number of shards of a keyIndex.
const (
	keyShardBits = 4
	keyShards    = 1 << keyShardBits
)

type keyShard struct {
	mu     sync.Mutex
	byHash map[uint64]*entry
	// more holds, by engine key, the entries whose hash byHash holds
	// for another session; almost always nil.
	more map[string]*entry
}

// init prepares the index for use.
func (x *keyIndex) init() { x.seed = maphash.MakeSeed() }

// shard returns the shard of the engine key key and key's hash.
func (x *keyIndex) shard(key string) (*keyShard, uint64) {
	h := maphash.String(x.seed, key)
	return &x.shards[h>>(64-keyShardBits)], h
}

// put indexes e under key, its engine key, replacing any entry of the
// same session.
func (x *keyIndex) put(key string, e *entry) {
	sh, h := x.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.byHash[h]; ok && old != e && !hasKey(old, key) {
		if sh.more == nil {
			sh.more = map[string]*entry{}
		}
		sh.more[key] = e
		return
	}
	if sh.byHash == nil {
		sh.byHash = map[uint64]*entry{}
	}
	sh.byHash[h] = e
	delete(sh.more, key)
}

// get returns the entry indexed under key, nil when there is none.
func (x *keyIndex) get(key string) *entry {
	sh, h := x.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.byHash[h]; ok && hasKey(e, key) {
		return e
	}
	return sh.more[key]
}

// remove unindexes e from key if key still maps to it.
func (x *keyIndex) remove(key string, e *entry) {
	sh, h := x.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.byHash[h] == e {
		delete(sh.byHash, h)
		return
	}
	if sh.more[key] == e {
		delete(sh.more, key)
	}
}

// other returns the entry indexed under key when it is not e, an entry
// of key's session: nil when there is none or it is e. Finding e itself
// costs no hashing of an ID.
func (x *keyIndex) other(key string, e *entry) *entry {
	sh, h := x.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	o, ok := sh.byHash[h]
	switch {
	case o == e:
		return nil // indexed in byHash, so not in more (see put)
	case ok && hasKey(o, key):
		return o
	}
	if o := sh.more[key]; o != e {
		return o
	}
	return nil
}

// hasKey reports whether key is the engine key of e's session, without
// allocating.
func hasKey(e *entry, key string) bool {
	if len(key) != keyLen {
		return false
	}
	var k [keyLen]byte
	engineKey(&k, e.id)
	return string(k[:]) == key
}

// keyLen is the length of an engine key: unpadded base64 of a SHA-256
// sum (see store.Key).
const keyLen = (sha256.Size*8 + 5) / 6

// engineKey writes the engine key of session id (store.Key(id)) to k.
func engineKey(k *[keyLen]byte, id string) {
	var buf [64]byte // session IDs are 43 bytes: no allocation
	sum := sha256.Sum256(append(buf[:0], id...))
	base64.RawURLEncoding.Encode(k[:], sum[:])
}
