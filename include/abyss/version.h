/* abyss/version.h - the library version (also AlgoVersion on MQTT). */
#ifndef ABYSS_VERSION_H
#define ABYSS_VERSION_H

#define ABYSS_VERSION_MAJOR 0
#define ABYSS_VERSION_MINOR 1
#define ABYSS_VERSION_PATCH 0
#define ABYSS_VERSION	    "0.1.0"

/* Returns ABYSS_VERSION of the library actually linked. */
const char *abyss_version(void);

#endif
