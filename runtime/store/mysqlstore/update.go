package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// maxUpdateArgs bounds the placeholders of one Update statement, below the
// server's limit of 65535.
const maxUpdateArgs = 60000

// errClosed reports use of a closed Store.
var errClosed = errors.New("store is closed")

// errNoVersion reports a server whose result carried no new version.
var errNoVersion = errors.New("server reported no version for the updated session")

// updateAttempts bounds how often Update runs its statement when the row
// keeps changing between a refused statement and the read that explains
// the refusal.
const updateAttempts = 3

// Update applies c to the live session under key in one statement (more
// on the paths its doc below describes) and returns the session's new
// version. A key both in c.Set and c.Remove is
// written, not removed. The version goes up by one with every Update, an
// empty one included, and c.Owner moves the session in the owner index in
// the same statement.
//
// While other changes are in flight, the change waits for the next
// group and is committed in one transaction with the other changes that
// arrived meanwhile, checked on the session read under a lock and
// written with them in one statement when they are all Updates of
// distinct sessions (see the package documentation and [WithMaxGroup]);
// Update returns once the group is committed, with the same result as
// alone.
//
// c's conditions (c.Expect, c.MaxSize) are part of the statement (in a
// batch, checked on the session read under its lock), so a change that
// fails one writes nothing. When the statement matches no
// row, one more query reads the session to say why: [store.ErrNotFound],
// an error wrapping [store.ErrCorrupt], or [store.Change.Check]'s
// [store.ErrConflict] or [store.ErrTooLarge]; for a row the store did not
// seal (see the package documentation), the statement with the full
// check runs then. When that read finds the conditions holding (the
// session changed in between), Update runs the statement again, at most
// [updateAttempts] times in all, and then reports ErrConflict. Without
// conditions, a row the store cannot parse is reported as ErrNotFound.
// A change of more than about 8,000 fields (set and removed) is refused:
// the statement would pass the server's limit on placeholders.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	v, err := s.update(ctx, key, c)
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}
	return v, nil
}

// update is Update without the error prefix.
func (s *Store) update(ctx context.Context, key string, c store.Change) (uint64, error) {
	p, err := s.newUpdate(ctx, key, c)
	if err != nil {
		return 0, err
	}
	if err := s.commit(ctx, p); err != nil {
		return 0, err
	}
	return p.version, nil
}

// newUpdate checks c and returns the change applying it to the session
// under key, its statement prepared and its arguments ready.
func (s *Store) newUpdate(ctx context.Context, key string, c store.Change) (*change, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkChangeFields(c); err != nil {
		return nil, err
	}
	var owner any // NULL keeps the owner; "" clears it
	if c.Owner != nil {
		if err := checkOwner(*c.Owner); err != nil {
			return nil, err
		}
		owner = ""
		if *c.Owner != "" {
			owner = []byte(*c.Owner) // binary, whatever the connection's character set
		}
	}
	removed := removedKeys(c)
	shape := updateShape(len(c.Set), len(removed), len(c.Expect))
	if updateArgCount(shape) > maxUpdateArgs {
		return nil, fmt.Errorf("change of %d fields is too large for one statement", len(c.Set)+len(removed)+len(c.Expect))
	}
	stmt, err := s.updates.get(ctx, shape, false)
	if err != nil {
		return nil, err
	}
	args, common := updateArgs(c, removed, shape, owner, key)
	return &change{
		key:         key,
		stmt:        stmt,
		shape:       shape,
		args:        args,
		common:      common,
		nowAt:       nowArg(shape),
		conditional: len(c.Expect) > 0 || (c.MaxSize > 0 && len(c.Set) > 0),
		change:      c,
	}, nil
}

// runUpdate runs the Update p, in tx or, when tx is nil, as statements
// of their own, and sets p.version. The sealed statement goes first (see
// [updateQuery]); when it matches nothing, a read of the session tells
// why: missing, corrupt, a failed condition, or a row the store did not
// seal, for which the statement with the full check runs. In tx, that
// read locks the row (SELECT ... FOR UPDATE), so it sees the row as the
// statement did, earlier changes of the group included, whatever
// snapshot the transaction holds.
func (s *Store) runUpdate(ctx context.Context, tx *groupTx, p *change) error {
	for attempt := 1; ; attempt++ {
		done, err := s.execUpdate(ctx, tx, p, p.stmt, p.args)
		if done || err != nil {
			return err
		}
		rec, sealed, err := s.loadIn(ctx, tx, p.key)
		if err != nil {
			if !p.conditional && errors.Is(err, store.ErrCorrupt) {
				return store.ErrNotFound // as documented at Update
			}
			return err
		}
		if !sealed {
			full, err := s.stmtFor(ctx, tx, updateKind{shape: p.shape, full: true})
			if err != nil {
				return err
			}
			if done, err = s.execUpdate(ctx, tx, p, full, fullArgs(p)); done || err != nil {
				return err
			}
		}
		if p.conditional {
			if err := p.change.Check(rec.Fields); err != nil {
				return err
			}
		}
		if attempt == updateAttempts {
			return fmt.Errorf("%w: the session kept changing while the change was checked", store.ErrConflict)
		}
	}
}

// execUpdate runs one of p's statements with its arguments, the "now"
// one from the store's clock, and reports whether it matched the row,
// setting p.version when it did.
func (s *Store) execUpdate(ctx context.Context, tx *groupTx, p *change, stmt *sql.Stmt, args []any) (bool, error) {
	args[p.nowAt] = s.now().UnixMicro()
	res, err := tx.stmt(ctx, stmt).ExecContext(ctx, args...)
	if err != nil {
		return false, err
	}
	affected, err := res.RowsAffected()
	if err != nil || affected == 0 {
		return false, err
	}
	version, err := res.LastInsertId()
	if err != nil {
		return false, err
	}
	if version <= 0 {
		return false, errNoVersion
	}
	p.version = uint64(version)
	return true, nil
}

// checkChangeFields refuses a change naming an empty field key to write or
// to expect, or writing a field whose key is longer than [MaxFieldKeyLen].
func checkChangeFields(c store.Change) error {
	if err := checkFieldKeys(c.Set); err != nil {
		return err
	}
	if _, ok := c.Expect[""]; ok {
		return errEmptyField
	}
	return nil
}

// checkFieldKeys refuses fields with an empty key or a key longer than
// [MaxFieldKeyLen].
func checkFieldKeys(fields map[string][]byte) error {
	for k := range fields {
		switch {
		case k == "":
			return errEmptyField
		case len(k) > MaxFieldKeyLen:
			return errLongField
		}
	}
	return nil
}

// removedKeys returns c.Remove without the keys c.Set writes (Set wins)
// and without repeats, so each is named once.
func removedKeys(c store.Change) []string {
	removed := make([]string, 0, len(c.Remove))
	seen := make(map[string]bool, len(c.Remove))
	for _, k := range c.Remove {
		if _, set := c.Set[k]; !set && !seen[k] {
			seen[k] = true
			removed = append(removed, k)
		}
	}
	return removed
}

// nowArg returns the index of the "now" argument in an Update of shape.
func nowArg(shape [3]int) int {
	return 2*(shape[0]+shape[1]) + 1 + 2*shape[0] + shape[1] + 4
}

// updateArgs returns the arguments of the sealed Update statement of
// shape (see [updateQuery]) applying c, with removed as the keys it
// removes, and how many of them the full statement shares (its own last
// three [fullArgs] adds, on the rare path that needs them). The "now"
// argument (at [nowArg]) is left for the caller to fill in.
func updateArgs(c store.Change, removed []string, shape [3]int, owner any, key string) (args []any, common int) {
	args = make([]any, 0, updateArgCount(shape))

	// The fields the change touches, each once, for the size: the
	// stored ones are taken off and the set ones (setSize) added.
	touched := make([]any, 0, 2*(shape[0]+shape[1]))
	setKeys := make([]string, 0, len(c.Set)) // one order for both loops
	setSize := 0
	for k, v := range c.Set {
		setKeys = append(setKeys, k)
		touched = append(touched, int64(len(k)), fieldPath(k))
		setSize += len(k) + len(v)
	}
	for _, k := range removed {
		touched = append(touched, int64(len(k)), fieldPath(k))
	}
	for len(touched) < cap(touched) {
		touched = append(touched, int64(0), nil)
	}
	args = append(args, touched...)
	args = append(args, int64(setSize))

	var padPath, padValue string // the smallest set field fills spare slots
	for i, k := range setKeys {
		path, value := touched[2*i+1].(string), encodeValue(c.Set[k])
		args = append(args, path, value)
		if padPath == "" || len(value) < len(padValue) {
			padPath, padValue = path, value
		}
	}
	for i := len(c.Set); i < shape[0]; i++ {
		args = append(args, padPath, padValue)
	}
	firstRemove := len(args)
	for j := range removed {
		args = append(args, touched[2*(len(c.Set)+j)+1])
	}
	for i := len(removed); i < shape[1]; i++ {
		args = append(args, args[firstRemove])
	}
	var expires any // NULL keeps the expiry
	if !c.Expires.IsZero() {
		expires = c.Expires.UnixMicro()
	}
	args = append(args, expires, owner, owner, key, nil) // nil: now

	// Expectations: the stored base64 of each field, or NULL for absent.
	var padExpect [2]any
	for k, want := range c.Expect {
		var value any
		if len(want) > 0 {
			value = encodeValue(want)
		}
		args = append(args, fieldPath(k), value)
		padExpect = [2]any{fieldPath(k), value}
	}
	for i := len(c.Expect); i < shape[2]; i++ {
		args = append(args, padExpect[0], padExpect[1])
	}

	// The size limit, after the touched fields again.
	limit := int64(noLimit)
	if c.MaxSize > 0 && len(c.Set) > 0 {
		limit = int64(c.MaxSize)
	}
	common = len(args)
	args = append(args, touched...)
	return append(args, int64(setSize), limit), common
}

// fullArgs returns the arguments of p's Update statement with the full
// check: the ones it shares with the sealed statement, then the names of
// the fields the change writes or removes (only when there is a limit:
// without one the condition holds whatever they are), the new fields'
// size and the limit, the sealed statement's last two.
func fullArgs(p *change) []any {
	setSize, limit := p.args[len(p.args)-2], p.args[len(p.args)-1]
	var names strings.Builder
	names.WriteByte('{')
	first := true
	if limit != any(int64(noLimit)) {
		for k := range p.change.Set {
			writeMember(&names, &first, k)
			names.WriteByte('0')
		}
		for _, k := range removedKeys(p.change) {
			writeMember(&names, &first, k)
			names.WriteByte('0')
		}
	}
	names.WriteByte('}')
	return append(p.args[:p.common:p.common], names.String(), setSize, limit)
}

// updateStmts prepares an Update statement per shape, and a batch's
// statements per slot count, on first use and keeps them until close.
type updateStmts struct {
	db    *sql.DB
	table string

	mu     sync.Mutex
	stmts  map[updateKind]*sql.Stmt
	closed bool
}

// updateKind names one of the Update statements: its shape, and whether
// it is the one with the full check; or, when slots is above 0, one of
// a batch's statements for that many keys (see [batchLockQuery] and
// [batchWriteQuery]).
type updateKind struct {
	shape [3]int
	full  bool
	slots int
	write bool // of a batch: the write, not the locking read
}

// query renders the statement k names for table.
func (k updateKind) query(table string) string {
	switch {
	case k.slots == 0:
		return updateQuery(table, k.shape, k.full)
	case k.write:
		return batchWriteQuery(table, k.slots)
	default:
		return batchLockQuery(table, k.slots)
	}
}

// newUpdateStmts returns an empty statement cache for table.
func newUpdateStmts(db *sql.DB, table string) *updateStmts {
	return &updateStmts{db: db, table: table, stmts: make(map[updateKind]*sql.Stmt)}
}

// get returns the prepared statement for shape (the full-check one when
// full is true), preparing it if needed.
func (u *updateStmts) get(ctx context.Context, shape [3]int, full bool) (*sql.Stmt, error) {
	return u.kind(ctx, updateKind{shape: shape, full: full})
}

// kind returns the prepared statement k names, preparing it if needed.
func (u *updateStmts) kind(ctx context.Context, k updateKind) (*sql.Stmt, error) {
	u.mu.Lock()
	stmt, closed := u.stmts[k], u.closed
	u.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if stmt != nil {
		return stmt, nil
	}
	// Prepare without the lock: other shapes need not wait for it.
	stmt, err := u.db.PrepareContext(ctx, k.query(u.table))
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		stmt.Close()
		return nil, errClosed
	}
	if prev := u.stmts[k]; prev != nil { // prepared meanwhile
		stmt.Close()
		return prev, nil
	}
	u.stmts[k] = stmt
	return stmt, nil
}

// cached returns the prepared statement k names, or nil when it is not
// prepared yet.
func (u *updateStmts) cached(k updateKind) *sql.Stmt {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.stmts[k]
}

// stmtFor returns the statement k names, for use in tx (nil: alone): the
// cached one, or one prepared now. In a group's transaction, a statement
// not prepared yet is prepared on the transaction's own connection and
// kept only until it ends: a prepare on the pool needs another
// connection, which could wait for ever on a pool that the groups in
// flight hold.
func (s *Store) stmtFor(ctx context.Context, tx *groupTx, k updateKind) (*sql.Stmt, error) {
	if tx == nil {
		return s.updates.kind(ctx, k)
	}
	if stmt := s.updates.cached(k); stmt != nil {
		return stmt, nil
	}
	stmt, err := tx.tx.PrepareContext(ctx, k.query(s.updates.table))
	if err != nil {
		return nil, err
	}
	tx.stmts[stmt] = stmt // bound to tx already
	return stmt, nil
}

// prepareBatches prepares every batch statement (see [batchSlots]), so
// that a group never prepares one on its way.
func (u *updateStmts) prepareBatches(ctx context.Context) error {
	for slots := 2; slots <= maxSlots; slots *= 2 {
		for _, write := range []bool{false, true} {
			if _, err := u.kind(ctx, updateKind{slots: slots, write: write}); err != nil {
				return err
			}
		}
	}
	return nil
}

// close closes every statement; later gets fail.
func (u *updateStmts) close() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closed = true
	var errs []error
	for _, stmt := range u.stmts {
		errs = append(errs, stmt.Close())
	}
	return errors.Join(errs...)
}
