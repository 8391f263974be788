/*
 * service/listen.h - the real-time service (`abyss listen`): one poll loop
 * that wires the MQTT adapter, correlator, worker pool, spool, metrics, HTTP
 * endpoints, logger and systemd notification together. docs/operations.md
 * is the runbook; docs/service.md describes the pieces.
 */
#ifndef ABYSS_SERVICE_LISTEN_H
#define ABYSS_SERVICE_LISTEN_H

#include <stdio.h>

#include "abyss/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct abyss_listen_opts {
	const char *config_path; /* required: the YAML file */
	int log_level;		 /* ABYSS_LOGL_*; 0: from the file */
	int log_fd;		 /* where log lines go; < 0: stderr */
	double shutdown_s;	 /* SIGTERM/SIGINT: finish in-flight holes and
				    flush the spool within this; 0: 10 s */
};

/* Runs the service until SIGTERM or SIGINT (blocks those and SIGHUP in the
 * calling thread, which must be the only thread: every thread the service
 * starts inherits the mask). Startup failures (configuration, spool, HTTP
 * address, MQTT options, `ml` estimator) return their ABYSS_E* code with
 * diag (may be NULL) saying why; a clean stop returns 0. Everything it
 * allocates is released before it returns. */
int abyss_listen_run(const struct abyss_listen_opts *o,
		     struct abyss_diag *diag);

/* --check-config: loads and validates path as `abyss listen` would, writes
 * warnings and the error (file:line:col: message) to out. Returns 0 when
 * the file is usable, 1 when it is not. */
int abyss_listen_check_config(const char *path, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
