/*
 * abyss/service.h - the real-time service's pure core in one include:
 * configuration (config.h), Result/Trace/Heads correlation (correlator.h),
 * the publish spool (spool.h) and the published payloads (payload.h).
 * These are linked into the abyss binary, not into libabyss (the daemon
 * needs libcyaml, libyaml and SQLite; the library does not).
 */
#ifndef ABYSS_SERVICE_H
#define ABYSS_SERVICE_H

#include "abyss/config.h"
#include "abyss/correlator.h"
#include "abyss/payload.h"
#include "abyss/spool.h"

#endif
