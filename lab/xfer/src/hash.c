#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>

int hash_init(struct hash *h)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	h->ctx = ctx;
	return 0;
}

void hash_update(struct hash *h, const void *buf, size_t n)
{
	if (n > 0)
		EVP_DigestUpdate(h->ctx, buf, n);
}

void hash_final(struct hash *h, uint8_t out[HASH_LEN])
{
	unsigned len = HASH_LEN;
	EVP_DigestFinal_ex(h->ctx, out, &len);
}

void hash_free(struct hash *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void hash_hex(const uint8_t digest[HASH_LEN], char out[HASH_HEX_LEN])
{
	for (int i = 0; i < HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

void hash_warmup(void)
{
	struct hash h;
	uint8_t out[HASH_LEN];
	if (hash_init(&h) < 0)
		return;
	hash_update(&h, "", 1);
	hash_final(&h, out);
	hash_free(&h);
}
