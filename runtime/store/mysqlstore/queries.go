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
	load, loadFull         string
	moveLoad, moveLoadFull string
	create                 string
	delete                 string
	cleanup                string
	version, versionFull   string
	owned                  string
}

// newQueries renders every fixed statement for the (unquoted) table name.
//
// Times are parameters from the store's clock (microseconds since the
// epoch), never the server's NOW(): expiry is decided by the same clock as
// the session manager's.
//
// The reads return, besides the columns, what the server says of the
// row: load, moveLoad and version whether it is sealed ([sealedSQL]; the
// store's own checks of the columns then suffice), their full variants,
// which run only for a row that is not, whether the full check finds it
// parseable ([sizeSQL] not NULL). So a record Update would refuse as
// corrupt is reported as corrupt by every read too. (The full check is
// a statement of its own because a statement holding it pays for it
// whether it runs or not.)
func newQueries(table string) queries {
	t := quoteTable(table)
	where := ` FROM ` + t + ` WHERE session_key = ? AND expires > ?`
	load := `SELECT created, expires, version, owner, data, COALESCE(` + sealedSQL + `, FALSE)` + where
	loadFull := `SELECT created, expires, version, owner, data, ` + sizeSQL + ` IS NOT NULL` + where
	return queries{
		//   key, now
		load:     load,
		loadFull: loadFull,

		// Move's read of the session it moves: the row stays locked until
		// the transaction ends, so no Update or Delete slips in between.
		//   key, now
		moveLoad:     load + ` FOR UPDATE`,
		moveLoadFull: loadFull + ` FOR UPDATE`,

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
		// session starts again at version 1, as a new one does. The seal
		// is computed from the columns as stored (see [sealSQL]), after
		// size and data are assigned.
		//   key, created, expires, owner, data, size,
		//   now, created, now, data, now, size, now, now, owner, now, now, expires
		create: `INSERT INTO ` + t + ` (session_key, created, expires, version, owner, data, size, seal) VALUES (?, ?, ?, 1, ?, ?, ?, ` + sealSQL + `)
ON DUPLICATE KEY UPDATE
	created = IF(expires <= ?, ?, created),
	data = IF(expires <= ?, ?, data),
	size = IF(expires <= ?, ?, size),
	seal = IF(expires <= ?, ` + sealSQL + `, seal),
	owner = IF(expires <= ?, ?, owner),
	version = IF(expires <= ?, 1, version + 0 * LAST_INSERT_ID(` + strconv.Itoa(liveMarker) + `)),
	expires = IF(expires <= ?, ?, expires)`,

		// The cleanup and Delete look at keys and expiries only, never at
		// the data: a corrupt record goes like any other.
		//   key
		delete: `DELETE FROM ` + t + ` WHERE session_key = ?`,

		//   now
		cleanup: `DELETE FROM ` + t + ` WHERE expires <= ? ORDER BY expires LIMIT ` + strconv.Itoa(cleanupBatch),

		//   key, now
		version:     `SELECT version, created, COALESCE(` + sealedSQL + `, FALSE)` + where,
		versionFull: `SELECT version, created, ` + sizeSQL + ` IS NOT NULL` + where,

		// Served by owner_idx. Expired rows are skipped here and deleted by
		// the cleanup, their index entries with them; corrupt ones are
		// left out.
		//   owner, now
		owned: `SELECT session_key, created, expires, version FROM ` + t + ` WHERE owner = ? AND expires > ? AND ` + validSQL,
	}
}

// corruptMark is what a member of the data document that the store cannot
// parse adds to the document's size in [sizeSQL]: more than any session
// can hold (a statement is at most 1 GiB), so a sum reaching it means a
// corrupt document.
const corruptMark = "1099511627776" // 2^40

// noLimit is the size limit an Update passes when the change has none:
// more than any session can hold, so the size condition always holds.
const noLimit = 1 << 50

// maxNameLen is the length, in characters, from which a member name of the
// data document is corrupt: JSON_TABLE hands [sizeSQL] names cut to this
// length. ([MaxFieldKeyLen] bytes are the longest key whose base64url is
// shorter.)
const maxNameLen = 2048

// MaxFieldKeyLen is the longest field key, in bytes, the store writes:
// the longest whose base64url member name (see [Schema]) it can read
// back. Longer keys are refused with an error wrapping
// [store.ErrInvalid]. (The session manager's keys are far shorter.)
const MaxFieldKeyLen = (maxNameLen - 1) * 3 / 4

// Parts of the SQL that checks and measures a row. A row is parseable when
// it holds a version above 0, a created time other than 0, and a data
// document that is a JSON object without escape sequences whose member
// names are distinct canonical base64url (unpadded, no stray bits) and
// whose values are strings of canonical padded base64: exactly what
// [decodeFields] and [row.record] accept. FROM_BASE64 is lenient, so canonical means
// "TO_BASE64 gives it back", less the line breaks TO_BASE64 puts every 76
// characters; and FROM_BASE64 is only ever given text of base64's syntax,
// because its warning on other text is an error inside an UPDATE in strict
// mode.
//
// The members are walked with JSON_TABLE over JSON_KEYS (MariaDB 10.6+,
// MySQL 8.0). A member that fails adds [corruptMark] to the sum; so does a
// member name JSON_KEYS merged with a duplicate (MariaDB keeps duplicates
// as written, MySQL drops them on insert). A path is built from a name
// only once the name is known to be base64url. Literals hold no
// backslash, so NO_BACKSLASH_ESCAPES does not matter, and the regular
// expressions' classes hold both cases of each letter, so no collation
// changes what they match.
var (
	// rowOK is the part of the test on the row's columns and the
	// document as a whole.
	rowOK = "version > 0 AND created <> 0 AND JSON_TYPE(data) = 'OBJECT' AND LOCATE(CHAR(92), data) = 0"

	// memberName is a member name, as JSON_TABLE hands it to the
	// per-member expressions, and memberPath the JSON path of its member.
	memberName = "m.field_name"
	memberPath = "CONCAT('$.\"', " + memberName + ", '\"')"

	// membersFrom is the FROM clause walking the members.
	membersFrom = " FROM JSON_TABLE(JSON_KEYS(data), '$[*]' COLUMNS (field_name VARCHAR(" + strconv.Itoa(maxNameLen) +
		") CHARACTER SET utf8mb4 PATH '$')) AS m"

	// memberSize is the size of a member's field (key and value
	// decoded), or corruptMark when the member does not parse.
	memberSize = func() string {
		std := "CONCAT(REPLACE(REPLACE(" + memberName + ", '-', '+'), '_', '/'), REPEAT('=', (4 - LENGTH(" + memberName + ") % 4) % 4))"
		member := "JSON_EXTRACT(data, " + memberPath + ")"
		value := "JSON_UNQUOTE(" + member + ")"
		canonical := func(b64 string) string {
			return "CAST(REPLACE(TO_BASE64(FROM_BASE64(" + b64 + ")), CHAR(10), '') AS BINARY) = CAST(" + b64 + " AS BINARY)"
		}
		return "CASE WHEN " + memberName + " REGEXP '^[A-Za-z0-9_-]++$'" +
			" AND LENGTH(" + memberName + ") % 4 <> 1 AND LENGTH(" + memberName + ") < " + strconv.Itoa(maxNameLen) +
			" AND " + canonical(std) +
			" AND JSON_TYPE(" + member + ") = 'STRING'" +
			" AND " + value + " REGEXP '^[A-Za-z0-9+/]*+={0,2}$' AND LENGTH(" + value + ") % 4 = 0" +
			" AND " + canonical(value) +
			" THEN LENGTH(FROM_BASE64(" + std + ")) + LENGTH(FROM_BASE64(" + value + "))" +
			" ELSE " + corruptMark + " END"
	}()

	// documentSize is the sum of memberSize over the members, plus
	// corruptMark when JSON_KEYS merged duplicates, in the subquery's
	// aggregate context.
	documentSize = "(COALESCE(SUM(" + memberSize + "), 0) + " + corruptMark + " * (COUNT(*) <> JSON_LENGTH(data)))"
)

// sizeSQL is an expression over a row of the table: the size of its
// session as [store.Size] counts it (the sum over fields of the key's and
// the value's decoded lengths), or NULL when the row does not hold a
// record the store can parse.
var sizeSQL = "IF(" + rowOK + ", (SELECT NULLIF(LEAST(" + documentSize + ", " + corruptMark + "), " + corruptMark + ")" +
	membersFrom + "), NULL)"

// fitsSQL is an expression over a row of the table: 1 when the row is
// parseable and a change fits its size limit, 0 when it does not fit, NULL
// when the row is corrupt. Its placeholders are a JSON object whose member
// names are those of the fields the change sets or removes, the sum of
// the sizes of the fields it sets, and the limit. The size after the
// change is the stored size of the fields it leaves alone plus that sum;
// the change fits when that is at most the limit or at most the size
// before, as [store.Change.Check] says (so a change that does not grow
// the session always fits).
//
//	names, new size, limit
var fitsSQL = "IF(" + rowOK + ", (SELECT IF(" + documentSize + " >= " + corruptMark + ", NULL, " +
	documentSize + " - COALESCE(SUM(CASE WHEN JSON_CONTAINS_PATH(?, 'one', " + memberPath + ") THEN " + memberSize + " END), 0)" +
	" + ? <= GREATEST(?, " + documentSize + "))" + membersFrom + "), NULL)"

// The seal. Walking the document with JSON_TABLE costs the server far
// more than the rest of an Update (and a statement holding such a walk
// pays for it whether the walk runs or not), so the store keeps the
// session's size in the size column and, in the seal column, a checksum
// of size and data, both written by every Create, Update and Move. A row
// whose seal matches holds the document and size the store wrote: only
// its version and created time need checking, and an Update adjusts the
// size by the fields it touches, reading only those. A row whose seal
// does not match (a row of an earlier release, which has none, or one
// whose size or data was changed by anything but the store) gets the
// full check of [sizeSQL] and [fitsSQL] instead, as every row did before,
// and is sealed by its next Update if it passes. Damage that leaves the
// seal matching would take a CRC-32 collision: about one damaged row in
// four billion, or a writer who recomputes the seal on purpose (who
// could as well write a valid session).
var (
	// sealSQL is the seal of a row's size and data columns, as stored
	// (so on MySQL, which rewrites JSON, of the document as rewritten).
	sealSQL = "CRC32(CONCAT(size, ':', data))"

	// sealedSQL is true when the row's seal matches (NULL, so false,
	// for a row without one).
	sealedSQL = "seal = " + sealSQL

	// validSQL is true when the row holds a record the store can parse:
	// the reads' verdict, the one [sizeSQL] gives without the seal.
	validSQL = "IF(" + sealedSQL + ", version > 0 AND created <> 0, " + sizeSQL + " IS NOT NULL)"
)

// touchedSQL renders the size of the fields of n slots, as stored in the
// row: each slot is a key's length in bytes and its field's JSON path, or
// NULL for a slot no field fills, and adds the key's length and the
// decoded length of its value when the document holds the field, nothing
// otherwise. Only for a row whose document is known to parse (sealed, or
// one the full check passed): FROM_BASE64 then only sees base64.
//
//	(key length, path or NULL) * n
func touchedSQL(n int) string {
	if n == 0 {
		return "0"
	}
	slot := "COALESCE(? + LENGTH(FROM_BASE64(JSON_UNQUOTE(JSON_EXTRACT(data, ?)))), 0)"
	return "(" + slot + strings.Repeat(" + "+slot, n-1) + ")"
}

// updateQuery renders an Update statement for sets fields written,
// removes fields deleted and expects fields compared (see [updateShape]):
// the sealed one, which matches only a sealed row, or, when full is
// true, the one with the full check, which an Update runs when the
// sealed one matched nothing.
//
// One conditional statement on one row: atomic, and only on a live
// session. JSON_SET writes each set field at its path and JSON_REMOVE
// drops each removed one (a missing path is no error), so only the changed
// fields' bytes are sent. (JSON_MERGE_PATCH would take one argument, but
// MariaDB 10.11 mishandles patches holding nulls.) The version bump makes
// every matched row a changed row, so zero rows affected means no row
// matched. LAST_INSERT_ID(version + 1) both bumps the version and hands
// the new one back in the statement's result (its insert id), so the
// caller learns it without a second query; a statement that matched no
// row reports 0. The owner moves only when its argument is not NULL (an
// empty one clears it).
//
// The WHERE clause holds the change's conditions, so a row that fails one
// is not matched and nothing is written:
//
//   - each expectation compares the stored base64 of a field, byte for
//     byte, with the expected one, or with NULL for "absent" (<=> is true
//     for NULL against NULL, so an absent field matches only NULL, and a
//     present one never does);
//   - the size limit: in the sealed statement, from the size column less
//     the fields the change touches ([touchedSQL]) plus those it sets; in
//     the full one by [fitsSQL], which also refuses a corrupt row
//     whatever the change (a change without a limit passes a limit no
//     session reaches).
//
// The WHERE clause is evaluated on the row before the SET clause changes
// it, so every condition sees the session as it was. The SET clause's
// assignments run left to right, each seeing the ones before: the size
// first, from the old document (in the full statement, from the walk the
// WHERE clause has just passed), then the document, then the seal of
// both.
//
//	(key length, path or NULL) * touched, new fields' size,
//	(path, value) * sets, path * removes, new expiry or NULL,
//	owner or NULL, owner or NULL, key, now,
//	(path, value or NULL) * expects,
//	then, sealed: (key length, path or NULL) * touched, new fields' size, limit
//	or full: names, new fields' size, limit
//
// where touched is sets + removes.
func updateQuery(table string, shape [3]int, full bool) string {
	sets, removes, expects := shape[0], shape[1], shape[2]
	touched := touchedSQL(sets + removes)
	size := "size"
	if full {
		size = sizeSQL
	}
	var b strings.Builder
	b.WriteString("UPDATE ")
	b.WriteString(quoteTable(table))
	b.WriteString(" SET size = " + size + " - " + touched + " + ?, data = ")
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
	b.WriteString(", seal = " + sealSQL)
	b.WriteString(", expires = COALESCE(?, expires), version = LAST_INSERT_ID(version + 1)" +
		", owner = IF(? IS NULL, owner, NULLIF(?, '')) WHERE session_key = ? AND expires > ?")
	for range expects {
		b.WriteString(" AND CAST(JSON_UNQUOTE(JSON_EXTRACT(data, ?)) AS BINARY) <=> CAST(? AS BINARY)")
	}
	if full {
		b.WriteString(" AND " + fitsSQL)
	} else {
		// CASE, not AND: only a sealed row's fields may be measured (on
		// another, FROM_BASE64 could meet text that is not base64, an
		// error in strict mode), and AND promises no order.
		b.WriteString(" AND CASE WHEN " + sealedSQL + " AND version > 0 AND created <> 0 THEN size - " + touched + " + ? <= GREATEST(?, size) END")
	}
	return b.String()
}

// updateArgCount returns the number of arguments of the larger of the two
// Update statements of shape (see [updateQuery]).
func updateArgCount(shape [3]int) int {
	touched := shape[0] + shape[1]
	common := 2*touched + 1 + 2*shape[0] + shape[1] + 5 + 2*shape[2]
	return common + max(2*touched+2, 3)
}

// updateShape rounds the numbers of fields an Update sets, removes and
// expects up to a few sizes (0 to 4, then steps of about half), so a
// handful of prepared statements serve every Change. The extra slots
// repeat an argument: setting a path to the same value twice, removing it
// twice or checking the same expectation twice changes nothing more.
func updateShape(sets, removes, expects int) [3]int {
	return [3]int{roundUp(sets), roundUp(removes), roundUp(expects)}
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
