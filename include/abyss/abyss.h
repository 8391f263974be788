/*
 * abyss/abyss.h - the whole public library API in one include.
 * Link with `pkg-config --libs abyss`.
 */
#ifndef ABYSS_ABYSS_H
#define ABYSS_ABYSS_H

#include "abyss/error.h"
#include "abyss/version.h"
#include "abyss/hole.h"
#include "abyss/setitec.h"
#include "abyss/message.h"
#include "abyss/hole_io.h"
#include "abyss/load.h"
#include "abyss/depth.h"
#include "abyss/compat.h"
#include "abyss/gradient.h"
#include "abyss/sim.h"
#include "abyss/safetensors.h"
#include "abyss/nn.h"

#endif
