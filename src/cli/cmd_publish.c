/*
 * cmd_publish.c - abyss publish: replays holes (Setitec files, MQTT message
 * folders, legacy JSON) to a broker as Result/Trace/Heads messages, at a
 * rate or flat out, and with --wait-results measures the service's
 * end-to-end latency. Replaces the original's uos_publish_json*.py scripts.
 *
 * Option parsing, input loading, the progress line and the summary live
 * here; the generator itself is src/service/publish.c.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "abyss/config.h"
#include "abyss/hole.h"
#include "abyss/load.h"
#include "cli.h"
#include "../service/publish.h"
#include "walk.h"

#define CMD	   "publish"
#define MAX_INPUTS 100000 /* holes kept as templates; memory bound */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: abyss publish [options] INPUT...\n\n"
	    "Sends each hole of INPUT (Setitec .xls files, MQTT message "
	    "folders, legacy\nJSON files; folders are walked) to an MQTT "
	    "broker as the Result, Trace and\nHeads messages a drill "
	    "sends, under random tool keys, with a fresh ResultId\nper "
	    "hole. The replacement of the original's publisher and stress "
	    "scripts.\n\n"
	    "broker and topics (flags override --config):\n"
	    "  -c, --config FILE       service YAML: broker, root, "
	    "publisher/listener topics,\n"
	    "                          estimation topics, client id, TLS\n"
	    "      --host H            broker address (default 127.0.0.1)\n"
	    "  -p, --port N            broker port (default 1883)\n"
	    "      --protocol 311|5    MQTT version (default 311)\n"
	    "      --connect-timeout S  give up connecting, or waiting for a "
	    "stalled broker,\n"
	    "                          after S seconds (default 10)\n"
	    "      --max-holes N       holes recorded per run (default "
	    "10000000; memory bound)\n"
	    "      --client-id ID      client id prefix (default "
	    "abyss-publish)\n"
	    "      --root R            topic root (default OPCPUBSUB)\n"
	    "      --result-topic S    default ResultManagement\n"
	    "      --trace-topic S     default ResultManagement/Trace\n"
	    "      --heads-topic S     default AssetManagement/Heads\n"
	    "      --no-heads          send Result and Trace only\n"
	    "      --keypoints-topic S, --depth-topic S  the service's "
	    "outputs\n"
	    "  -t, --tools N           tool keys ILLL50203377<i>/setitec00<i>,"
	    " i=1..N (5)\n"
	    "      --tool-key TB/T     one fixed tool key instead\n\n"
	    "what and how fast:\n"
	    "  -n, --count N           holes to send (default: each input "
	    "once)\n"
	    "  -d, --duration S        send for S seconds (with --count: "
	    "whichever ends first)\n"
	    "  -r, --rate R            holes per second (all connections "
	    "together)\n"
	    "      --no-sleep          as fast as the broker takes them\n"
	    "  -C, --concurrency N     publishing connections (default 1)\n"
	    "  -q, --qos Q             0, 1 or 2 (default 0, as the "
	    "original)\n"
	    "      --seed N            order of inputs, messages and tools "
	    "(default 1)\n"
	    "      --no-shuffle        Result, Trace, Heads in that order\n"
	    "      --rewrite-timestamps  every timestamp becomes the send "
	    "time (UTC, s)\n"
	    "      --nonce N           run stamp in ResultIds (default: from "
	    "clock and pid)\n\n"
	    "results:\n"
	    "  -w, --wait-results      subscribe to the keypoints and depth "
	    "topics, match\n"
	    "                          by (tool key, ResultId), report "
	    "latency percentiles\n"
	    "      --wait-timeout S    wait after the last send (default "
	    "10)\n"
	    "      --echo              subscribe to our own topics instead "
	    "(the broker's\n"
	    "                          ceiling: a hole counts when all its "
	    "messages came back)\n"
	    "      --json              summary as one JSON object\n"
	    "      --quiet             no progress line\n"
	    "  -h, --help              this help\n\n"
	    "exit status: 0 every hole sent (and answered, with "
	    "--wait-results/--echo),\n1 holes without a result or not sent, "
	    "2 usage, 3 no readable input,\n4 broker unreachable or internal "
	    "error.\n");
}

struct cli_state {
	bool json, quiet, tty;
};

/* CPU seconds this process used (user + system): shows whether the load
 * generator itself was the limit on a small machine. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void progress(void *ud, const struct pub_report *r)
{
	struct cli_state *s = ud;
	double rate =
	    r->elapsed_s > 0 ? (double)r->holes_sent / r->elapsed_s : 0;

	if (!s->tty || s->quiet)
		return;
	fprintf(stderr,
		"\r\033[Kpublish: %llu holes sent (%.0f/s), %llu msgs, "
		"%llu results%s",
		(unsigned long long)r->holes_sent, rate,
		(unsigned long long)r->msgs_sent,
		(unsigned long long)r->results,
		r->waiting ? ", waiting for results" : "");
	fflush(stderr);
}

static void print_text(const struct pub_opts *o, const struct pub_report *r,
		       size_t ninputs, double cpu)
{
	double el = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;

	printf("sent      %llu holes (%llu messages, %.1f MB) from %zu "
	       "inputs in %.2f s: %.1f holes/s, %.1f msgs/s, %.1f MB/s\n",
	       (unsigned long long)r->holes_sent,
	       (unsigned long long)r->msgs_sent, (double)r->bytes_sent / 1e6,
	       ninputs, r->elapsed_s, (double)r->holes_sent / el,
	       (double)r->msgs_sent / el, (double)r->bytes_sent / 1e6 / el);
	printf("          %.2f s CPU (%.0f %% of one core)", cpu,
	       r->total_s > 0 ? 100 * cpu / r->total_s : 0);
	if (r->full_waits)
		printf(", %llu waits on a full connection",
		       (unsigned long long)r->full_waits);
	putchar('\n');
	if (!o->wait_results && !o->echo)
		return;
	printf(
	    "%s   %llu of %llu holes (%llu without a result after "
	    "%.1f s), %.1f holes/s over %.2f s; %llu errors, %llu "
	    "unmatched, %llu duplicates, %llu messages in\n",
	    o->echo ? "echoed " : "results", (unsigned long long)r->results,
	    (unsigned long long)r->holes_sent, (unsigned long long)r->missing,
	    o->wait_timeout_s,
	    r->total_s > 0 ? (double)r->results / r->total_s : 0, r->total_s,
	    (unsigned long long)r->errors_in, (unsigned long long)r->unmatched,
	    (unsigned long long)r->duplicates, (unsigned long long)r->msgs_in);
	if (r->results)
		printf("latency   p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max "
		       "%.2f ms (last message sent -> %s received)\n",
		       r->lat_p50_ms, r->lat_p90_ms, r->lat_p99_ms,
		       r->lat_max_ms,
		       o->echo ? "every message" : "depth payload");
}

static void print_json(const struct pub_opts *o, const struct pub_report *r,
		       size_t ninputs, int rc, double cpu)
{
	double el = r->elapsed_s > 0 ? r->elapsed_s : 1e-9;

	printf(
	    "{\"inputs\": %zu, \"holes_sent\": %llu, \"msgs_sent\": %llu, "
	    "\"bytes_sent\": %llu, \"elapsed_s\": %.6f, \"total_s\": %.6f, "
	    "\"holes_per_s\": %.3f, \"msgs_per_s\": %.3f, "
	    "\"full_waits\": %llu, \"mode\": \"%s\", \"results\": %llu, "
	    "\"results_per_s\": %.3f, \"keypoints\": %llu, "
	    "\"errors\": %llu, \"unmatched\": %llu, \"duplicates\": %llu, "
	    "\"missing\": %llu, \"msgs_in\": %llu, \"latency_ms\": "
	    "{\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
	    "\"rate\": %.3f, \"concurrency\": %u, \"qos\": %d, \"cpu_s\": "
	    "%.3f, "
	    "\"rc\": %d}\n",
	    ninputs, (unsigned long long)r->holes_sent,
	    (unsigned long long)r->msgs_sent, (unsigned long long)r->bytes_sent,
	    r->elapsed_s, r->total_s, (double)r->holes_sent / el,
	    (double)r->msgs_sent / el, (unsigned long long)r->full_waits,
	    o->echo	      ? "echo"
	    : o->wait_results ? "results"
			      : "send",
	    (unsigned long long)r->results,
	    r->total_s > 0 ? (double)r->results / r->total_s : 0,
	    (unsigned long long)r->keypoints, (unsigned long long)r->errors_in,
	    (unsigned long long)r->unmatched, (unsigned long long)r->duplicates,
	    (unsigned long long)r->missing, (unsigned long long)r->msgs_in,
	    r->lat_p50_ms, r->lat_p90_ms, r->lat_p99_ms, r->lat_max_ms, o->rate,
	    o->concurrency, o->qos, cpu, rc);
}

/* Applies the service configuration's broker, topic and TLS settings. */
static int apply_config(const char *path, struct abyss_config **cfgp,
			struct pub_opts *o)
{
	struct abyss_config *cfg = NULL;
	const struct abyss_config_mqtt *m;
	struct abyss_diag d;
	char msg[1200];
	int rc;

	abyss_diag_init(&d);
	rc = abyss_config_load(path, &cfg, &d, NULL);
	if (rc) {
		cli_error(CMD, "%s", abyss_diag_format(&d, msg, sizeof(msg)));
		return rc;
	}
	m = &cfg->mqtt;
	o->host = m->broker.host;
	o->port = (int)m->broker.port;
	o->username = m->broker.username;
	o->password = m->broker.password;
	o->root = m->listener.root;
	o->suffix[PUB_RESULT] = m->publisher.topics.result[0]
				    ? m->publisher.topics.result
				    : m->listener.result;
	o->suffix[PUB_TRACE] = m->publisher.topics.trace[0]
				   ? m->publisher.topics.trace
				   : m->listener.trace;
	o->suffix[PUB_HEADS] = m->publisher.topics.heads[0]
				   ? m->publisher.topics.heads
				   : m->listener.heads;
	if (m->estimation.keypoints[0])
		o->keypoints = m->estimation.keypoints;
	if (m->estimation.depth_estimation[0])
		o->depth = m->estimation.depth_estimation;
	if (m->publisher.client_id[0])
		o->client_id = m->publisher.client_id;
	o->tls_ca = cfg->abyss.tls.ca[0] ? cfg->abyss.tls.ca : NULL;
	o->tls_cert = cfg->abyss.tls.cert[0] ? cfg->abyss.tls.cert : NULL;
	o->tls_key = cfg->abyss.tls.key[0] ? cfg->abyss.tls.key : NULL;
	o->tls_insecure = cfg->abyss.tls.insecure != 0;
	o->protocol = cfg->abyss.mqtt.protocol;
	*cfgp = cfg;
	return 0;
}

/* Loads every input into a template. Returns the count, or -1. */
static long load_inputs(struct cli_paths *paths, bool heads,
			struct pub_template **out, bool quiet)
{
	struct pub_template *t;
	struct abyss_hole h;
	struct abyss_diag d;
	char msg[1200];
	size_t i, n = 0;

	t = calloc(paths->n ? paths->n : 1, sizeof(*t));
	if (!t)
		return -1;
	abyss_hole_init(&h);
	for (i = 0; i < paths->n; i++) {
		int rc;

		abyss_diag_init(&d);
		rc = abyss_hole_load(paths->v[i], &h, &d);
		if (rc) {
			abyss_diag_set_file(&d, paths->v[i]);
			if (!quiet)
				cli_error(
				    CMD, "skipped %s",
				    abyss_diag_format(&d, msg, sizeof(msg)));
			continue;
		}
		rc = pub_template_init(&t[n], &h, heads);
		if (rc) {
			if (!quiet)
				cli_error(CMD,
					  "skipped %s: cannot render its "
					  "messages: %s",
					  paths->v[i], abyss_strerror(rc));
			continue;
		}
		n++;
	}
	abyss_hole_free(&h);
	*out = t;
	return (long)n;
}

static int need(int argc, char **argv, int i)
{
	if (i + 1 >= argc) {
		cli_error(CMD, "%s needs a value", argv[i]);
		return 0;
	}
	return 1;
}

int cmd_publish(int argc, char **argv)
{
	struct pub_opts o;
	struct pub_report rep;
	struct cli_state st = {0};
	struct abyss_config *cfg = NULL;
	struct cli_paths paths;
	struct pub_template *tpl = NULL;
	const char *config = NULL;
	/* flags are kept apart so that they override --config wherever they
	 * appear on the line */
	const char *host = NULL, *root = NULL, *sfx[PUB_KINDS] = {0},
		   *kp = NULL, *dp = NULL, *cid = NULL;
	long port = -1, protocol = -1, v;
	bool no_heads = false, no_sleep = false, nonce_set = false;
	char err[512];
	double cpu0;
	long ntpl;
	int i, rc, ret;
	size_t k;

	pub_opts_init(&o);
	cli_paths_init(&paths);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		double dv;

#define VAL(s)                                                                 \
	(!strcmp(a, s) && (need(argc, argv, i) ? (i++, 1) : (ret = 2, 0)))
		ret = 0;
		if (cli_is_help(a)) {
			usage(stdout);
			cli_paths_free(&paths);
			return CLI_EXIT_OK;
		} else if (VAL("-c") || VAL("--config")) {
			config = argv[i];
		} else if (VAL("--host")) {
			host = argv[i];
		} else if (VAL("-p") || VAL("--port")) {
			if (cli_parse_long(CMD, a, argv[i], &port) ||
			    port < 1 || port > 65535)
				goto usage_err;
		} else if (VAL("--protocol")) {
			if (cli_parse_long(CMD, a, argv[i], &protocol) ||
			    (protocol != 311 && protocol != 5))
				goto usage_err;
		} else if (VAL("--client-id")) {
			cid = argv[i];
		} else if (VAL("--root")) {
			root = argv[i];
		} else if (VAL("--result-topic")) {
			sfx[PUB_RESULT] = argv[i];
		} else if (VAL("--trace-topic")) {
			sfx[PUB_TRACE] = argv[i];
		} else if (VAL("--heads-topic")) {
			sfx[PUB_HEADS] = argv[i];
		} else if (!strcmp(a, "--no-heads")) {
			no_heads = true;
		} else if (VAL("--keypoints-topic")) {
			kp = argv[i];
		} else if (VAL("--depth-topic")) {
			dp = argv[i];
		} else if (VAL("-t") || VAL("--tools")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v < 1 ||
			    v > PUB_MAX_TOOLS)
				goto usage_err;
			o.tools = (unsigned)v;
		} else if (VAL("--tool-key")) {
			o.tool_key = argv[i];
		} else if (VAL("-n") || VAL("--count")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v < 1)
				goto usage_err;
			o.count = (uint64_t)v;
		} else if (VAL("-d") || VAL("--duration")) {
			if (cli_parse_double(CMD, a, argv[i], &dv) || dv <= 0)
				goto usage_err;
			o.duration_s = dv;
		} else if (VAL("-r") || VAL("--rate")) {
			if (cli_parse_double(CMD, a, argv[i], &dv) || dv <= 0)
				goto usage_err;
			o.rate = dv;
		} else if (!strcmp(a, "--no-sleep")) {
			no_sleep = true;
		} else if (VAL("-C") || VAL("--concurrency")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v < 1 ||
			    v > PUB_MAX_CONNS)
				goto usage_err;
			o.concurrency = (unsigned)v;
		} else if (VAL("-q") || VAL("--qos")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v > 2)
				goto usage_err;
			o.qos = (int)v;
		} else if (VAL("--seed")) {
			if (cli_parse_long(CMD, a, argv[i], &v))
				goto usage_err;
			o.seed = (uint64_t)v;
		} else if (!strcmp(a, "--no-shuffle")) {
			o.shuffle = false;
		} else if (!strcmp(a, "--shuffle")) {
			o.shuffle = true;
		} else if (!strcmp(a, "--rewrite-timestamps")) {
			o.rewrite_timestamps = true;
		} else if (VAL("--nonce")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v >= 90000)
				goto usage_err;
			o.nonce = (uint32_t)v;
			nonce_set = true;
		} else if (!strcmp(a, "-w") || !strcmp(a, "--wait-results")) {
			o.wait_results = true;
		} else if (VAL("--wait-timeout")) {
			if (cli_parse_double(CMD, a, argv[i], &dv) || dv < 0)
				goto usage_err;
			o.wait_timeout_s = dv;
		} else if (VAL("--max-holes")) {
			if (cli_parse_long(CMD, a, argv[i], &v) || v < 1 ||
			    v > (long)PUB_MAX_SEQ)
				goto usage_err;
			o.max_holes = (uint64_t)v;
		} else if (VAL("--connect-timeout")) {
			if (cli_parse_double(CMD, a, argv[i], &dv) || dv <= 0)
				goto usage_err;
			o.connect_timeout_s = dv;
		} else if (!strcmp(a, "--echo")) {
			o.echo = true;
		} else if (!strcmp(a, "--json")) {
			st.json = true;
		} else if (!strcmp(a, "--quiet")) {
			st.quiet = true;
		} else if (ret) {
			goto usage_err;
		} else if (a[0] == '-' && a[1]) {
			cli_error(CMD, "unknown option '%s' (see --help)", a);
			goto usage_err;
		} else if (cli_paths_add(&paths, a, 1) != 0) {
			cli_error(CMD, "%s: %s", a, strerror(errno));
			cli_paths_free(&paths);
			return CLI_EXIT_INPUT;
		}
#undef VAL
	}
	if (o.wait_results && o.echo) {
		cli_error(CMD, "--wait-results and --echo exclude each other");
		goto usage_err;
	}
	if (paths.n == 0) {
		cli_error(CMD, "no input (see --help)");
		goto usage_err;
	}
	if (config && apply_config(config, &cfg, &o) != 0) {
		cli_paths_free(&paths);
		return CLI_EXIT_INPUT;
	}
	if (host)
		o.host = host;
	if (port > 0)
		o.port = (int)port;
	if (protocol > 0)
		o.protocol = (int)protocol;
	if (cid)
		o.client_id = cid;
	if (root)
		o.root = root;
	for (k = 0; k < PUB_KINDS; k++)
		if (sfx[k])
			o.suffix[k] = sfx[k];
	if (no_heads)
		o.suffix[PUB_HEADS] = NULL;
	if (kp)
		o.keypoints = kp;
	if (dp)
		o.depth = dp;
	if (no_sleep)
		o.rate = 0;
	if (!nonce_set)
		o.nonce = (uint32_t)(((uint64_t)time(NULL) * 31 +
				      (uint64_t)getpid() * 2654435761u) %
				     90000);
	st.tty = isatty(STDERR_FILENO) != 0;

	ntpl =
	    load_inputs(&paths, o.suffix[PUB_HEADS] && o.suffix[PUB_HEADS][0],
			&tpl, st.quiet);
	cli_paths_free(&paths);
	if (ntpl < 0) {
		cli_error(CMD, "out of memory");
		abyss_config_free(cfg);
		return CLI_EXIT_INTERNAL;
	}
	if (ntpl == 0) {
		cli_error(CMD, "no readable hole among the inputs");
		free(tpl);
		abyss_config_free(cfg);
		return CLI_EXIT_INPUT;
	}
	if (ntpl > MAX_INPUTS) {
		cli_error(CMD, "more than %d inputs", MAX_INPUTS);
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	if (o.count == 0 && !(o.duration_s > 0))
		o.count = (uint64_t)ntpl;

	cpu0 = cpu_seconds();
	rc = pub_run(&o, tpl, (size_t)ntpl, &rep, progress, &st, 250, err,
		     sizeof(err));
	if (st.tty && !st.quiet)
		fputs("\r\033[K", stderr);
	if (rc == ABYSS_EINVAL) {
		cli_error(CMD, "%s", err);
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	if (rc && rc != ABYSS_ETOOBIG) {
		cli_error(CMD, "%s", err);
		ret = CLI_EXIT_INTERNAL;
		if (rep.holes_sent == 0)
			goto out;
	}
	if (st.json)
		print_json(&o, &rep, (size_t)ntpl, rc, cpu_seconds() - cpu0);
	else
		print_text(&o, &rep, (size_t)ntpl, cpu_seconds() - cpu0);
	if (rc)
		ret =
		    rc == ABYSS_ETOOBIG ? CLI_EXIT_FAILURES : CLI_EXIT_INTERNAL;
	else if ((o.wait_results || o.echo) && rep.missing)
		ret = CLI_EXIT_FAILURES;
	else
		ret = CLI_EXIT_OK;
	if (rc == ABYSS_ETOOBIG)
		cli_error(CMD, "stopped at %llu holes (the record limit)",
			  (unsigned long long)rep.holes_sent);
out:
	for (i = 0; i < ntpl; i++)
		pub_template_free(&tpl[i]);
	free(tpl);
	abyss_config_free(cfg);
	return ret;

usage_err:
	cli_paths_free(&paths);
	return CLI_EXIT_USAGE;
}
