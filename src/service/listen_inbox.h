/*
 * listen_inbox.h - internal to `abyss listen`: a small SQLite table of the
 * MQTT messages received and not yet turned into a spooled result, so that
 * a crash (kill -9) between the broker's acknowledgement and the spool does
 * not lose a hole. One owner thread.
 */
#ifndef ABYSS_SERVICE_LISTEN_INBOX_H
#define ABYSS_SERVICE_LISTEN_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include "abyss/error.h"

struct lsn_inbox;

/* Opens (creating) the inbox at path, locked exclusively. Returns 0,
 * ABYSS_ENOMEM or ABYSS_EDB (diag says why). */
int lsn_inbox_open(const char *path, struct lsn_inbox **out,
		   struct abyss_diag *diag);
void lsn_inbox_close(struct lsn_inbox *ib);

/* Stores one message; *id receives its row id. 0 or ABYSS_EDB. */
int lsn_inbox_add(struct lsn_inbox *ib, const char *topic, const void *payload,
		  size_t len, int64_t *id);

/* Forgets message id (0 is ignored). 0 or ABYSS_EDB. */
int lsn_inbox_del(struct lsn_inbox *ib, int64_t id);

/* Calls fn for every stored message in arrival order. A non-zero return
 * from fn stops the walk and is returned; ABYSS_EDB on error. */
int lsn_inbox_foreach(struct lsn_inbox *ib,
		      int (*fn)(void *ud, int64_t id, const char *topic,
				const void *payload, size_t len),
		      void *ud);

/* Number of stored messages, or ABYSS_EDB. */
/* One transaction around a loop turn's adds and deletes (see listen.c's
 * lsn_batch_*). commit rolls back on failure and returns ABYSS_EDB. */
int lsn_inbox_begin(struct lsn_inbox *ib);
int lsn_inbox_commit(struct lsn_inbox *ib);
void lsn_inbox_rollback(struct lsn_inbox *ib);

int64_t lsn_inbox_count(struct lsn_inbox *ib);

#endif
