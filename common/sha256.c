/* common/sha256.c — see sha256.h: a thin wrapper over libcrypto's EVP. */
#include "common/sha256.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct pw_sha256 {
    EVP_MD_CTX *ctx;
};

struct pw_sha256 *pw_sha256_new(void)
{
    struct pw_sha256 *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        pw_sha256_free(h);
        return NULL;
    }
    return h;
}

void pw_sha256_update(struct pw_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void pw_sha256_final(struct pw_sha256 *h, uint8_t out[PW_SHA256_LEN])
{
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, out, &n);
    EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
}

void pw_sha256_free(struct pw_sha256 *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

int pw_sha256(const void *data, size_t len, uint8_t out[PW_SHA256_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

void pw_sha256_hex(const uint8_t d[PW_SHA256_LEN], char out[PW_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < PW_SHA256_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[PW_SHA256_HEX_LEN] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int pw_sha256_from_hex(const char *hex, uint8_t out[PW_SHA256_LEN])
{
    if (strlen(hex) != PW_SHA256_HEX_LEN)
        return -1;
    for (int i = 0; i < PW_SHA256_LEN; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
