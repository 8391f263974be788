/*
 * fuzz_config.c - libFuzzer target for the service configuration loader
 * (libyaml key scan, libcyaml schema load, defaults and validation).
 *
 * The replay and fuzz builds link only libabyss, so the service sources
 * are compiled in here; they need -lcyaml -lyaml -lsqlite3 (see
 * src/service/module.mk for the replay binary).
 */
#include <stddef.h>
#include <stdint.h>

#include "service/config.c"
#include "service/correlator.c"
#include "service/spool.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abyss_config *cfg = NULL, def;
	struct abyss_config_warnings w;
	struct abyss_config_changes ch;
	struct abyss_corr_config cc;
	struct abyss_spool_limits sl;
	struct abyss_diag d;
	char topic[1200], msg[1200];

	abyss_diag_init(&d);
	if (abyss_config_load_buffer((const char *)data, size, "fuzz", &cfg, &d,
				     &w) != 0) {
		abyss_diag_format(&d, msg, sizeof(msg));
		return 0;
	}
	abyss_config_defaults(&def);
	abyss_config_compare(&def, cfg, &ch);
	abyss_config_to_corr(cfg, &cc);
	abyss_config_to_spool(cfg, &sl);
	abyss_config_topic_pattern(cfg, cfg->mqtt.listener.trace, topic,
				   sizeof(topic));
	abyss_config_free(cfg);
	return 0;
}
