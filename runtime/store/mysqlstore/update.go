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

// Update applies c to the live session under key in one statement and
// returns the session's new version. A key both in c.Set and c.Remove is
// written, not removed. The version goes up by one with every Update, an
// empty one included, and c.Owner moves the session in the owner index in
// the same statement.
//
// While other changes are in flight, the statement waits for the next
// group and is committed in one transaction with the other changes that
// arrived meanwhile (see the package documentation and [WithMaxGroup]);
// Update returns once the group is committed, with the same result as
// alone.
//
// c's conditions (c.Expect, c.MaxSize) are part of the statement, so a
// change that fails one writes nothing. When the statement matches no row
// and c has conditions, one more query reads the session to say why:
// [store.ErrNotFound], an error wrapping [store.ErrCorrupt], or
// [store.Change.Check]'s [store.ErrConflict] or [store.ErrTooLarge]. When
// that read finds the conditions holding (the session changed in
// between), Update runs the statement again, at most [updateAttempts]
// times in all, and then reports ErrConflict. Without conditions, no
// matching row is reported as ErrNotFound at once, also for a row the
// store cannot parse.
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
	n := 2*shape[0] + shape[1] + 2*shape[2] + 8
	if n > maxUpdateArgs {
		return nil, fmt.Errorf("change of %d fields is too large for one statement", len(c.Set)+len(removed)+len(c.Expect))
	}
	stmt, err := s.updates.get(ctx, shape)
	if err != nil {
		return nil, err
	}
	return &change{
		key:         key,
		stmt:        stmt,
		args:        updateArgs(c, removed, shape, owner, key),
		nowAt:       nowArg(shape),
		conditional: len(c.Expect) > 0 || (c.MaxSize > 0 && len(c.Set) > 0),
		change:      c,
	}, nil
}

// runUpdate runs the Update p, in tx or, when tx is nil, as a statement
// of its own, and sets p.version. In tx, the read that explains a refusal
// locks the row (SELECT ... FOR UPDATE), so it sees the row as the
// statement did, earlier changes of the group included, whatever
// snapshot the transaction holds.
func (s *Store) runUpdate(ctx context.Context, tx *groupTx, p *change) error {
	stmt := tx.stmt(ctx, p.stmt)
	for attempt := 1; ; attempt++ {
		p.args[p.nowAt] = s.now().UnixMicro()
		res, err := stmt.ExecContext(ctx, p.args...)
		if err != nil {
			return err
		}
		affected, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if affected > 0 {
			version, err := res.LastInsertId()
			if err != nil {
				return err
			}
			if version <= 0 {
				return errNoVersion
			}
			p.version = uint64(version)
			return nil
		}
		if !p.conditional {
			return store.ErrNotFound
		}
		// Only on this failure path: read the session to say why.
		rec, err := s.loadIn(ctx, tx, p.key)
		if err != nil {
			return err
		}
		if err := p.change.Check(rec.Fields); err != nil {
			return err
		}
		if attempt == updateAttempts {
			return fmt.Errorf("%w: the session kept changing while the change was checked", store.ErrConflict)
		}
	}
}

// checkChangeFields refuses a change naming an empty field key to write or
// to expect.
func checkChangeFields(c store.Change) error {
	if _, ok := c.Set[""]; ok {
		return errEmptyField
	}
	if _, ok := c.Expect[""]; ok {
		return errEmptyField
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
	return 2*shape[0] + shape[1] + 4
}

// updateArgs returns the arguments of the Update statement of shape (see
// [updateQuery]) applying c, with removed as the keys it removes; the
// "now" argument (at [nowArg]) is left for the caller to fill in.
func updateArgs(c store.Change, removed []string, shape [3]int, owner any, key string) []any {
	args := make([]any, 0, 2*shape[0]+shape[1]+2*shape[2]+8)
	var padPath, padValue string // the smallest set field fills spare slots
	for k, v := range c.Set {
		path, value := fieldPath(k), encodeValue(v)
		args = append(args, path, value)
		if padPath == "" || len(value) < len(padValue) {
			padPath, padValue = path, value
		}
	}
	for i := len(c.Set); i < shape[0]; i++ {
		args = append(args, padPath, padValue)
	}
	for _, k := range removed {
		args = append(args, fieldPath(k))
	}
	for i := len(removed); i < shape[1]; i++ {
		args = append(args, args[2*shape[0]])
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

	// The size limit: the names of the fields the change writes or
	// removes, the size of the fields it writes, and the limit.
	var names strings.Builder
	names.WriteByte('{')
	first := true
	size := 0
	limit := int64(noLimit)
	if c.MaxSize > 0 && len(c.Set) > 0 {
		limit = int64(c.MaxSize)
		for k, v := range c.Set {
			writeMember(&names, &first, k)
			names.WriteByte('0')
			size += len(k) + len(v)
		}
		for _, k := range removed {
			writeMember(&names, &first, k)
			names.WriteByte('0')
		}
	}
	names.WriteByte('}')
	args = append(args, names.String(), int64(size))
	return append(args, limit)
}

// updateStmts prepares an Update statement per shape on first use and
// keeps it until close.
type updateStmts struct {
	db    *sql.DB
	table string

	mu     sync.Mutex
	stmts  map[[3]int]*sql.Stmt
	closed bool
}

// newUpdateStmts returns an empty statement cache for table.
func newUpdateStmts(db *sql.DB, table string) *updateStmts {
	return &updateStmts{db: db, table: table, stmts: make(map[[3]int]*sql.Stmt)}
}

// get returns the prepared statement for shape, preparing it if needed.
func (u *updateStmts) get(ctx context.Context, shape [3]int) (*sql.Stmt, error) {
	u.mu.Lock()
	stmt, closed := u.stmts[shape], u.closed
	u.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	if stmt != nil {
		return stmt, nil
	}
	// Prepare without the lock: other shapes need not wait for it.
	stmt, err := u.db.PrepareContext(ctx, updateQuery(u.table, shape[0], shape[1], shape[2]))
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		stmt.Close()
		return nil, errClosed
	}
	if prev := u.stmts[shape]; prev != nil { // prepared meanwhile
		stmt.Close()
		return prev, nil
	}
	u.stmts[shape] = stmt
	return stmt, nil
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
