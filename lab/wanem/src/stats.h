/* The stats file: JSON with one object per direction. */
#ifndef WANEM_STATS_H
#define WANEM_STATS_H

#include <stdint.h>

#include "forwarder.h"

/* Writes atomically (temp file + rename): readers never see half a file.
 * Returns 0, or -1 with errno set. */
int stats_write(const char *path, struct forwarder *a2b, struct forwarder *b2a, uint64_t seed);

#endif
