/*
 * config_mq.h - internal: the MQTT adapter's options (mq.h) from the
 * service configuration (abyss/config.h).
 */
#ifndef ABYSS_SERVICE_CONFIG_MQ_H
#define ABYSS_SERVICE_CONFIG_MQ_H

#include <stddef.h>

#include "abyss/config.h"
#include "mq.h"

/* Fills o (mq_opts_init first, then every configured value). String fields
 * are borrowed from cfg and from id_buf, so both must outlive the mq_new
 * call. When abyss.mqtt.client_id is empty the client id is generated into
 * id_buf as "abyss-<hostname>-<shard index>": stable across restarts (a
 * persistent session finds its queue again) and distinct per shard (two
 * instances never kick each other off, the original's fixed-id flaw).
 * hostname NULL or "" gives "abyss-host-<index>". Returns 0 or
 * ABYSS_ETOOBIG (id_buf too small). */
int config__mq_opts(const struct abyss_config *cfg, const char *hostname,
		    char *id_buf, size_t n, struct mq_opts *o);

#endif
