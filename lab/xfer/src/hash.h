/* SHA-256 of a byte stream, through libcrypto (which uses the CPU's SHA
 * instructions where present, so hashing stays off the critical path). */
#ifndef XFER_HASH_H
#define XFER_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_LEN 32
#define HASH_HEX_LEN (2 * HASH_LEN + 1)

struct hash {
	void *ctx; /* EVP_MD_CTX, kept opaque so callers need no OpenSSL headers */
};

/* Returns 0, or -1 if libcrypto could not set up SHA-256. */
int hash_init(struct hash *h);
void hash_update(struct hash *h, const void *buf, size_t n);
void hash_final(struct hash *h, uint8_t out[HASH_LEN]);
/* Frees the context whether or not hash_final was called. */
void hash_free(struct hash *h);
/* OpenSSL 3 loads its providers on first use (milliseconds): do it before
 * the first connect() so it is not counted in any flow completion time. */
void hash_warmup(void);
void hash_hex(const uint8_t digest[HASH_LEN], char out[HASH_HEX_LEN]);

#endif
