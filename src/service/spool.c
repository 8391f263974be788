/*
 * spool.c - the durable outbox between the estimator and the broker, and
 * the dedupe table of published results (SQLite, WAL, synchronous=NORMAL).
 *
 * Write-ahead for publishing: enqueue commits before the first publish
 * attempt, ack deletes after the broker's acknowledgement, open makes
 * everything unacknowledged pending again. It does not talk MQTT, does not
 * retry on its own and has no timer: the daemon drives it.
 */
#include "abyss/spool.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SPOOL_SCHEMA_VERSION 1

enum {
	ST_INSERT,
	ST_DEDUPE_SEEN,
	ST_DEDUPE_PUT,
	ST_DEDUPE_EXPIRE,
	ST_DEDUPE_COUNT,
	ST_DEDUPE_TRIM,
	ST_MARK_CLEAR,
	ST_MARK,
	ST_ACK,
	ST_PENDING,
	ST__COUNT
};

static const char *const sql_text[ST__COUNT] = {
    "INSERT INTO outbox(topic, payload, qos, retain, created_ms) "
    "VALUES(?1, ?2, ?3, ?4, ?5)",
    "SELECT 1 FROM dedupe WHERE tool_key = ?1 AND result_id = ?2 "
    "AND t_ms >= ?3",
    "INSERT OR REPLACE INTO dedupe(tool_key, result_id, t_ms) "
    "VALUES(?1, ?2, ?3)",
    "DELETE FROM dedupe WHERE t_ms < ?1",
    "SELECT count(*) FROM dedupe",
    "DELETE FROM dedupe WHERE rowid IN (SELECT rowid FROM dedupe "
    "ORDER BY t_ms LIMIT ?1)",
    "UPDATE outbox SET mid = NULL WHERE mid = ?1",
    "UPDATE outbox SET mid = ?2 WHERE id = ?1",
    "DELETE FROM outbox WHERE mid = ?1 RETURNING length(payload)",
    "SELECT id, topic, payload, qos, retain, created_ms FROM outbox "
    "WHERE mid IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
};

struct abyss_spool {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	struct abyss_spool_limits lim;
	size_t entries;
	size_t bytes;
	size_t dedupe_entries;
	int batch; /* inside abyss_spool_begin .. commit */
};

void abyss_spool_limits_default(struct abyss_spool_limits *lim)
{
	lim->max_entries = 100000;
	lim->max_bytes = (size_t)256 << 20;
	lim->max_payload_bytes = (size_t)1 << 20;
	lim->max_topic_bytes = 65535;
	lim->dedupe_ttl_ms = 86400000;
	lim->max_dedupe_entries = 1000000;
}

static int db_fail(struct abyss_spool *sp, struct abyss_diag *diag,
		   const char *what)
{
	return abyss_diag_set(diag, ABYSS_EDB, 0, 0, "spool: %s: %s", what,
			      sp->db ? sqlite3_errmsg(sp->db) : "no database");
}

static int exec(struct abyss_spool *sp, const char *sql)
{
	return sqlite3_exec(sp->db, sql, NULL, NULL, NULL) == SQLITE_OK
		   ? 0
		   : ABYSS_EDB;
}

/* Runs a one-row integer query. */
static int query_int(struct abyss_spool *sp, const char *sql, int64_t *v)
{
	sqlite3_stmt *s = NULL;
	int rc = ABYSS_EDB;

	if (sqlite3_prepare_v2(sp->db, sql, -1, &s, NULL) != SQLITE_OK)
		return ABYSS_EDB;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		rc = 0;
	}
	sqlite3_finalize(s);
	return rc;
}

static int create_schema(struct abyss_spool *sp, struct abyss_diag *diag)
{
	int64_t version = 0;

	if (query_int(sp, "PRAGMA user_version", &version) != 0)
		return db_fail(sp, diag, "cannot read the file as a database");
	if (version > SPOOL_SCHEMA_VERSION)
		return abyss_diag_set(diag, ABYSS_EUNSUPPORTED, 0, 0,
				      "spool: schema version %lld was written "
				      "by a newer abyss (this one knows %d)",
				      (long long)version, SPOOL_SCHEMA_VERSION);
	if (exec(sp, "BEGIN IMMEDIATE") != 0)
		return db_fail(sp, diag, "cannot lock the spool");
	if (exec(sp,
		 "CREATE TABLE IF NOT EXISTS outbox("
		 " id INTEGER PRIMARY KEY AUTOINCREMENT,"
		 " topic TEXT NOT NULL, payload BLOB NOT NULL,"
		 " qos INTEGER NOT NULL, retain INTEGER NOT NULL,"
		 " created_ms INTEGER NOT NULL, mid INTEGER);"
		 "CREATE INDEX IF NOT EXISTS outbox_mid ON outbox(mid)"
		 " WHERE mid IS NOT NULL;"
		 "CREATE TABLE IF NOT EXISTS dedupe("
		 " tool_key TEXT NOT NULL, result_id TEXT NOT NULL,"
		 " t_ms INTEGER NOT NULL,"
		 " PRIMARY KEY(tool_key, result_id));"
		 "CREATE INDEX IF NOT EXISTS dedupe_t ON dedupe(t_ms);"
		 "PRAGMA user_version = 1;"
		 /* a restart: no mid of the old connection is valid */
		 "UPDATE outbox SET mid = NULL WHERE mid IS NOT NULL;") != 0) {
		int rc = db_fail(sp, diag, "cannot create the tables");
		exec(sp, "ROLLBACK");
		return rc;
	}
	if (exec(sp, "COMMIT") != 0)
		return db_fail(sp, diag, "cannot commit the schema");
	return 0;
}

/* The in-memory counters from the tables (at open, and after a batch
 * failed to commit). */
static int recount(struct abyss_spool *sp, struct abyss_diag *diag)
{
	int64_t v = 0;

	if (query_int(sp, "SELECT count(*) FROM outbox", &v) != 0) {
		return db_fail(sp, diag, "cannot count the outbox");
	}
	sp->entries = (size_t)v;
	if (query_int(sp,
		      "SELECT coalesce(sum(length(payload)), 0) FROM outbox",
		      &v) != 0) {
		return db_fail(sp, diag, "cannot size the outbox");
	}
	sp->bytes = (size_t)v;
	if (query_int(sp, "SELECT count(*) FROM dedupe", &v) != 0) {
		return db_fail(sp, diag, "cannot count the dedupe table");
	}
	sp->dedupe_entries = (size_t)v;
	return 0;
}

int abyss_spool_open(const char *path, const struct abyss_spool_limits *lim,
		     struct abyss_spool **out, struct abyss_diag *diag)
{
	struct abyss_spool *sp;
	int rc, i;

	if (!path || !*path || !out)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "spool: no path given");
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return ABYSS_ENOMEM;
	if (lim)
		sp->lim = *lim;
	else
		abyss_spool_limits_default(&sp->lim);
	abyss_diag_set_file(diag, path);
	if (sqlite3_open_v2(path, &sp->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		rc = db_fail(sp, diag, "cannot open");
		goto fail;
	}
	sqlite3_extended_result_codes(sp->db, 1);
	/* EXCLUSIVE locking: a second daemon on the same file fails at open
	 * instead of interleaving publishes; WAL then needs no shared
	 * memory file either. */
	if (exec(sp, "PRAGMA locking_mode = EXCLUSIVE") != 0 ||
	    exec(sp, "PRAGMA journal_mode = WAL") != 0 ||
	    exec(sp, "PRAGMA synchronous = NORMAL") != 0) {
		rc = db_fail(sp, diag,
			     "not a spool database, or in use by another "
			     "process");
		goto fail;
	}
	rc = create_schema(sp, diag);
	if (rc != 0)
		goto fail;
	for (i = 0; i < ST__COUNT; i++) {
		if (sqlite3_prepare_v3(sp->db, sql_text[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &sp->st[i],
				       NULL) != SQLITE_OK) {
			rc = db_fail(sp, diag, "cannot prepare statements");
			goto fail;
		}
	}
	rc = recount(sp, diag);
	if (rc)
		goto fail;
	*out = sp;
	return 0;
fail:
	abyss_spool_close(sp);
	return rc;
}

void abyss_spool_close(struct abyss_spool *sp)
{
	int i;

	if (!sp)
		return;
	for (i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(sp->st[i]);
	sqlite3_close(sp->db);
	free(sp);
}

/* Resets a prepared statement for reuse (and clears its bindings). */
static sqlite3_stmt *stmt(struct abyss_spool *sp, int which)
{
	sqlite3_stmt *s = sp->st[which];

	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static int dedupe_seen(struct abyss_spool *sp, const char *tool_key,
		       const char *result_id, int64_t now_ms)
{
	sqlite3_stmt *s = stmt(sp, ST_DEDUPE_SEEN);
	int rc;

	sqlite3_bind_text(s, 1, tool_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, result_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms - sp->lim.dedupe_ttl_ms);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : ABYSS_EDB;
}

int abyss_spool_dedupe_seen(struct abyss_spool *sp, const char *tool_key,
			    const char *result_id, int64_t now_ms)
{
	if (!sp || !tool_key || !result_id)
		return ABYSS_EINVAL;
	return dedupe_seen(sp, tool_key, result_id, now_ms);
}

static int64_t count_dedupe(struct abyss_spool *sp)
{
	sqlite3_stmt *s = stmt(sp, ST_DEDUPE_COUNT);
	int64_t v = -1;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

int abyss_spool_dedupe_expire(struct abyss_spool *sp, int64_t now_ms)
{
	sqlite3_stmt *s;
	int n;

	if (!sp)
		return ABYSS_EINVAL;
	s = stmt(sp, ST_DEDUPE_EXPIRE);
	sqlite3_bind_int64(s, 1, now_ms - sp->lim.dedupe_ttl_ms);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return ABYSS_EDB;
	}
	sqlite3_reset(s);
	n = sqlite3_changes(sp->db);
	sp->dedupe_entries =
	    sp->dedupe_entries > (size_t)n ? sp->dedupe_entries - n : 0;
	return n;
}

/* Adds (tool_key, result_id) at now_ms, first trimming expired and, when
 * at the cap, the oldest entries. Inside the caller's transaction. */
static int dedupe_put(struct abyss_spool *sp, const char *tool_key,
		      const char *result_id, int64_t now_ms)
{
	sqlite3_stmt *s;
	int64_t count;

	if (abyss_spool_dedupe_expire(sp, now_ms) < 0)
		return ABYSS_EDB;
	if (sp->dedupe_entries >= sp->lim.max_dedupe_entries) {
		s = stmt(sp, ST_DEDUPE_TRIM);
		sqlite3_bind_int64(s, 1,
				   (int64_t)(sp->dedupe_entries -
					     sp->lim.max_dedupe_entries + 1));
		if (sqlite3_step(s) != SQLITE_DONE) {
			sqlite3_reset(s);
			return ABYSS_EDB;
		}
		sqlite3_reset(s);
	}
	s = stmt(sp, ST_DEDUPE_PUT);
	sqlite3_bind_text(s, 1, tool_key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, result_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ms);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return ABYSS_EDB;
	}
	sqlite3_reset(s);
	count = count_dedupe(sp);
	if (count < 0)
		return ABYSS_EDB;
	sp->dedupe_entries = (size_t)count;
	return 0;
}

int abyss_spool_enqueue(struct abyss_spool *sp,
			const struct abyss_spool_msg *msgs, size_t n,
			const char *tool_key, const char *result_id,
			int64_t now_ms, int64_t *ids, struct abyss_diag *diag)
{
	size_t i, add_bytes = 0;
	size_t saved_dedupe;
	int rc;

	if (!sp || !msgs || n == 0)
		return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
				      "spool: nothing to enqueue");
	for (i = 0; i < n; i++) {
		if (!msgs[i].topic || (!msgs[i].payload && msgs[i].len) ||
		    msgs[i].qos < 0 || msgs[i].qos > 2)
			return abyss_diag_set(diag, ABYSS_EINVAL, 0, 0,
					      "spool: message %zu is invalid",
					      i);
		if (msgs[i].len > sp->lim.max_payload_bytes ||
		    strlen(msgs[i].topic) > sp->lim.max_topic_bytes)
			return abyss_diag_set(
			    diag, ABYSS_ETOOBIG, 0, 0,
			    "spool: message %zu is larger than the limits "
			    "(payload %zu > %zu bytes or topic too long)",
			    i, msgs[i].len, sp->lim.max_payload_bytes);
		add_bytes += msgs[i].len;
	}
	if (sp->entries + n > sp->lim.max_entries ||
	    sp->bytes + add_bytes > sp->lim.max_bytes)
		return abyss_diag_set(
		    diag, ABYSS_EFULL, 0, 0,
		    "spool full: %zu messages / %zu bytes waiting, limits "
		    "%zu / %zu (is the broker reachable?)",
		    sp->entries, sp->bytes, sp->lim.max_entries,
		    sp->lim.max_bytes);
	/* a savepoint: its own transaction, or part of a batch */
	if (exec(sp, "SAVEPOINT enqueue") != 0)
		return db_fail(sp, diag, "cannot begin");
	saved_dedupe = sp->dedupe_entries;
	if (tool_key && result_id) {
		rc = dedupe_seen(sp, tool_key, result_id, now_ms);
		if (rc != 0) {
			exec(sp, "ROLLBACK TO enqueue; RELEASE enqueue");
			if (rc == 1)
				return abyss_diag_set(
				    diag, ABYSS_EDUPLICATE, 0, 0,
				    "result %s of %s was already "
				    "published",
				    result_id, tool_key);
			return db_fail(sp, diag, "dedupe lookup");
		}
		if (dedupe_put(sp, tool_key, result_id, now_ms) != 0)
			goto db_error;
	}
	for (i = 0; i < n; i++) {
		sqlite3_stmt *s = stmt(sp, ST_INSERT);
		sqlite3_bind_text(s, 1, msgs[i].topic, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(s, 2, msgs[i].len ? msgs[i].payload : "",
				    msgs[i].len, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, msgs[i].qos);
		sqlite3_bind_int(s, 4, msgs[i].retain ? 1 : 0);
		sqlite3_bind_int64(s, 5, now_ms);
		if (sqlite3_step(s) != SQLITE_DONE) {
			sqlite3_reset(s);
			goto db_error;
		}
		sqlite3_reset(s);
		if (ids)
			ids[i] = sqlite3_last_insert_rowid(sp->db);
	}
	if (exec(sp, "RELEASE enqueue") != 0)
		goto db_error;
	sp->entries += n;
	sp->bytes += add_bytes;
	return 0;
db_error:
	rc = db_fail(sp, diag, "cannot write");
	exec(sp, "ROLLBACK TO enqueue; RELEASE enqueue");
	sp->dedupe_entries = saved_dedupe;
	return rc;
}

int abyss_spool_begin(struct abyss_spool *sp)
{
	if (!sp || sp->batch)
		return ABYSS_EINVAL;
	if (exec(sp, "BEGIN IMMEDIATE") != 0)
		return ABYSS_EDB;
	sp->batch = 1;
	return 0;
}

int abyss_spool_commit(struct abyss_spool *sp, struct abyss_diag *diag)
{
	int rc;

	if (!sp || !sp->batch)
		return ABYSS_EINVAL;
	sp->batch = 0;
	if (exec(sp, "COMMIT") == 0)
		return 0;
	rc = db_fail(sp, diag, "cannot commit");
	exec(sp, "ROLLBACK");
	recount(sp, NULL);
	return rc;
}

int abyss_spool_mark_inflight(struct abyss_spool *sp, int64_t id, int mid)
{
	sqlite3_stmt *s;

	if (!sp)
		return ABYSS_EINVAL;
	/* mids wrap around: an old holder of this mid loses it */
	s = stmt(sp, ST_MARK_CLEAR);
	sqlite3_bind_int(s, 1, mid);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return ABYSS_EDB;
	}
	sqlite3_reset(s);
	s = stmt(sp, ST_MARK);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, mid);
	if (sqlite3_step(s) != SQLITE_DONE) {
		sqlite3_reset(s);
		return ABYSS_EDB;
	}
	sqlite3_reset(s);
	return sqlite3_changes(sp->db) > 0 ? 0 : ABYSS_ENOTFOUND;
}

int abyss_spool_ack(struct abyss_spool *sp, int mid)
{
	sqlite3_stmt *s;
	int rc, found = 0;

	if (!sp)
		return ABYSS_EINVAL;
	s = stmt(sp, ST_ACK);
	sqlite3_bind_int(s, 1, mid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_int64(s, 0);
		found++;
		sp->entries--;
		sp->bytes = sp->bytes > len ? sp->bytes - len : 0;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return ABYSS_EDB;
	return found ? 0 : ABYSS_ENOTFOUND;
}

int abyss_spool_reset_inflight(struct abyss_spool *sp)
{
	if (!sp)
		return ABYSS_EINVAL;
	return exec(sp, "UPDATE outbox SET mid = NULL WHERE mid IS NOT NULL");
}

int abyss_spool_foreach_pending(
    struct abyss_spool *sp, int64_t after_id, size_t max,
    int (*fn)(void *ud, const struct abyss_spool_entry *e), void *ud)
{
	sqlite3_stmt *s;
	int rc, ret = 0;

	if (!sp || !fn)
		return ABYSS_EINVAL;
	/* a separate statement object: fn may run mark_inflight, which uses
	 * the prepared UPDATEs, while this SELECT is still stepping */
	s = stmt(sp, ST_PENDING);
	sqlite3_bind_int64(s, 1, after_id);
	sqlite3_bind_int64(s, 2, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct abyss_spool_entry e;
		e.id = sqlite3_column_int64(s, 0);
		e.topic = (const char *)sqlite3_column_text(s, 1);
		e.payload = sqlite3_column_blob(s, 2);
		e.len = (size_t)sqlite3_column_bytes(s, 2);
		e.qos = sqlite3_column_int(s, 3);
		e.retain = sqlite3_column_int(s, 4);
		e.created_ms = sqlite3_column_int64(s, 5);
		if (!e.topic)
			e.topic = "";
		ret = fn(ud, &e);
		if (ret != 0)
			break;
	}
	sqlite3_reset(s);
	if (ret != 0)
		return ret;
	return rc == SQLITE_DONE ? 0 : ABYSS_EDB;
}

size_t abyss_spool_entries(const struct abyss_spool *sp)
{
	return sp ? sp->entries : 0;
}

int abyss_spool_get_stats(struct abyss_spool *sp, struct abyss_spool_stats *st)
{
	int64_t v = 0;

	if (!sp || !st)
		return ABYSS_EINVAL;
	st->entries = sp->entries;
	st->bytes = sp->bytes;
	st->dedupe_entries = sp->dedupe_entries;
	if (query_int(sp, "SELECT count(*) FROM outbox WHERE mid IS NOT NULL",
		      &v) != 0)
		return ABYSS_EDB;
	st->inflight = (size_t)v;
	return 0;
}
