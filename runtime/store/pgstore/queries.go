package pgstore

// queries holds the store's SQL, rendered once for its table names.
type queries struct {
	load     string
	create   string
	lock     string
	update   string
	lockAll  string
	updates  string
	moveLock string
	move     string
	delete   string
	cleanup  string
	version  string
	owned    string
}

// saneVersions is the range of versions a session row may hold: Create
// starts at 1 and Update adds 1, so anything below is damage, and a
// version Update could not bump is too.
const saneVersions = `BETWEEN 1 AND 9223372036854775806`

// sane renders the test that the session row a can be parsed: finite
// times (timestamptz also holds 'infinity' and '-infinity', which no
// time.Time can) and a version in [saneVersions]. Load, Version, Update
// and Move report a row failing it as corrupt, and Owned leaves it out.
// Every finite timestamptz is a time.Time, and Create could have
// written it, so no finite time is refused.
func sane(a string) string {
	return `(isfinite(` + a + `.created) AND isfinite(` + a + `.expires) AND ` + a + `.version ` + saneVersions + `)`
}

// liveName is the test that a field row's name is one the store could
// have written: any text but the empty string. A field row named "" (a
// bad writer's) is left out of every read, of the size and of the
// expectations, and Move leaves it behind.
const liveName = `f.name <> ''`

// checks renders the CTE c shared by update and move: the locked live
// session row s with three verdicts on the change, in the order the
// contract ranks their errors. sane: the row can be parsed. expected:
// every expectation holds (a name expected with an empty value must be
// absent, any other must hold exactly those bytes); the expectations are
// $8 names and $9 values. fits: the size limit $10 (0: none; the caller
// passes 0 when the change sets nothing) is not passed, or the session
// does not grow: before is the size of the stored fields, after that of
// the fields neither set ($3) nor removed ($5) plus the fields set ($3,
// $4); a size counts octets of name and value, as store.Size counts
// bytes. The same rules as store.Change.Check, in SQL.
func checks(f string) string {
	return `c AS (
	SELECT s.*, ` + sane("s") + ` AS sane,
		NOT EXISTS (
			SELECT 1 FROM unnest($8::text[], $9::bytea[]) AS e (name, value)
			LEFT JOIN ` + f + ` f ON f.session_key = s.session_key AND f.name = e.name AND ` + liveName + `
			WHERE CASE WHEN octet_length(e.value) = 0 THEN f.name IS NOT NULL
				ELSE f.value IS DISTINCT FROM e.value END
		) AS expected,
		CASE WHEN $10::bigint = 0 THEN true ELSE (
			SELECT z.after <= $10::bigint OR z.after <= z.before FROM (
				SELECT coalesce(sum(octet_length(f.name) + octet_length(f.value)), 0) AS before,
					coalesce(sum(octet_length(f.name) + octet_length(f.value))
						FILTER (WHERE NOT (f.name = ANY ($3::text[]) OR f.name = ANY ($5::text[]))), 0)
					+ (SELECT coalesce(sum(octet_length(u.name) + octet_length(u.value)), 0)
						FROM unnest($3::text[], $4::bytea[]) AS u (name, value)) AS after
				FROM ` + f + ` f WHERE f.session_key = s.session_key AND ` + liveName + `
			) z
		) END AS fits
	FROM s
)`
}

// newQueries renders every statement for the two (unquoted) table names.
//
// Times are parameters from the store's clock, never the server's now():
// expiry is decided by the same clock as the session manager's.
//
// update and move take the change in the same parameters: $1 key (from),
// $2 now, $3 set names, $4 set values, $5 removed names (none of them
// set), $6 new expiry (NULL keeps it; never NULL for move), $7 new owner
// (NULL keeps it, the empty string clears it), $8 expected names, $9 expected values,
// $10 size limit or 0; move adds $11, the new key.
func newQueries(sessionsTable, fieldsTable string) queries {
	s := quoteTable(sessionsTable)
	f := quoteTable(fieldsTable)
	return queries{
		// One statement, one snapshot: whether the row can be parsed,
		// the session's times, version and owner and all its fields, one
		// row per field (one row with NULL name when the session has
		// none), nothing when missing or expired.
		load: `SELECT ` + sane("s") + `, s.created, s.expires, s.version, s.owner, f.name, f.value
FROM ` + s + ` s LEFT JOIN ` + f + ` f ON f.session_key = s.session_key AND ` + liveName + `
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
		// just inserted, and its conditions would judge fields older
		// than the ones it writes over. update's own FOR UPDATE then
		// takes nothing new.
		//   $1 key, $2 now
		lock: `SELECT 1 FROM ` + s + ` WHERE session_key = $1 AND expires > $2 FOR UPDATE`,
		// The session row, judged by the checks; only when all three
		// verdicts are true (w has the row) are the fields written and
		// removed, and the version bumped (the expiry and the owner
		// moved when asked). One row of verdicts and the new version
		// (NULL when nothing was written); no row when the session is
		// missing or expired.
		update: `WITH s AS (
	SELECT session_key, created, expires, version FROM ` + s + ` WHERE session_key = $1 AND expires > $2 FOR UPDATE
), ` + checks(f) + `, w AS (
	SELECT session_key FROM c WHERE sane AND expected AND fits
), up AS (
	INSERT INTO ` + f + ` (session_key, name, value)
	SELECT w.session_key, u.name, u.value FROM w, unnest($3::text[], $4::bytea[]) AS u (name, value)
	ON CONFLICT (session_key, name) DO UPDATE SET value = EXCLUDED.value
), del AS (
	DELETE FROM ` + f + ` f USING w
	WHERE f.session_key = w.session_key AND f.name = ANY ($5::text[])
), v AS (
	UPDATE ` + s + ` t SET version = t.version + 1,
		expires = COALESCE($6::timestamptz, t.expires),
		owner = CASE WHEN $7::text IS NULL THEN t.owner ELSE NULLIF($7::text, '') END
	FROM w WHERE t.session_key = w.session_key
	RETURNING t.version
)
SELECT c.sane, c.expected, c.fits, (SELECT version FROM v) FROM c`,

		// A group (see Store.send) locks the rows of all its keys first,
		// whatever their expiry, in one statement and in key order (byte
		// order, as the group is sorted), for the same reason as lock,
		// and so that two groups, or a group and a Move, never wait for
		// each other in a cycle.
		//   $1 keys
		lockAll: `SELECT 1 FROM ` + s + ` WHERE session_key = ANY ($1::text[]) ORDER BY session_key COLLATE "C" FOR UPDATE`,
		// updates is update for several changes of distinct keys at
		// once, the changes numbered from 1 (i) in the order of $1: one
		// statement, so the server starts one plan for all of them. The
		// same checks as update, change by change; each change's fields
		// come as flat arrays tagged with its number. One row per change
		// whose session is live: its number, its verdicts and its new
		// version (NULL when nothing was written).
		//   $1 keys, $2 the store's clock when each began, $3 new expiries (NULL keeps), $4 new owners
		//   (NULL keeps, '' clears), $5 size limits or 0, $6 $7 $8 the
		//   fields set (number, name, value), $9 $10 the fields removed
		//   (number, name), $11 $12 $13 the expectations (number, name,
		//   value)
		updates: `WITH ch AS (
	SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::bigint[]) WITH ORDINALITY AS ch (key, now, expires, owner, lim, i)
), sets AS (
	SELECT * FROM unnest($6::bigint[], $7::text[], $8::bytea[]) AS u (i, name, value)
), rms AS (
	SELECT * FROM unnest($9::bigint[], $10::text[]) AS r (i, name)
), s AS (
	SELECT ch.i, ch.lim, t.session_key, t.created, t.expires, t.version FROM ch JOIN ` + s + ` t ON t.session_key = ch.key
	WHERE t.expires > ch.now FOR UPDATE OF t
), c AS (
	SELECT s.i, s.session_key, ` + sane("s") + ` AS sane,
		NOT EXISTS (
			SELECT 1 FROM unnest($11::bigint[], $12::text[], $13::bytea[]) AS e (i, name, value)
			LEFT JOIN ` + f + ` f ON f.session_key = s.session_key AND f.name = e.name AND ` + liveName + `
			WHERE e.i = s.i AND CASE WHEN octet_length(e.value) = 0 THEN f.name IS NOT NULL
				ELSE f.value IS DISTINCT FROM e.value END
		) AS expected,
		CASE WHEN s.lim = 0 THEN true ELSE (
			SELECT z.after <= s.lim OR z.after <= z.before FROM (
				SELECT coalesce(sum(octet_length(f.name) + octet_length(f.value)), 0) AS before,
					coalesce(sum(octet_length(f.name) + octet_length(f.value)) FILTER (WHERE NOT (
						EXISTS (SELECT 1 FROM sets u WHERE u.i = s.i AND u.name = f.name) OR
						EXISTS (SELECT 1 FROM rms r WHERE r.i = s.i AND r.name = f.name))), 0)
					+ (SELECT coalesce(sum(octet_length(u.name) + octet_length(u.value)), 0) FROM sets u WHERE u.i = s.i) AS after
				FROM ` + f + ` f WHERE f.session_key = s.session_key AND ` + liveName + `
			) z
		) END AS fits
	FROM s
), w AS (
	SELECT i, session_key FROM c WHERE sane AND expected AND fits
), up AS (
	INSERT INTO ` + f + ` (session_key, name, value)
	SELECT w.session_key, u.name, u.value FROM w JOIN sets u ON u.i = w.i
	ON CONFLICT (session_key, name) DO UPDATE SET value = EXCLUDED.value
), del AS (
	DELETE FROM ` + f + ` f USING w, rms r
	WHERE r.i = w.i AND f.session_key = w.session_key AND f.name = r.name
), v AS (
	UPDATE ` + s + ` t SET version = t.version + 1,
		expires = COALESCE(ch.expires, t.expires),
		owner = CASE WHEN ch.owner IS NULL THEN t.owner ELSE NULLIF(ch.owner, '') END
	FROM w JOIN ch ON ch.i = w.i WHERE t.session_key = w.session_key
	RETURNING w.i, t.version
)
SELECT c.i, c.sane, c.expected, c.fits, v.version FROM c LEFT JOIN v ON v.i = c.i`,

		// Move is sent as a batch of moveLock then move, for the reason
		// given at lock. moveLock locks the rows of both keys, whatever
		// their expiry, in key order, so two Moves never wait for each
		// other in a cycle; with the row under the new key locked (when
		// there is one), move's snapshot holds its last committed fields.
		//   $1 from, $2 to
		moveLock: `SELECT 1 FROM ` + s + ` WHERE session_key IN ($1::text, $2::text) ORDER BY session_key COLLATE "C" FOR UPDATE`,
		// The old session row, judged by the checks and by d (no live
		// session under the new key); only when all pass (w has the row)
		// is the new session row written (or an expired one under the
		// new key taken over, as Create does) with the old row's created
		// time, the new expiry, version 1 and the old or new owner; then
		// its fields (the old ones neither set nor removed, plus the set
		// ones; the taken-over session's other fields deleted, as in
		// create) and the old row deleted, its fields by the cascade.
		// One row: the verdicts, the new row's times and owner (NULL
		// when nothing was written) and its fields as two arrays built
		// by one aggregate, so in step; no row when the old session is
		// missing or expired.
		move: `WITH s AS (
	SELECT session_key, created, expires, version, owner FROM ` + s + ` WHERE session_key = $1 AND expires > $2 FOR UPDATE
), ` + checks(f) + `, d AS (
	SELECT NOT EXISTS (SELECT 1 FROM ` + s + ` WHERE session_key = $11::text AND expires > $2) AS free
), w AS (
	SELECT c.* FROM c, d WHERE c.sane AND d.free AND c.expected AND c.fits
), nf AS (
	SELECT f.name, f.value FROM w JOIN ` + f + ` f ON f.session_key = w.session_key
	WHERE ` + liveName + ` AND NOT (f.name = ANY ($3::text[]) OR f.name = ANY ($5::text[]))
	UNION ALL
	SELECT u.name, u.value FROM w, unnest($3::text[], $4::bytea[]) AS u (name, value)
), ns AS (
	INSERT INTO ` + s + ` AS t (session_key, created, expires, version, owner)
	SELECT $11::text, w.created, $6::timestamptz, 1,
		CASE WHEN $7::text IS NULL THEN NULLIF(w.owner, '') ELSE NULLIF($7::text, '') END
	FROM w
	ON CONFLICT (session_key) DO UPDATE
	SET created = EXCLUDED.created, expires = EXCLUDED.expires, version = 1, owner = EXCLUDED.owner
	WHERE t.expires <= $2
	RETURNING t.session_key, t.created, t.expires, t.owner
), stale AS (
	DELETE FROM ` + f + ` f USING ns
	WHERE f.session_key = ns.session_key AND f.name NOT IN (SELECT name FROM nf)
), ins AS (
	INSERT INTO ` + f + ` (session_key, name, value)
	SELECT ns.session_key, nf.name, nf.value FROM ns, nf
	ON CONFLICT (session_key, name) DO UPDATE SET value = EXCLUDED.value
), gone AS (
	DELETE FROM ` + s + ` t USING ns WHERE t.session_key = $1
)
SELECT c.sane, d.free, c.expected, c.fits, ns.created, ns.expires, ns.owner, a.names, a.vals
FROM c CROSS JOIN d LEFT JOIN ns ON true
CROSS JOIN (SELECT array_agg(nf.name) AS names, array_agg(nf.value) AS vals FROM nf) a`,

		// The fields go by ON DELETE CASCADE.
		delete: `DELETE FROM ` + s + ` WHERE session_key = $1`,

		// One batch of expired sessions, and of sessions whose expiry is
		// 'infinity' (no store writes it; a bad writer's row would
		// otherwise stay forever, unreadable): both served by the index
		// on expires. SKIP LOCKED passes over sessions a request (or
		// another node's cleanup) holds; the outer expiry test is
		// checked again on the newest row version, so a session just
		// taken over by a Create survives. Nothing is read into Go, so
		// no stored value can make it fail.
		//   $1 now, $2 batch size
		cleanup: `DELETE FROM ` + s + ` WHERE (expires <= $1 OR expires = 'infinity') AND session_key IN (
	SELECT session_key FROM ` + s + ` WHERE expires <= $1 OR expires = 'infinity' LIMIT $2 FOR UPDATE SKIP LOCKED)`,

		//   $1 key, $2 now
		version: `SELECT ` + sane("s") + `, s.version FROM ` + s + ` s WHERE s.session_key = $1 AND s.expires > $2`,

		// Served by the partial index on owner (owner = $1 implies
		// owner IS NOT NULL). Expired rows are skipped here and deleted
		// by the cleanup, their index entries with them; rows that
		// cannot be parsed are skipped too.
		//   $1 owner, $2 now
		owned: `SELECT s.session_key, s.created, s.expires, s.version FROM ` + s + ` s
WHERE s.owner = $1 AND s.expires > $2 AND ` + sane("s"),
	}
}
