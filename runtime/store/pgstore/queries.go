package pgstore

// queries holds the store's SQL, rendered once for its table names.
type queries struct {
	load    string
	create  string
	lock    string
	update  string
	delete  string
	cleanup string
	version string
	owned   string
}

// newQueries renders every statement for the two (unquoted) table names.
//
// Times are parameters from the store's clock, never the server's now():
// expiry is decided by the same clock as the session manager's.
func newQueries(sessionsTable, fieldsTable string) queries {
	s := quoteTable(sessionsTable)
	f := quoteTable(fieldsTable)
	return queries{
		// One statement, one snapshot: the session's times, version and
		// owner and all its fields, one row per field (one row with NULL
		// name when the session has none), nothing when missing or
		// expired.
		load: `SELECT s.created, s.expires, s.version, s.owner, f.name, f.value
FROM ` + s + ` s LEFT JOIN ` + f + ` f ON f.session_key = s.session_key
WHERE s.session_key = $1 AND s.expires > $2`,

		// Insert the session, or take over an expired one under the same
		// key (ON CONFLICT ... WHERE leaves a live one alone and returns
		// no row: ErrExists). Only when the session row was written are
		// the fields written and the old session's other fields deleted.
		// The upsert and the delete touch disjoint rows, as one statement
		// must. The version starts at 1, also over an expired session.
		//   $1 key, $2 created, $3 expires, $4 now, $5 names, $6 values,
		//   $7 owner or NULL
		create: `WITH s AS (
	INSERT INTO ` + s + ` AS t (session_key, created, expires, version, owner) VALUES ($1, $2, $3, 1, $7)
	ON CONFLICT (session_key) DO UPDATE
	SET created = EXCLUDED.created, expires = EXCLUDED.expires, version = 1, owner = EXCLUDED.owner
	WHERE t.expires <= $4
	RETURNING t.session_key
), old AS (
	DELETE FROM ` + f + ` f USING s
	WHERE f.session_key = s.session_key AND NOT (f.name = ANY ($5::text[]))
), ins AS (
	INSERT INTO ` + f + ` (session_key, name, value)
	SELECT s.session_key, u.name, u.value FROM s, unnest($5::text[], $6::bytea[]) AS u (name, value)
	ON CONFLICT (session_key, name) DO UPDATE SET value = EXCLUDED.value
)
SELECT count(*) FROM s`,

		// Update is sent as a batch of lock then update: one round trip
		// and one implicit transaction. The lock comes first, in its own
		// statement, because a statement reads with the snapshot taken
		// when it started: had update waited for the lock itself, its
		// DELETE would miss field rows that the Update it waited for had
		// just inserted. update's own FOR UPDATE then takes nothing new.
		//   $1 key, $2 now
		lock: `SELECT 1 FROM ` + s + ` WHERE session_key = $1 AND expires > $2 FOR UPDATE`,
		// The last CTE bumps the version (and moves the expiry and the
		// owner when asked) and returns the new version: no row when the
		// session is missing or expired.
		//   $1 key, $2 now, $3 set names, $4 set values, $5 removed names,
		//   $6 new expiry or NULL, $7 new owner or NULL to keep it ('' clears)
		update: `WITH s AS (
	SELECT session_key FROM ` + s + ` WHERE session_key = $1 AND expires > $2 FOR UPDATE
), up AS (
	INSERT INTO ` + f + ` (session_key, name, value)
	SELECT s.session_key, u.name, u.value FROM s, unnest($3::text[], $4::bytea[]) AS u (name, value)
	ON CONFLICT (session_key, name) DO UPDATE SET value = EXCLUDED.value
), del AS (
	DELETE FROM ` + f + ` f USING s
	WHERE f.session_key = s.session_key AND f.name = ANY ($5::text[])
), v AS (
	UPDATE ` + s + ` t SET version = t.version + 1,
		expires = COALESCE($6::timestamptz, t.expires),
		owner = CASE WHEN $7::text IS NULL THEN t.owner ELSE NULLIF($7::text, '') END
	FROM s WHERE t.session_key = s.session_key
	RETURNING t.version
)
SELECT version FROM v`,

		// The fields go by ON DELETE CASCADE.
		delete: `DELETE FROM ` + s + ` WHERE session_key = $1`,

		// One batch of expired sessions. SKIP LOCKED passes over sessions
		// a request (or another node's cleanup) holds; the outer expiry
		// test is checked again on the newest row version, so a session
		// just taken over by a Create survives.
		//   $1 now, $2 batch size
		cleanup: `DELETE FROM ` + s + ` WHERE expires <= $1 AND session_key IN (
	SELECT session_key FROM ` + s + ` WHERE expires <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,

		//   $1 key, $2 now
		version: `SELECT version FROM ` + s + ` WHERE session_key = $1 AND expires > $2`,

		// Served by the partial index on owner (owner = $1 implies
		// owner IS NOT NULL). Expired rows are skipped here and deleted
		// by the cleanup, their index entries with them.
		//   $1 owner, $2 now
		owned: `SELECT session_key, created, expires, version FROM ` + s + ` WHERE owner = $1 AND expires > $2`,
	}
}
