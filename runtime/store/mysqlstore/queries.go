package mysqlstore

import (
	"strconv"
	"strings"
)

// liveMarker is the insert id a Create reports when a live session already
// holds the key (set by LAST_INSERT_ID(expr) in the duplicate-key branch).
// The table has no AUTO_INCREMENT column, so any other Create reports 0.
// (Update uses LAST_INSERT_ID(expr) too, to report the new version: the
// insert id belongs to the statement that set it, so the two never mix.)
const liveMarker = 0x5E5510

// cleanupBatch is how many sessions one cleanup statement deletes at most,
// so a sweep never holds many row locks at once.
const cleanupBatch = 1000

// queries holds the store's SQL, rendered once for its table name.
type queries struct {
	load    string
	create  string
	delete  string
	cleanup string
	version string
	owned   string
}

// newQueries renders every fixed statement for the (unquoted) table name.
//
// Times are parameters from the store's clock (microseconds since the
// epoch), never the server's NOW(): expiry is decided by the same clock as
// the session manager's.
func newQueries(table string) queries {
	t := quoteTable(table)
	return queries{
		//   key, now
		load: `SELECT created, expires, version, owner, data FROM ` + t + ` WHERE session_key = ? AND expires > ?`,

		// Insert, or take over an expired row. The assignments run left to
		// right and later ones see earlier results, so expires, which every
		// condition reads, is assigned last. On a live row nothing changes
		// and LAST_INSERT_ID(liveMarker) says so. The affected-row count
		// cannot: with clientFoundRows=true an unchanged row counts 1,
		// like an insert, and a takeover may change nothing either (an
		// expired leftover replaced by an equal record, now that the
		// version restarts at 1 rather than going up). The new values
		// are passed again rather than read with VALUES(), which MySQL
		// 8.0.20 deprecated and MariaDB spells differently. A taken-over
		// session starts again at version 1, as a new one does.
		//   key, created, expires, owner, data,
		//   now, created, now, data, now, owner, now, now, expires
		create: `INSERT INTO ` + t + ` (session_key, created, expires, version, owner, data) VALUES (?, ?, ?, 1, ?, ?)
ON DUPLICATE KEY UPDATE
	created = IF(expires <= ?, ?, created),
	data = IF(expires <= ?, ?, data),
	owner = IF(expires <= ?, ?, owner),
	version = IF(expires <= ?, 1, version + 0 * LAST_INSERT_ID(` + strconv.Itoa(liveMarker) + `)),
	expires = IF(expires <= ?, ?, expires)`,

		//   key
		delete: `DELETE FROM ` + t + ` WHERE session_key = ?`,

		//   now
		cleanup: `DELETE FROM ` + t + ` WHERE expires <= ? ORDER BY expires LIMIT ` + strconv.Itoa(cleanupBatch),

		//   key, now
		version: `SELECT version FROM ` + t + ` WHERE session_key = ? AND expires > ?`,

		// Served by owner_idx. Expired rows are skipped here and deleted by
		// the cleanup, their index entries with them.
		//   owner, now
		owned: `SELECT session_key, created, expires, version FROM ` + t + ` WHERE owner = ? AND expires > ?`,
	}
}

// updateQuery renders the Update statement for sets fields written and
// removes fields deleted (see [updateShape]).
//
// One conditional statement on one row: atomic, and only on a live
// session. JSON_SET writes each set field at its path and JSON_REMOVE
// drops each removed one (a missing path is no error), so only the changed
// fields' bytes are sent. (JSON_MERGE_PATCH would take one argument, but
// MariaDB 10.11 mishandles patches holding nulls.) The version bump makes
// every matched row a changed row, so zero rows affected means missing or
// expired. LAST_INSERT_ID(version + 1) both bumps the version and hands
// the new one back in the statement's result (its insert id), so the
// caller learns it without a second query; a statement that matched no
// row reports 0. The owner moves only when its argument is not NULL (an
// empty one clears it).
//
//	(path, value) * sets, path * removes, new expiry or NULL,
//	owner or NULL, owner or NULL, key, now
func updateQuery(table string, sets, removes int) string {
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(quoteTable(table))
	b.WriteString(" SET data = ")
	if removes > 0 {
		b.WriteString("JSON_REMOVE(")
	}
	if sets > 0 {
		b.WriteString("JSON_SET(")
	}
	b.WriteString("data")
	if sets > 0 {
		b.WriteString(strings.Repeat(", ?, ?", sets))
		b.WriteString(")")
	}
	if removes > 0 {
		b.WriteString(strings.Repeat(", ?", removes))
		b.WriteString(")")
	}
	b.WriteString(", expires = COALESCE(?, expires), version = LAST_INSERT_ID(version + 1)" +
		", owner = IF(? IS NULL, owner, NULLIF(?, '')) WHERE session_key = ? AND expires > ?")
	return b.String()
}

// updateShape rounds the numbers of fields an Update sets and removes up
// to a few sizes (0 to 4, then steps of about half), so a handful of
// prepared statements serve every Change. The extra slots repeat an
// argument: setting a path to the same value twice, or removing it twice,
// changes nothing more.
func updateShape(sets, removes int) [2]int {
	return [2]int{roundUp(sets), roundUp(removes)}
}

// roundUp returns the slot count for n arguments.
func roundUp(n int) int {
	if n <= 4 {
		return n
	}
	b := 4
	for b < n {
		b += b / 2
	}
	return b
}
