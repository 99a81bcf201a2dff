package mysqlstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// A batch is how a group made only of Updates, each of a key of its own,
// goes (see "Group commit" in the package documentation): in one
// transaction, one locking read of all the group's rows, the checks in
// Go on the records read, and one UPDATE writing every change that
// passes. Four round trips (START TRANSACTION, the read, the write,
// COMMIT) whatever the group's size, where statement by statement a
// group costs one per change plus two, and the server runs two
// statements for the group rather than one or more per change.

// maxSlots is the most keys a batch statement takes: the largest group
// ([DefaultMaxGroup]; a larger [WithMaxGroup] splits the group into
// batches of this size).
const maxSlots = DefaultMaxGroup

// batchSlots returns the key count of the batch statements serving n
// keys (n at most [maxSlots]): the power of two at or above n, and at
// least 2, so that
// a few prepared statements serve every group. The spare slots repeat
// the last key with its values, which changes nothing more.
func batchSlots(n int) int {
	slots := 2
	for slots < n {
		slots *= 2
	}
	return slots
}

// batchLockQuery renders the locking read of a batch of slots keys: the
// live rows among them, with their keys and the seal's verdict, locked
// until the transaction ends. The read goes by the primary key (forced,
// so that no plan scans and locks other rows), whose ranges InnoDB reads
// in key order, so the batch locks its rows in the order every group
// does.
//
//	key * slots, now
func batchLockQuery(table string, slots int) string {
	return `SELECT session_key, created, expires, version, owner, IF(size <= ` + strconv.Itoa(maxBatchSize) + `, data, NULL), COALESCE(` +
		sealedSQL + `, FALSE) FROM ` + quoteTable(table) + ` FORCE INDEX (PRIMARY) WHERE session_key IN (?` +
		strings.Repeat(`, ?`, slots-1) + `) AND expires > ? FOR UPDATE`
}

// maxBatchSize is the largest session ([store.Size]) a batch reads and
// writes whole. The read returns no document for a larger one (or one
// whose size column is not set), so its change runs its own statement,
// which sends only the fields it changes. It also bounds a batch write:
// [maxSlots] documents of at most about 5.5 KB each as base64, far within
// any server's default max_allowed_packet.
const maxBatchSize = 4096 // "4 KB" in the package doc

// batchWriteQuery renders the write of a batch of slots keys: each
// row's new document, size, expiry and owner, worked out in Go from the
// record the locking read returned, chosen by key; the version bumped
// and the seal computed from the size and document as stored, as every
// write does. A single-table UPDATE runs its assignments left to right,
// so the seal sees the new size and document.
//
//	(key, data) * slots, (key, size) * slots, (key, expires) * slots,
//	(key, owner) * slots, key * slots
func batchWriteQuery(table string, slots int) string {
	column := func(name string) string {
		return name + ` = CASE session_key` + strings.Repeat(` WHEN ? THEN ?`, slots) + ` END`
	}
	return `UPDATE ` + quoteTable(table) + ` SET ` + column("data") + `, ` + column("size") + `, seal = ` + sealSQL +
		`, ` + column("expires") + `, ` + column("owner") + `, version = version + 1` +
		` WHERE session_key IN (?` + strings.Repeat(`, ?`, slots-1) + `)`
}

// batchable reports whether items can go as batches: Updates only, of
// distinct keys.
func batchable(items []*change) bool {
	seen := make(map[string]bool, len(items))
	for _, p := range items {
		if p.kind != kindUpdate || seen[p.key] {
			return false
		}
		seen[p.key] = true
	}
	return true
}

// errBatchWrite reports a batch write that changed other rows than the
// ones its read locked: never expected; the group then runs change by
// change.
var errBatchWrite = errors.New("the batch write changed an unexpected number of rows")

// sendBatch runs items, Updates of distinct keys, in one transaction of
// batches, setting errs; see [Store.inGroupTx] for what it reports. A
// change whose row the store did not seal, or cannot parse, or whose
// session is large, runs in the transaction on its own, after the
// batches, as in a group statement by statement: so it gets exactly the
// checks and the verdict it gets alone.
func (s *Store) sendBatch(ctx context.Context, items []*change, errs []error) bool {
	return s.inGroupTx(ctx, items, errs, func(tx *groupTx, order []int) error {
		var alone []int // changes to run on their own, after the batches
		for chunk := range slices.Chunk(order, maxSlots) {
			left, err := s.runBatch(ctx, tx, items, chunk, errs)
			if err != nil {
				return err
			}
			alone = append(alone, left...)
		}
		return s.runEach(ctx, tx, items, alone, errs)
	})
}

// runBatch runs the changes items[i] for i in chunk (at most [maxSlots],
// in key order) as one batch in tx: it locks and reads their rows,
// checks each change on its record (setting errs[i] for one refused),
// and writes the others in one statement, setting their versions. It
// returns the changes left to run on their own: those whose row is not
// sealed, does not parse or holds a session larger than [maxBatchSize].
func (s *Store) runBatch(ctx context.Context, tx *groupTx, items []*change, chunk []int, errs []error) (alone []int, err error) {
	rows, err := s.lockBatch(ctx, tx, items, chunk)
	if err != nil {
		return nil, err
	}
	writes := make([]batchWrite, 0, len(chunk))
	for _, i := range chunk {
		p := items[i]
		r, ok := rows[p.key]
		if !ok {
			errs[i] = store.ErrNotFound // missing or expired
			continue
		}
		rec, err := r.record(p.key)
		if err != nil {
			alone = append(alone, i) // not sealed, corrupt or large: as alone
			continue
		}
		if err := p.change.Check(rec.Fields); err != nil {
			errs[i] = err
			continue
		}
		fields := p.change.Apply(rec.Fields)
		w := batchWrite{key: p.key, data: encodeFields(fields), size: int64(store.Size(fields)), expires: r.expires}
		if !p.change.Expires.IsZero() {
			w.expires = p.change.Expires.UnixMicro()
		}
		w.owner = ownerArg(rec.Owner)
		if p.change.Owner != nil {
			w.owner = ownerArg(*p.change.Owner)
		}
		writes = append(writes, w)
		p.version = uint64(r.version) + 1
	}
	if len(writes) == 0 {
		return alone, nil
	}
	if err := s.writeBatch(ctx, tx, writes); err != nil {
		return nil, err
	}
	return alone, nil
}

// batchWrite is the new state of one row a batch writes.
type batchWrite struct {
	key, data     string
	size, expires int64
	owner         any
}

// writeBatch writes ws, rows the batch's read locked, in one statement.
func (s *Store) writeBatch(ctx context.Context, tx *groupTx, ws []batchWrite) error {
	slots := batchSlots(len(ws))
	stmt, err := s.stmtFor(ctx, tx, updateKind{slots: slots, write: true})
	if err != nil {
		return err
	}
	args := make([]any, 0, 9*slots)
	for _, value := range []func(w batchWrite) any{
		func(w batchWrite) any { return w.data },
		func(w batchWrite) any { return w.size },
		func(w batchWrite) any { return w.expires },
		func(w batchWrite) any { return w.owner },
	} {
		for j := range slots {
			w := ws[min(j, len(ws)-1)]
			args = append(args, w.key, value(w))
		}
	}
	for j := range slots {
		args = append(args, ws[min(j, len(ws)-1)].key)
	}
	res, err := tx.stmt(ctx, stmt).ExecContext(ctx, args...)
	if err != nil {
		return err
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if affected != int64(len(ws)) {
		return fmt.Errorf("%w: %d, not %d", errBatchWrite, affected, len(ws))
	}
	return nil
}

// lockBatch locks and reads the live rows of the changes items[i] for i
// in chunk, returning them by key.
func (s *Store) lockBatch(ctx context.Context, tx *groupTx, items []*change, chunk []int) (map[string]*row, error) {
	slots := batchSlots(len(chunk))
	stmt, err := s.stmtFor(ctx, tx, updateKind{slots: slots})
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, slots+1)
	for j := range slots {
		args = append(args, items[chunk[min(j, len(chunk)-1)]].key)
	}
	args = append(args, s.now().UnixMicro())
	rs, err := tx.stmt(ctx, stmt).QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	rows := make(map[string]*row, len(chunk))
	for rs.Next() {
		var key string
		r := new(row)
		if err := rs.Scan(append([]any{&key}, r.scanArgs()...)...); err != nil {
			return nil, err
		}
		rows[key] = r
	}
	return rows, rs.Err()
}
