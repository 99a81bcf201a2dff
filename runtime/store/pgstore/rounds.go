package pgstore

import (
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// round is one step of a group's batch (see [Store.exchange]): writes of
// distinct keys, as positions in the group.
type round struct {
	creates []int
	updates []int
}

// splitRounds splits ws, sorted by key with a key's writes in their arrival
// order, into rounds: round r holds the r-th write of each key.
func splitRounds(ws []*write) []round {
	var rounds []round
	r := 0
	for i, w := range ws {
		if i > 0 && w.key == ws[i-1].key {
			r++
		} else {
			r = 0
		}
		if r == len(rounds) {
			rounds = append(rounds, round{})
		}
		if w.create != nil {
			rounds[r].creates = append(rounds[r].creates, i)
		} else {
			rounds[r].updates = append(rounds[r].updates, i)
		}
	}
	return rounds
}

// lockKeys returns the distinct keys of ws, sorted by key, for lockAll.
func lockKeys(ws []*write) []string {
	keys := make([]string, 0, len(ws))
	for i, w := range ws {
		if i == 0 || w.key != ws[i-1].key {
			keys = append(keys, w.key)
		}
	}
	return keys
}

// lateCreate reports whether a round after the first holds a Create.
func lateCreate(rounds []round) bool {
	for _, r := range rounds[1:] {
		if len(r.creates) > 0 {
			return true
		}
	}
	return false
}

// queue adds r's statements to b, for a group whose rows lockAll has
// locked: each Create's statement, then the Updates' one, after locking
// their rows again when relock is set (a round after the first).
func (r round) queue(b *pgx.Batch, ws []*write, q *queries, relock bool) {
	for _, i := range r.creates {
		ws[i].queue(b, q)
	}
	if relock && len(r.updates) > 0 {
		b.Queue(q.lockAll, r.updateKeys(ws))
	}
	switch len(r.updates) {
	case 0:
	case 1:
		w := ws[r.updates[0]]
		b.Queue(q.update, w.change.params(w.key, w.now)...)
	default:
		b.Queue(q.updates, updatesParams(ws, r.updates)...)
	}
}

// updateKeys returns the keys of r's Updates, in key order.
func (r round) updateKeys(ws []*write) []string {
	keys := make([]string, len(r.updates))
	for j, i := range r.updates {
		keys[j] = ws[i].key
	}
	return keys
}

// updatesParams returns the parameters of the updates statement for the
// Updates ws[at[0]], ws[at[1]], …, numbered from 1 in that order.
func updatesParams(ws []*write, at []int) []any {
	n := len(at)
	var (
		keys                 = make([]string, n)
		nows                 = make([]time.Time, n)
		expires              = make([]*time.Time, n)
		owners               = make([]*string, n)
		limits               = make([]int64, n)
		setAt, rmAt, wantAt  = []int64{}, []int64{}, []int64{}
		setNames, rmNames    = []string{}, []string{}
		wantNames            = []string{}
		setValues, wantBytes = [][]byte{}, [][]byte{}
	)
	for j, i := range at {
		w, num := ws[i], int64(j+1)
		a := &w.change
		keys[j], nows[j] = w.key, w.now
		if t, ok := a.expires.(time.Time); ok {
			expires[j] = &t
		}
		if o, ok := a.owner.(string); ok {
			owners[j] = &o
		}
		limits[j] = a.limit
		for k, name := range a.names {
			setAt, setNames, setValues = append(setAt, num), append(setNames, name), append(setValues, a.values[k])
		}
		for _, name := range a.removed {
			rmAt, rmNames = append(rmAt, num), append(rmNames, name)
		}
		for k, name := range a.expect {
			wantAt, wantNames, wantBytes = append(wantAt, num), append(wantNames, name), append(wantBytes, a.want[k])
		}
	}
	return []any{keys, nows, expires, owners, limits,
		setAt, setNames, setValues, rmAt, rmNames, wantAt, wantNames, wantBytes}
}

// readRounds reads the results of a group's batch, queued by
// [Store.exchange] from ws and rounds, and returns each write's outcome,
// or the batch's failure.
func readRounds(br pgx.BatchResults, ws []*write, rounds []round) ([]error, error) {
	if _, err := br.Exec(); err != nil { // lockAll
		return nil, err
	}
	outcomes := make([]error, len(ws))
	var err error
	for n, r := range rounds {
		for _, i := range r.creates {
			if outcomes[i], err = ws[i].read(br); err != nil {
				return nil, err
			}
		}
		if n > 0 && len(r.updates) > 0 {
			if _, err := br.Exec(); err != nil { // the relock
				return nil, err
			}
		}
		switch len(r.updates) {
		case 0:
		case 1:
			i := r.updates[0]
			if outcomes[i], err = ws[i].readUpdate(br); err != nil {
				return nil, err
			}
		default:
			if err := readUpdates(br, ws, r.updates, outcomes); err != nil {
				return nil, err
			}
		}
	}
	return outcomes, nil
}

// readUpdates reads the rows of an updates statement for the Updates
// ws[at[0]], ws[at[1]], … into outcomes: the verdicts of each change
// whose session is live, [store.ErrNotFound] for the others.
func readUpdates(br pgx.BatchResults, ws []*write, at []int, outcomes []error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	seen := make([]bool, len(at))
	var (
		num                  int64
		sane, expected, fits bool
		version              pgtype.Int8
	)
	for rows.Next() {
		if err := rows.Scan(&num, &sane, &expected, &fits, &version); err != nil {
			return err
		}
		if num < 1 || num > int64(len(at)) || seen[num-1] {
			return fmt.Errorf("pgstore: update: the server answered for change %d of %d", num, len(at))
		}
		seen[num-1] = true
		i := at[num-1]
		outcomes[i] = ws[i].judge(sane, expected, fits, version)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for j, i := range at {
		if !seen[j] {
			outcomes[i] = store.ErrNotFound
		}
	}
	return nil
}
