package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Update applies c to the live session under key in one statement and
// returns the session's new version, or returns [store.ErrNotFound]
// having written nothing. A key both in c.Set and c.Remove is written,
// not removed. The version goes up by one with every Update, an empty one
// included, and c.Owner moves the session in the owner index in the same
// statement.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}
	if _, ok := c.Set[""]; ok {
		return 0, fmt.Errorf("mysqlstore: update: %w", errEmptyField)
	}
	var owner any // NULL keeps the owner; "" clears it
	if c.Owner != nil {
		if err := checkOwner(*c.Owner); err != nil {
			return 0, fmt.Errorf("mysqlstore: update: %w", err)
		}
		owner = ""
		if *c.Owner != "" {
			owner = []byte(*c.Owner) // binary, whatever the connection's character set
		}
	}
	removed := make([]string, 0, len(c.Remove))
	for _, k := range c.Remove {
		if _, set := c.Set[k]; !set {
			removed = append(removed, k)
		}
	}
	shape := updateShape(len(c.Set), len(removed))
	n := 2*shape[0] + shape[1] + 5
	if n > maxUpdateArgs {
		return 0, fmt.Errorf("mysqlstore: update: change of %d fields is too large for one statement", len(c.Set)+len(removed))
	}
	stmt, err := s.updates.get(ctx, shape)
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}

	args := make([]any, 0, n)
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
	args = append(args, expires, owner, owner, key, s.now().UnixMicro())

	res, err := stmt.ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}
	affected, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}
	if affected == 0 {
		return 0, fmt.Errorf("mysqlstore: update: %w", store.ErrNotFound)
	}
	version, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("mysqlstore: update: %w", err)
	}
	if version <= 0 {
		return 0, fmt.Errorf("mysqlstore: update: %w", errNoVersion)
	}
	return uint64(version), nil
}

// updateStmts prepares an Update statement per shape on first use and
// keeps it until close.
type updateStmts struct {
	db    *sql.DB
	table string

	mu     sync.Mutex
	stmts  map[[2]int]*sql.Stmt
	closed bool
}

// newUpdateStmts returns an empty statement cache for table.
func newUpdateStmts(db *sql.DB, table string) *updateStmts {
	return &updateStmts{db: db, table: table, stmts: make(map[[2]int]*sql.Stmt)}
}

// get returns the prepared statement for shape, preparing it if needed.
func (u *updateStmts) get(ctx context.Context, shape [2]int) (*sql.Stmt, error) {
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
	stmt, err := u.db.PrepareContext(ctx, updateQuery(u.table, shape[0], shape[1]))
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
