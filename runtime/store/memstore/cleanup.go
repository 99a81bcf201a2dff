package memstore

import "time"

// janitor purges expired sessions every interval until stop is closed,
// then closes done.
func (sh *shards) janitor(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			sh.purge(now)
		}
	}
}

// purge drops every session expired at now, one shard at a time so
// requests wait for at most one shard's sweep.
func (sh *shards) purge(now time.Time) int {
	n := 0
	for i := range sh.parts {
		p := &sh.parts[i]
		p.mu.Lock()
		for k, e := range p.m {
			if !e.live(now) {
				sh.drop(p, k, e)
				n++
			}
		}
		p.mu.Unlock()
	}
	return n
}
