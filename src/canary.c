/* Canaries derived from a secret (canary.h). */
#include "pilemix/canary.h"

#include "pilemix/buf.h"
#include "pilemix/mix.h"

#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* 30 onsets x 9 nuclei x 9 codas: 2430 syllables, 11.2 bits each. */
static const char *const onsets[] = {"b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",  "m",
                                     "n",  "p",  "r",  "s",  "t",  "v",  "w",  "z",  "br", "ch",
                                     "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "st", "tr"};
static const char *const nuclei[] = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "io"};
static const char *const codas[] = {"", "n", "r", "s", "l", "m", "x", "nd", "st"};

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define CANARY_WORDS 60

/* Counter-mode draws from one purpose seed. */
typedef struct draw {
    uint64_t seed;
    uint32_t index;
    uint32_t counter;
} draw_t;

static uint64_t next(draw_t *d)
{
    unsigned char b[8];
    for (int i = 0; i < 4; i++) {
        b[i] = (unsigned char)(d->index >> (8 * i));
        b[4 + i] = (unsigned char)(d->counter >> (8 * i));
    }
    d->counter++;
    return XXH3_64bits_withSeed(b, sizeof b, d->seed);
}

static uint64_t purpose(const char *secret, const char *tag)
{
    return XXH3_64bits_withSeed(secret, strlen(secret), XXH3_64bits(tag, strlen(tag)));
}

static int make_text(pm_canary_t *c, uint64_t seed, pm_error_t *err)
{
    draw_t d = {seed, c->index, 0};
    pm_buf_t b;
    pm_buf_init(&b);
    int rc = 0;
    unsigned in_sentence = 0, sentence_len = 0;
    for (unsigned w = 0; w < CANARY_WORDS && rc == 0; w++) {
        if (in_sentence == 0)
            sentence_len = 6 + (unsigned)pm_mulhi(next(&d), 9);
        if (w)
            rc = pm_buf_append_char(&b, ' ');
        unsigned syll = 1 + (unsigned)pm_mulhi(next(&d), 3);
        for (unsigned s = 0; s < syll && rc == 0; s++) {
            uint64_t r = next(&d);
            const char *on = onsets[pm_mulhi(r, N_OF(onsets))];
            const char *nu = nuclei[pm_mulhi(r * 0x9E3779B97F4A7C15ull, N_OF(nuclei))];
            const char *co = codas[pm_mulhi(next(&d), N_OF(codas))];
            size_t at = b.len;
            rc = pm_buf_append_str(&b, on);
            rc = rc ? rc : pm_buf_append_str(&b, nu);
            rc = rc ? rc : pm_buf_append_str(&b, co);
            if (rc == 0 && in_sentence == 0 && s == 0)
                b.data[at] = (char)(b.data[at] - 'a' + 'A');
        }
        if (++in_sentence == sentence_len || w + 1 == CANARY_WORDS) {
            rc = rc ? rc : pm_buf_append_char(&b, '.');
            in_sentence = 0;
        }
    }
    if (rc < 0) {
        pm_buf_free(&b);
        return pm_error_nomem(err);
    }
    c->text = b.data;
    c->len = b.len;
    XXH128_canonical_t h;
    XXH128_canonicalFromHash(&h, XXH3_128bits(c->text, c->len));
    memcpy(c->xxh128, h.digest, 16);
    return 0;
}

static int by_key(const void *a, const void *b)
{
    const pm_canary_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

int pm_canaries_derive(pm_canaries_t *out, const char *secret, uint32_t count, size_t n_components,
                       pm_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (count == 0)
        return 0;
    if (!(out->v = calloc(count, sizeof *out->v)))
        return pm_error_nomem(err);
    out->n = count;
    uint64_t s_text = purpose(secret, "pilemix/canary-text");
    uint64_t s_key = purpose(secret, "pilemix/canary-key");
    uint64_t s_comp = purpose(secret, "pilemix/canary-component");
    for (uint32_t i = 0; i < count; i++) {
        pm_canary_t *c = &out->v[i];
        c->index = i;
        draw_t dk = {s_key, i, 0}, dc = {s_comp, i, 0};
        c->key = next(&dk);
        c->component = (uint32_t)pm_mulhi(next(&dc), n_components);
        int rc = make_text(c, s_text, err);
        if (rc < 0) {
            pm_canaries_free(out);
            return rc;
        }
    }
    qsort(out->v, out->n, sizeof *out->v, by_key);
    return 0;
}

void pm_canaries_free(pm_canaries_t *c)
{
    for (size_t i = 0; c->v && i < c->n; i++)
        free(c->v[i].text);
    free(c->v);
    memset(c, 0, sizeof *c);
}

void pm_canaries_range(const pm_canaries_t *c, uint64_t lo, uint64_t hi, size_t *first,
                       size_t *count)
{
    size_t a = 0, b = c->n;
    while (a < b) { /* first with key >= lo */
        size_t m = a + (b - a) / 2;
        if (c->v[m].key < lo)
            a = m + 1;
        else
            b = m;
    }
    size_t e = a;
    while (e < c->n && c->v[e].key <= hi)
        e++;
    *first = a;
    *count = e - a;
}
