/*
 * cmd_listen.c - `abyss listen`: runs the real-time MQTT service
 * (src/service/listen.c) or, with --check-config, only validates its
 * configuration file. Option parsing only; the daemon lives in the service.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../service/listen.h"
#include "../service/log.h"
#include "abyss/error.h"
#include "cli.h"

static void listen_usage(FILE *f)
{
	fprintf(f,
		"usage: abyss listen --config FILE [options]\n\n"
		"Subscribes to the drills' Result/Trace(/Heads) messages, "
		"estimates each hole\nand publishes the keypoints and depth "
		"payloads (docs/operations.md).\n\n"
		"options:\n"
		"  --config FILE        the YAML configuration (mqtt: and "
		"abyss: sections)\n"
		"  --check-config       load and validate FILE, print "
		"warnings and errors, exit\n"
		"                       0 (usable) or 1\n"
		"  --log-level L        debug, info, warning, error, "
		"critical (overrides the file\n"
		"                       and LOG_LEVEL)\n"
		"  --shutdown-timeout S seconds to finish in-flight holes on "
		"SIGTERM (10)\n\n"
		"Signals: SIGTERM/SIGINT stop cleanly, SIGHUP reloads the "
		"file.\n");
}

int cmd_listen(int argc, char **argv)
{
	struct abyss_listen_opts o;
	struct abyss_diag d;
	const char *env;
	char e[ABYSS_DIAG_MSG_MAX + ABYSS_DIAG_FILE_MAX + 64];
	int check = 0, a, rc;

	memset(&o, 0, sizeof(o));
	o.log_fd = -1;
	env = getenv("LOG_LEVEL");
	if (env && *env && abyss_log_level_parse(env, &o.log_level) != 0) {
		cli_error("listen",
			  "LOG_LEVEL=%s: expected debug, info, "
			  "warning, error or critical",
			  env);
		return CLI_EXIT_USAGE;
	}
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a];

		if (cli_is_help(arg)) {
			listen_usage(stdout);
			return CLI_EXIT_OK;
		} else if (!strcmp(arg, "--check-config")) {
			check = 1;
		} else if (!strcmp(arg, "--config") && a + 1 < argc) {
			o.config_path = argv[++a];
		} else if (!strcmp(arg, "--log-level") && a + 1 < argc) {
			if (abyss_log_level_parse(argv[++a], &o.log_level)) {
				cli_error("listen",
					  "--log-level %s: expected debug, "
					  "info, warning, error or critical",
					  argv[a]);
				return CLI_EXIT_USAGE;
			}
		} else if (!strcmp(arg, "--shutdown-timeout") && a + 1 < argc) {
			if (cli_parse_double("listen", arg, argv[++a],
					     &o.shutdown_s) ||
			    o.shutdown_s <= 0)
				return CLI_EXIT_USAGE;
		} else if (check && !o.config_path && arg[0] != '-') {
			o.config_path = arg; /* --check-config FILE */
		} else {
			cli_error("listen",
				  "unknown option or missing value: "
				  "'%s'",
				  arg);
			listen_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (!o.config_path) {
		cli_error("listen", "--config FILE is required");
		listen_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (check)
		return abyss_listen_check_config(o.config_path, stdout);
	abyss_diag_init(&d);
	rc = abyss_listen_run(&o, &d);
	if (rc) {
		if (!d.file[0] && d.code == ABYSS_ECONFIG)
			abyss_diag_set_file(&d, o.config_path);
		cli_error("listen", "%s", abyss_diag_format(&d, e, sizeof(e)));
		return rc == ABYSS_ECONFIG || rc == ABYSS_EPARSE ||
			       rc == ABYSS_ENOENT
			   ? CLI_EXIT_INPUT
			   : CLI_EXIT_INTERNAL;
	}
	return CLI_EXIT_OK;
}
