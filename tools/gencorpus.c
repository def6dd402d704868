/* pilemix-gencorpus: write a synthetic, Pile-like lm_dataformat corpus.
 *
 * The corpus is for demos, tests and benchmarks: several components, each a
 * directory of `.jsonl.zst` and `.jsonl` files, one JSON object per line
 * ({"text": ..., "meta": {...}}). The output is a pure function of the
 * arguments (same arguments -> same bytes), so benchmark corpora can be
 * regenerated anywhere instead of being copied around.
 *
 * What it exercises on purpose:
 *   - text compressing roughly like real text: words from Zipf-distributed
 *     per-language vocabularies with per-document "topic" words (burstiness);
 *   - multilingual UTF-8, emoji (ZWJ sequences, flags, modifiers), combining
 *     marks, characters needing JSON escapes, raw DEL/C1/U+2028 (legal raw in
 *     JSON, but the pilemix writer must escape them), \u escapes including
 *     surrogate pairs, rare \u0000;
 *   - "text" as a list of strings (lm_dataformat joins it with "\n\n");
 *   - exact duplicate texts within and across components (possibly written
 *     once as a string and once as a list), and tiny 1-10 byte texts, so that
 *     holdout deduplication has work to do;
 *   - varied meta: nested objects, arrays, numbers as written (big integers,
 *     exponents), unicode and escaped keys, absent / null / empty meta, and a
 *     pre-existing "pile_set_name" (top level and nested);
 *   - multi-frame zstd files, with frame boundaries both between lines and
 *     in the middle of a line;
 *   - a component with a subdirectory (recursive directory expansion).
 * Bad records (invalid JSON, broken UTF-8, ...) are not generated: those are
 * tested with small fixtures where the expected error is known.
 *
 * Speed matters (multi-GB benchmark corpora): text is assembled from
 * pre-escaped word tables with one xoshiro256** draw per word and alias-method
 * sampling; no per-character work happens in the hot loop. */

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

/* ------------------------------------------------------------------------ */
/* Small helpers: dying (this is a CLI), growable buffer                      */

static void die(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("pilemix-gencorpus: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

typedef struct {
    char *p;
    size_t len, cap;
} obuf_t;

static void ob_reserve(obuf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

/* The hot path reserves once per sentence and then appends without checks. */
static inline void ob_put_unchecked(obuf_t *b, const char *s, size_t n)
{
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void ob_put(obuf_t *b, const char *s, size_t n)
{
    ob_reserve(b, n);
    ob_put_unchecked(b, s, n);
}

static void ob_puts(obuf_t *b, const char *s) { ob_put(b, s, strlen(s)); }

static void ob_printf(obuf_t *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void ob_printf(obuf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp)
        die("internal: formatted meta field too long");
    ob_put(b, tmp, (size_t)n);
}

/* ------------------------------------------------------------------------ */
/* PRNG: splitmix64 for seeding, xoshiro256** for streams                    */

typedef struct {
    uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n) by multiply-high on 32 bits (n < 2^32; bias negligible). */
static inline uint32_t rng_below(rng_t *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static inline double rng_unit(rng_t *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* True with probability p. */
static inline bool rng_chance(rng_t *r, double p) { return rng_unit(r) < p; }

static double rng_normal(rng_t *r)
{
    double u1 = rng_unit(r), u2 = rng_unit(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* A seed for a sub-stream, so that adding draws to one stream never shifts
 * another (e.g. the text of a duplicate must not depend on its meta). */
static uint64_t derive(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t x = seed ^ (a * 0xd1342543de82ef95ULL) ^ (b * 0x9e3779b97f4a7c15ULL);
    splitmix64(&x);
    return splitmix64(&x);
}

/* ------------------------------------------------------------------------ */
/* Word tables                                                               */

/* Every entry is stored in its JSON string form (already escaped, without
 * quotes) next to the length of the raw text it decodes to. One arena holds
 * all strings; entries refer to it by offset because it grows while tables
 * are built. */
#define WORD_COPY 32
static char *arena;
static size_t arena_len, arena_cap;

typedef struct {
    uint32_t off;
    uint16_t json_len;
    uint16_t raw_len;
} word_t;

/* Alias slot i: take `keep` when the low 32 bits of the draw are < prob, else
 * `alt`. The words are copied in so a draw touches one slot, not three arrays. */
struct slot {
    uint32_t prob;
    word_t keep, alt;
};

typedef struct {
    word_t *w;
    uint32_t n, cap;
    struct slot *slot; /* alias method, one cache line visit per draw */
    double *weight;    /* build time only */
} table_t;

/* Decoded length of a JSON string body (the escapes we use are well-formed). */
static size_t json_raw_len(const char *s, size_t n)
{
    size_t raw = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            raw++;
            continue;
        }
        i++;
        if (i >= n)
            die("internal: dangling escape in word table");
        if (s[i] != 'u') {
            raw++;
            continue;
        }
        if (i + 4 >= n)
            die("internal: short \\u escape in word table");
        unsigned cp =
            (unsigned)strtoul((char[]){s[i + 1], s[i + 2], s[i + 3], s[i + 4], 0}, NULL, 16);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* a high surrogate: the pair that follows decodes to 4 bytes */
            i += 6;
            raw += 4;
        } else {
            raw += cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3;
        }
    }
    return raw;
}

static void table_add(table_t *t, const char *json, size_t json_len, double weight)
{
    if (json_len == 0 || json_len > 1000)
        die("internal: bad word table entry");
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->w = xrealloc(t->w, t->cap * sizeof *t->w);
        t->weight = xrealloc(t->weight, t->cap * sizeof *t->weight);
    }
    /* WORD_COPY spare bytes at the end: put_word() copies in fixed blocks. */
    if (arena_len + json_len + WORD_COPY > arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 1 << 20;
        while (arena_len + json_len + WORD_COPY > arena_cap)
            arena_cap *= 2;
        arena = xrealloc(arena, arena_cap);
    }
    memcpy(arena + arena_len, json, json_len);
    t->w[t->n] =
        (word_t){(uint32_t)arena_len, (uint16_t)json_len, (uint16_t)json_raw_len(json, json_len)};
    t->weight[t->n] = weight;
    t->n++;
    arena_len += json_len;
}

static void table_add_str(table_t *t, const char *json, double weight)
{
    table_add(t, json, strlen(json), weight);
}

/* Vose's alias method: O(1) sampling from an arbitrary discrete distribution. */
static void table_finish(table_t *t)
{
    uint32_t n = t->n;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += t->weight[i];
    double *p = xmalloc(n * sizeof *p);
    uint32_t *small = xmalloc(n * sizeof *small), *large = xmalloc(n * sizeof *large);
    uint32_t ns = 0, nl = 0;
    uint32_t *prob = xmalloc(n * sizeof *prob), *alias = xmalloc(n * sizeof *alias);
    for (uint32_t i = 0; i < n; i++) {
        p[i] = t->weight[i] * n / sum;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[--nl];
        prob[s] = (uint32_t)(p[s] * 4294967296.0);
        alias[s] = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    while (nl) {
        uint32_t l = large[--nl];
        prob[l] = UINT32_MAX;
        alias[l] = l;
    }
    while (ns) { /* only rounding leftovers */
        uint32_t s = small[--ns];
        prob[s] = UINT32_MAX;
        alias[s] = s;
    }
    t->slot = xmalloc(n * sizeof *t->slot);
    for (uint32_t i = 0; i < n; i++)
        t->slot[i] = (struct slot){prob[i], t->w[i], t->w[alias[i]]};
    free(prob);
    free(alias);
    free(p);
    free(small);
    free(large);
    free(t->weight);
    t->weight = NULL;
}

static void table_free(table_t *t)
{
    free(t->w);
    free(t->slot);
    free(t->weight);
    memset(t, 0, sizeof *t);
}

/* Appends a word. Fixed-size block copies compile to a couple of vector
 * moves, where a variable-length memcpy is a libc call: this is most of the
 * generator's time. The caller reserved len + WORD_COPY bytes. */
static inline void put_word(obuf_t *b, const word_t *w)
{
    char *d = b->p + b->len;
    const char *s = arena + w->off;
    for (size_t done = 0; done < w->json_len; done += WORD_COPY)
        memcpy(d + done, s + done, WORD_COPY);
    b->len += w->json_len;
}

static inline const word_t *table_draw(const table_t *t, uint64_t r)
{
    const struct slot *sl = &t->slot[((r >> 32) * t->n) >> 32];
    return (uint32_t)r < sl->prob ? &sl->keep : &sl->alt;
}

/* Zipf-Mandelbrot weight of rank r: what makes the text compress like text. */
static double zipf(uint32_t rank) { return 1.0 / pow(rank + 2.7, 1.07); }

/* ------------------------------------------------------------------------ */
/* Languages                                                                  */

typedef enum {
    LANG_EN,
    LANG_EU,
    LANG_RU,
    LANG_EL,
    LANG_ZH,
    LANG_AR,
    LANG_HI,
    LANG_CODE,
    LANG_COUNT
} lang_id_t;

/* clang-format off */
static const char *const lang_codes[LANG_COUNT] = {"en", "de", "ru", "el", "zh", "ar", "hi", "c"};

typedef struct {
    table_t words;
    const char *sep;              /* between words ("" for CJK) */
    const char *comma;            /* appended to a word now and then */
    const char *const *enders;    /* sentence ends */
    int n_enders;
} lang_t;

static lang_t langs[LANG_COUNT];
static table_t specials; /* emoji, escapes, controls, other scripts: sprinkled into any text */

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const char *const en_top[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with",
    "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at", "which",
    "but", "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can",
    "her", "has", "there", "been", "if", "more", "when", "will", "would", "who", "so", "no",
    "She", "The", "In", "It", "data", "time", "new", "first", "also", "other", "some",
    "these", "may", "into", "its", "only", "two", "after", "such", "most", "used", "than"};
static const char *const en_on[] = {"", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m",
                                    "n", "p", "r", "s", "t", "v", "w", "st", "tr", "pr",
                                    "ch", "sh", "th", "bl", "gr", "cl", "str", "sp"};
static const char *const en_vo[] = {"a", "e", "i", "o", "u", "ea", "ou", "io", "ai", "ee", "y"};
static const char *const en_co[] = {"", "", "", "n", "r", "s", "t", "l", "nd", "st", "ng",
                                    "ck", "m", "ght", "tion", "ss"};

static const char *const eu_top[] = {"der", "die", "und", "la", "le", "de", "et", "el", "que",
                                     "à", "für", "über", "très", "où", "año", "ça", "être"};
static const char *const eu_on[] = {"", "b", "d", "f", "g", "k", "l", "m", "n", "p", "r",
                                    "s", "t", "v", "w", "z", "sch", "ch", "qu", "br", "pl"};
static const char *const eu_vo[] = {"a", "e", "é", "è", "ê", "i", "o", "ö", "ü", "u",
                                    "ä", "au", "ei", "ô", "í", "á", "ó", "ñe", "ç", "ie"};
static const char *const eu_co[] = {"", "", "n", "r", "s", "ß", "t", "nt", "ch", "ng", "x", "z"};

static const char *const ru_top[] = {"и", "в", "не", "на", "что", "я", "с", "он", "это", "как"};
static const char *const ru_on[] = {"", "б", "в", "г", "д", "ж", "з", "к", "л", "м", "н",
                                    "п", "р", "с", "т", "ф", "х", "ц", "ч", "ш", "щ", "пр", "ст"};
static const char *const ru_vo[] = {"а", "е", "ё", "и", "о", "у", "ы", "э", "ю", "я"};
static const char *const ru_co[] = {"", "", "й", "н", "р", "ст", "ь", "л", "т", "вь"};

static const char *const el_top[] = {"και", "το", "η", "ο", "να", "της", "του", "σε"};
static const char *const el_on[] = {"", "β", "γ", "δ", "ζ", "θ", "κ", "λ", "μ", "ν",
                                    "ξ", "π", "ρ", "σ", "τ", "φ", "χ", "ψ", "στ"};
static const char *const el_vo[] = {"α", "ε", "η", "ι", "ο", "υ", "ω", "ά", "έ",
                                    "ή", "ί", "ό", "ύ", "ώ", "ϊ", "ΐ"};
static const char *const el_co[] = {"", "", "ς", "ν", "ρ", "ς"};

/* Arabic with occasional harakat (combining marks). */
static const char *const ar_top[] = {"في", "من", "على", "أن", "إلى", "عن", "هذا", "التي"};
static const char *const ar_on[] = {"ب", "ت", "ث", "ج", "ح", "خ", "د", "ذ", "ر", "ز", "س", "ش",
                                    "ص", "ض", "ط", "ظ", "ع", "غ", "ف", "ق", "ك", "ل", "م", "ن",
                                    "ه", "و", "ي", "ال"};
static const char *const ar_vo[] = {"ا", "و", "ي", "", "", "َ", "ُ", "ِ", "ّ"};
static const char *const ar_co[] = {"", "", "ة", "ن", "ت", "ْ"};

/* Devanagari: consonants with dependent vowel signs and virama (combining). */
static const char *const hi_top[] = {"के", "है", "में", "की", "और", "से", "का", "को"};
static const char *const hi_on[] = {"क", "ख", "ग", "घ", "च", "ज", "ट", "ड", "त", "द", "न", "प",
                                    "ब", "म", "य", "र", "ल", "व", "स", "ह", "श", "क्ष"};
static const char *const hi_vo[] = {"", "", "ा", "ि", "ी", "ु", "ू", "े", "ै", "ो", "ं", "ृ"};
static const char *const hi_co[] = {"", "", "", "्", "ं", "ः"};

static const char *const latin_enders[] = {".", ".", ".", ".", "?", "!", ":", ";", "..."};
static const char *const zh_enders[] = {"。", "。", "。", "！", "？", "；"};
static const char *const ar_enders[] = {".", ".", "؟", "!"};
static const char *const hi_enders[] = {"।", "।", "?", "॥"};
static const char *const el_enders[] = {".", ".", ";", "!"}; /* ';' is the Greek question mark */
static const char *const code_enders[] = {";", "", "", "{", "}", ")", ":", ","};

/* Code tokens in JSON form: quotes and backslashes come out escaped. */
static const char *const code_top[] = {
    "(", ")", "=", "{", "}", "if", "return", "int", "i", "x", "self", "0", "1", "==", "+=",
    "const", "for", "char", "*", "->", "NULL", "None", "def", "import", "true", "false",
    "else", "while", "static", "void", "struct", "#include", "<stdio.h>", "//", "#", "[",
    "]", "+", "-", "&&", "||", "!=", "<=", "std::vector<int>", "printf(\\\"%s\\\\n\\\",",
    "\\\"hello, world\\\"", "'\\\\0'", "/* TODO */", "r\\\"\\\\d+\\\"", "0x1F", "sizeof",
    "nullptr", "let", "fn", "pub", "mut", "=>", "async", "await", "\\\"\\\"", "''",
    "\\\"\\\\t\\\"", "`${x}`", "@property", "lambda", "// ünïcødé ✓", "# -*- coding: utf-8 -*-"};

static void make_syllable_words(table_t *t, rng_t *r, const char *const *top, size_t n_top,
                                const char *const *on, size_t n_on, const char *const *vo,
                                size_t n_vo, const char *const *co, size_t n_co, uint32_t n_words,
                                bool capitalize_some)
{
    uint32_t rank = 0;
    for (size_t i = 0; i < n_top; i++)
        table_add_str(t, top[i], zipf(rank++));
    char w[256];
    for (uint32_t k = 0; k < n_words; k++) {
        /* Zipf's law of abbreviation: frequent words are short. */
        int syl = 1 + (int)(3.0 * k / n_words) + (int)rng_below(r, 2);
        size_t len = 0;
        for (int s = 0; s < syl; s++) {
            const char *parts[3] = {on[rng_below(r, (uint32_t)n_on)],
                                    vo[rng_below(r, (uint32_t)n_vo)],
                                    s == syl - 1 ? co[rng_below(r, (uint32_t)n_co)] : ""};
            for (int p = 0; p < 3; p++) {
                size_t pl = strlen(parts[p]);
                memcpy(w + len, parts[p], pl);
                len += pl;
            }
        }
        if (len == 0)
            w[len++] = 'o';
        if (capitalize_some && w[0] >= 'a' && w[0] <= 'z' && rng_chance(r, 0.08))
            w[0] = (char)(w[0] - 'a' + 'A');
        table_add(t, w, len, zipf(rank++));
    }
}

static void put_utf8(char *out, size_t *len, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*len)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*len)++] = (char)(0xC0 | (cp >> 6));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*len)++] = (char)(0xE0 | (cp >> 12));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*len)++] = (char)(0xF0 | (cp >> 18));
        out[(*len)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*len)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*len)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Specials, in JSON form. The weights keep the odd ones rare. */
static const struct {
    const char *json;
    double weight;
} special_list[] = {
    /* quotes and backslashes */
    {"\\\"quoted\\\"", 8}, {"«guillemets»", 3}, {"„Anführung“", 2}, {"'single'", 3},
    {"C:\\\\Users\\\\docs\\\\file.txt", 3}, {"a\\\\nb", 2}, {"\\\\", 2},
    /* tabs, CR, escapes of all short forms */
    {"\\t", 6}, {"col1\\tcol2\\tcol3", 3}, {"\\r", 1}, {"\\b", 0.3}, {"\\f", 0.3},
    {"http:\\/\\/example.org\\/a?b=c&d=e", 2},
    /* rare controls: escaped, and raw where JSON allows it (DEL, C1, U+2028) */
    {"\\u0001", 0.5}, {"x\\u001fy", 0.3}, {"\\u0000", 0.05}, {"\x7f", 0.5}, {"\\u007f", 0.3},
    {"\xc2\x85", 0.5}, {"\\u0085", 0.3}, {"\xc2\x9f", 0.2}, {"\xe2\x80\xa8", 0.5},
    {"\\u2028", 0.3}, {"\\u2029", 0.3},
    /* \u escapes of ordinary characters, surrogate pairs, upper-case hex */
    {"\\u00e9t\\u00e9", 2}, {"\\ud83d\\ude00", 1}, {"\\uD83C\\uDDEB\\uD83C\\uDDF7", 1},
    {"\\u4e2d\\u6587", 1}, {"caf\\u00E9", 1},
    /* emoji: plain, modifiers, ZWJ sequences, flags, keycaps, VS16 */
    {"😀", 4}, {"🎉", 3}, {"👍🏽", 2}, {"👨‍👩‍👧‍👦", 2}, {"🏳️‍🌈", 1}, {"👩🏾‍💻", 1},
    {"🇩🇪", 2}, {"🇯🇵", 2}, {"🇧🇷", 1}, {"❤️", 2}, {"1️⃣", 1}, {"🫠", 1},
    /* combining marks, other scripts, odd but valid code points */
    {"e\xcc\x81", 3}, {"n\xcc\x83o", 2}, {"Z\xcd\xa4\xcc\x91" "a\xcc\x88\xcd\x96l\xcd\xaeg\xcc\x8co", 1},
    {"한국어", 2}, {"日本語のテキスト", 2}, {"ภาษาไทย", 1}, {"עברית", 1}, {"𝔘𝔫𝔦𝔠𝔬𝔡𝔢", 1},
    {"∑∫√∞≠", 1}, {"a\xc2\xa0" "b", 2}, {"soft\xc2\xadhyphen", 1}, {"zero\xe2\x80\x8bwidth", 1},
    {"\xef\xbb\xbf", 0.3}, {"\xef\xbf\xbd", 0.5}, {"\xef\xbf\xbf", 0.2}, {"\xee\x80\x80", 0.2},
    {"½ ¾ ©®™", 1}, {"Ελληνικά", 1}, {"Русский", 1},
};

/* Tiny texts (1-10 raw bytes). They repeat a lot, which is realistic and
 * gives the holdout deduplication something to do. */
static const char *const tiny_texts[] = {
    "a", "OK", "ok.", "Yes", "no", "42", "é", "ß", "🙂", "👍🏽", "日本", "Hi!", "\\t-", " ", "\\n",
    "..", "\\\"x\\\"", "\\\\", "x\\u0001", "Ω", "тест", "N/A", "[deleted]", "🇫🇷", "e\xcc\x81"};
/* clang-format on */

static void build_tables(void)
{
    rng_t r;
    /* Fixed seed: the vocabulary is the same for every --seed. */
    rng_seed(&r, 0x70696c656d6978ULL);
    struct {
        lang_id_t id;
        const char *const *top, *const *on, *const *vo, *const *co;
        size_t n_top, n_on, n_vo, n_co;
        uint32_t n_words;
        const char *sep;
        const char *comma;
        const char *const *enders;
        int n_enders;
    } specs[] = {
#define L(a) a, N_ELEMS(a)
        {LANG_EN, en_top, en_on, en_vo, en_co, N_ELEMS(en_top), N_ELEMS(en_on), N_ELEMS(en_vo),
         N_ELEMS(en_co), 24000, " ", ",", L(latin_enders)},
        {LANG_EU, eu_top, eu_on, eu_vo, eu_co, N_ELEMS(eu_top), N_ELEMS(eu_on), N_ELEMS(eu_vo),
         N_ELEMS(eu_co), 12000, " ", ",", L(latin_enders)},
        {LANG_RU, ru_top, ru_on, ru_vo, ru_co, N_ELEMS(ru_top), N_ELEMS(ru_on), N_ELEMS(ru_vo),
         N_ELEMS(ru_co), 12000, " ", ",", L(latin_enders)},
        {LANG_EL, el_top, el_on, el_vo, el_co, N_ELEMS(el_top), N_ELEMS(el_on), N_ELEMS(el_vo),
         N_ELEMS(el_co), 8000, " ", ",", L(el_enders)},
        {LANG_AR, ar_top, ar_on, ar_vo, ar_co, N_ELEMS(ar_top), N_ELEMS(ar_on), N_ELEMS(ar_vo),
         N_ELEMS(ar_co), 8000, " ", "،", L(ar_enders)},
        {LANG_HI, hi_top, hi_on, hi_vo, hi_co, N_ELEMS(hi_top), N_ELEMS(hi_on), N_ELEMS(hi_vo),
         N_ELEMS(hi_co), 8000, " ", ",", L(hi_enders)},
#undef L
    };
    for (size_t i = 0; i < N_ELEMS(specs); i++) {
        lang_t *l = &langs[specs[i].id];
        make_syllable_words(&l->words, &r, specs[i].top, specs[i].n_top, specs[i].on, specs[i].n_on,
                            specs[i].vo, specs[i].n_vo, specs[i].co, specs[i].n_co,
                            specs[i].n_words, specs[i].id == LANG_EN);
        l->sep = specs[i].sep;
        l->comma = specs[i].comma;
        l->enders = specs[i].enders;
        l->n_enders = specs[i].n_enders;
    }

    /* Chinese: words of one or two Han characters, no spaces. */
    {
        lang_t *l = &langs[LANG_ZH];
        uint32_t chars[3000];
        for (size_t i = 0; i < N_ELEMS(chars); i++)
            chars[i] = 0x4E00 + rng_below(&r, 0x9FA5 - 0x4E00);
        table_add_str(&l->words, "的", zipf(0));
        table_add_str(&l->words, "是", zipf(1));
        table_add_str(&l->words, "，", zipf(2));
        for (uint32_t k = 0; k < 10000; k++) {
            char w[16];
            size_t len = 0;
            int n = k < 1500 ? 1 : 2;
            for (int c = 0; c < n; c++)
                put_utf8(w, &len, chars[rng_below(&r, k < 1500 ? 600 : (uint32_t)N_ELEMS(chars))]);
            table_add(&l->words, w, len, zipf(k + 3));
        }
        l->sep = "";
        l->comma = "、";
        l->enders = zh_enders;
        l->n_enders = (int)N_ELEMS(zh_enders);
    }

    /* Code: fixed tokens, then snake_case / camelCase identifiers. */
    {
        lang_t *l = &langs[LANG_CODE];
        uint32_t rank = 0;
        for (size_t i = 0; i < N_ELEMS(code_top); i++)
            table_add_str(&l->words, code_top[i], zipf(rank++));
        const table_t *en = &langs[LANG_EN].words;
        for (uint32_t k = 0; k < 6000; k++) {
            char w[300];
            const word_t *a = &en->w[N_ELEMS(en_top) + rng_below(&r, 3000)];
            const word_t *b = &en->w[N_ELEMS(en_top) + rng_below(&r, 6000)];
            size_t len = 0;
            memcpy(w + len, arena + a->off, a->json_len);
            len += a->json_len;
            w[len++] = k % 3 ? '_' : '.';
            memcpy(w + len, arena + b->off, b->json_len);
            len += b->json_len;
            if (k % 4 == 0) {
                memcpy(w + len, "()", 2);
                len += 2;
            }
            table_add(&l->words, w, len, zipf(rank++));
        }
        l->sep = " ";
        l->comma = ",";
        l->enders = code_enders;
        l->n_enders = (int)N_ELEMS(code_enders);
    }

    for (int i = 0; i < LANG_COUNT; i++)
        table_finish(&langs[i].words);
    for (size_t i = 0; i < N_ELEMS(special_list); i++)
        table_add_str(&specials, special_list[i].json, special_list[i].weight);
    table_finish(&specials);
}

static void free_tables(void)
{
    for (int i = 0; i < LANG_COUNT; i++)
        table_free(&langs[i].words);
    table_free(&specials);
    free(arena);
    arena = NULL;
}

/* ------------------------------------------------------------------------ */
/* Documents                                                                 */

typedef enum { STYLE_WEB, STYLE_WIKI, STYLE_BOOK, STYLE_PAPER, STYLE_CODE } style_t;

/* Everything the text of a document is a function of: duplicates are made by
 * emitting the same spec twice. */
typedef struct {
    uint64_t seed;
    uint32_t target; /* raw text bytes (generation stops at the first boundary past it) */
    uint8_t lang;
    uint8_t style;
    int8_t tiny; /* index into tiny_texts, or -1 */
} docspec_t;

#define TOPIC_WORDS 48
#define HISTORY 1024 /* words remembered for phrase repeats; a power of two */

/* Appends the JSON body of the text (no surrounding quotes) and returns its
 * raw length. In list mode the paragraphs become separate list elements,
 * which lm_dataformat joins with "\n\n": the text is the same either way. */
static uint64_t gen_text(const docspec_t *d, bool list_mode, obuf_t *b)
{
    if (d->tiny >= 0) {
        const char *t = tiny_texts[d->tiny];
        size_t n = strlen(t);
        ob_put(b, t, n);
        return json_raw_len(t, n);
    }

    rng_t r;
    rng_seed(&r, d->seed);
    const lang_t *L = &langs[d->lang];
    const table_t *wt = &L->words;
    const bool code = d->style == STYLE_CODE;
    const char *psep = list_mode ? "\", \"" : "\\n\\n";
    const size_t psep_len = strlen(psep);
    const size_t sep_len = strlen(L->sep), comma_len = strlen(L->comma);
    assert(sep_len <= 1);

    /* Burstiness: a document keeps coming back to its own topic words. */
    /* (Short documents need few: drawing them is a real cost at 600 bytes.) */
    const word_t *topic[TOPIC_WORDS];
    const uint32_t n_topic = d->target >= 64 * (TOPIC_WORDS - 4) ? TOPIC_WORDS : 4 + d->target / 64;
    for (uint32_t i = 0; i < n_topic; i++)
        topic[i] = &wt->w[20 + rng_below(&r, wt->n > 4000 ? 4000 : wt->n - 20)];
    const char *indent = rng_chance(&r, 0.3) ? "\\t" : "    ";
    const size_t indent_len = strlen(indent);
    const double p_special = code ? 0.004 : d->lang == LANG_EN ? 0.003 : 0.006;
    /* Per-word probabilities as 32-bit thresholds on one draw. */
    const uint32_t th_special = (uint32_t)(p_special * 4294967296.0);
    const uint32_t th_topic = th_special + (uint32_t)(0.12 * 4294967296.0);
    const uint32_t th_repeat = th_topic + (uint32_t)(0.12 * 4294967296.0);
    const uint32_t th_comma = (uint32_t)(0.07 * 4294967296.0);
    const word_t *hist[HISTORY];
    uint32_t n_hist = 0, repeat_pos = 0;
    int repeat_left = 0;

    uint64_t raw = 0;
    int depth = 0;
    bool first_para = true;
    while (raw < d->target) {
        if (!first_para) {
            ob_put(b, psep, psep_len);
            raw += 2;
        }
        first_para = false;
        int sentences = code ? 3 + (int)rng_below(&r, 20) : 1 + (int)rng_below(&r, 8);
        for (int s = 0; s < sentences && raw < d->target; s++) {
            int words = code ? 1 + (int)rng_below(&r, 10) : 3 + (int)rng_below(&r, 22);
            /* A word is at most 1000 JSON bytes (table_add), a special too. */
            ob_reserve(b, (size_t)(words + 2) * (1100 + WORD_COPY) + 64);
            if (s > 0) {
                if (code) {
                    ob_put_unchecked(b, "\\n", 2);
                    raw++;
                    for (int k = 0; k < depth; k++) {
                        ob_put_unchecked(b, indent, indent_len);
                        raw += indent_len == 2 ? 1 : indent_len;
                    }
                } else if (sep_len) {
                    b->p[b->len++] = L->sep[0];
                    raw++;
                }
            }
            for (int k = 0; k < words; k++) {
                uint64_t x = rng_next(&r);
                uint32_t pick = (uint32_t)(x >> 32);
                const word_t *w;
                if (repeat_left > 0) {
                    w = hist[repeat_pos++ & (HISTORY - 1)];
                    repeat_left--;
                } else if (pick < th_special) {
                    w = table_draw(&specials, rng_next(&r));
                } else if (pick < th_topic) {
                    w = topic[(uint32_t)x % n_topic];
                } else if (pick < th_repeat && n_hist >= 16) {
                    /* Real text repeats phrases (names, formulas, boilerplate):
                     * replay a run of recent words. */
                    uint64_t y = rng_next(&r);
                    uint32_t back = n_hist < HISTORY ? n_hist : HISTORY;
                    repeat_pos = n_hist - 1 - (uint32_t)((uint32_t)y % back);
                    repeat_left = 2 + (int)((y >> 32) % 11);
                    w = hist[repeat_pos++ & (HISTORY - 1)];
                } else {
                    w = table_draw(wt, rng_next(&r));
                }
                hist[n_hist++ & (HISTORY - 1)] = w;
                if (k > 0 && sep_len) {
                    b->p[b->len++] = L->sep[0]; /* separators are one byte or none */
                    raw++;
                }
                put_word(b, w);
                raw += w->raw_len;
                if (k + 1 < words && (uint32_t)x < th_comma) {
                    ob_put_unchecked(b, L->comma, comma_len);
                    raw += comma_len;
                }
            }
            const char *end = L->enders[rng_below(&r, (uint32_t)L->n_enders)];
            size_t end_len = strlen(end);
            ob_put_unchecked(b, end, end_len);
            raw += end_len;
            if (code) {
                if (end[0] == '{' && depth < 6)
                    depth++;
                else if (end[0] == '}' && depth > 0)
                    depth--;
            }
        }
    }
    return raw;
}

/* ------------------------------------------------------------------------ */
/* Meta                                                                      */

/* A JSON string of k words of language l, as written between quotes. */
static void put_words(obuf_t *b, rng_t *r, lang_id_t l, int k)
{
    const table_t *t = &langs[l].words;
    ob_put(b, "\"", 1);
    for (int i = 0; i < k; i++) {
        const word_t *w = table_draw(t, rng_next(r));
        if (i)
            ob_put(b, " ", 1);
        ob_put(b, arena + w->off, w->json_len);
    }
    ob_put(b, "\"", 1);
}

/* An identifier-like ASCII token (no escapes needed) for URLs, names, ids. */
static void put_ascii_word(obuf_t *b, rng_t *r)
{
    static const char *const parts[] = {"ar", "be", "co", "da", "el", "fi", "ga", "hu", "in",
                                        "jo", "ka", "lu", "mo", "ne", "or", "pa", "qu", "ri",
                                        "so", "ta", "un", "vi", "wa", "xe", "yo", "ze"};
    int n = 1 + (int)rng_below(r, 3);
    for (int i = 0; i < n; i++)
        ob_puts(b, parts[rng_below(r, (uint32_t)N_ELEMS(parts))]);
}

static void put_author(obuf_t *b, rng_t *r)
{
    ob_puts(b, "{\"last\": ");
    put_words(b, r, rng_chance(r, 0.8) ? LANG_EN : LANG_EU, 1);
    ob_printf(b, ", \"initials\": \"%c%c\"}", 'A' + (int)rng_below(r, 26),
              'A' + (int)rng_below(r, 26));
}

/* Optional extras shared by all styles: they are what makes meta handling
 * interesting (unicode keys, escaped keys, nesting, odd numbers). */
static void put_meta_extras(obuf_t *b, rng_t *r, const char *component)
{
    if (rng_chance(r, 0.05)) {
        ob_puts(b, ", \"título\": ");
        put_words(b, r, LANG_EU, 3);
    }
    if (rng_chance(r, 0.03))
        ob_printf(b, ", \"日付\": \"20%02u-%02u-%02u\"", rng_below(r, 24), 1 + rng_below(r, 12),
                  1 + rng_below(r, 28));
    if (rng_chance(r, 0.03))
        ob_printf(b, ", \"ключ\": [%u, %u, %u]", rng_below(r, 10), rng_below(r, 100),
                  rng_below(r, 1000));
    if (rng_chance(r, 0.02))
        ob_puts(b, ", \"emoji🙂\": \"✓\", \"quote\\\"key\": 1, \"back\\\\slash\": \"\\u00e9\"");
    if (rng_chance(r, 0.04))
        ob_printf(b,
                  ", \"extra\": {\"a\": [1, 2.5, {\"b\": null}], \"ok\": false, \"empty\": {}, "
                  "\"arr\": [], \"n\": %d, \"pile_set_name\": \"nested stays\"}",
                  (int)rng_below(r, 2000) - 1000);
    if (rng_chance(r, 0.03)) {
        static const char *const nums[] = {"1e-07",
                                           "-0.0",
                                           "1E+300",
                                           "18446744073709551615",
                                           "-9223372036854775808",
                                           "3.14159265358979323846",
                                           "0",
                                           "2.5e3",
                                           "-1.5E-3",
                                           "123456789012345678901234"};
        ob_printf(b, ", \"num\": %s", nums[rng_below(r, (uint32_t)N_ELEMS(nums))]);
    }
    if (rng_chance(r, 0.10)) {
        /* A pre-existing pile_set_name: the output must say the component. */
        if (rng_chance(r, 0.5))
            ob_printf(b, ", \"pile_set_name\": \"%s\"", component);
        else
            ob_puts(b, ", \"pile_set_name\": \"OpenWebText2\"");
    }
}

/* The members of a meta object for a style (without braces). */
static void put_meta_members(obuf_t *b, rng_t *r, style_t style, lang_id_t lang, uint64_t doc_index)
{
    switch (style) {
    case STYLE_WEB: {
        static const char *const tlds[] = {"com", "org", "net", "de", "ru", "co.uk", "io"};
        ob_puts(b, "\"url\": \"https://www.");
        put_ascii_word(b, r);
        ob_printf(b, ".%s/", tlds[rng_below(r, (uint32_t)N_ELEMS(tlds))]);
        put_ascii_word(b, r);
        ob_put(b, "/", 1);
        put_ascii_word(b, r);
        ob_printf(b, "-%u.html\"", rng_below(r, 100000));
        ob_printf(b, ", \"lang\": \"%s\"", lang_codes[lang]);
        ob_printf(b, ", \"timestamp\": \"20%02u-%02u-%02uT%02u:%02u:%02uZ\"", 13 + rng_below(r, 10),
                  1 + rng_below(r, 12), 1 + rng_below(r, 28), rng_below(r, 24), rng_below(r, 60),
                  rng_below(r, 60));
        ob_printf(b, ", \"quality\": 0.%04u", rng_below(r, 10000));
        if (rng_chance(r, 0.2))
            ob_printf(b,
                      ", \"warc\": {\"record_id\": \"<urn:uuid:%08x-%04x>\", \"length\": %u, "
                      "\"headers\": {\"content-type\": \"text/html; charset=utf-8\"}}",
                      (unsigned)rng_below(r, UINT32_MAX), rng_below(r, 65536),
                      rng_below(r, 1000000));
        break;
    }
    case STYLE_WIKI: {
        ob_puts(b, "\"title\": ");
        put_words(b, r, lang, 1 + (int)rng_below(r, 4));
        ob_printf(b, ", \"id\": %" PRIu64 ", \"revid\": %" PRIu64, 1000 + doc_index * 7,
                  (uint64_t)900000000 + rng_below(r, 100000000));
        ob_puts(b, ", \"categories\": [");
        int n = (int)rng_below(r, 4);
        for (int i = 0; i < n; i++) {
            if (i)
                ob_puts(b, ", ");
            put_words(b, r, lang, 2);
        }
        ob_puts(b, "]");
        break;
    }
    case STYLE_BOOK: {
        ob_puts(b, "\"title\": ");
        put_words(b, r, lang, 2 + (int)rng_below(r, 5));
        ob_puts(b, ", \"author\": ");
        put_author(b, r);
        if (rng_chance(r, 0.3))
            ob_puts(b, ", \"isbn\": null");
        else
            ob_printf(b, ", \"isbn\": \"978-%u-%05u-%03u-%u\"", rng_below(r, 10),
                      rng_below(r, 100000), rng_below(r, 1000), rng_below(r, 10));
        ob_printf(b, ", \"year\": %u, \"tags\": [", 1800 + rng_below(r, 224));
        static const char *const tags[] = {"\"fiction\"", "\"history\"",  "\"science\"",
                                           "\"poésie\"",  "\"детектив\"", "\"漫画\""};
        int n = (int)rng_below(r, 4);
        for (int i = 0; i < n; i++)
            ob_printf(b, "%s%s", i ? ", " : "", tags[rng_below(r, (uint32_t)N_ELEMS(tags))]);
        ob_puts(b, "]");
        break;
    }
    case STYLE_PAPER: {
        ob_printf(b, "\"pmid\": %" PRIu64 ", \"journal\": ", 10000000 + doc_index * 13);
        put_words(b, r, LANG_EN, 2 + (int)rng_below(r, 3));
        ob_printf(b, ", \"year\": %u, \"mesh\": [", 1960 + rng_below(r, 64));
        int n = (int)rng_below(r, 5);
        for (int i = 0; i < n; i++)
            ob_printf(b, "%s\"D%06u\"", i ? ", " : "", rng_below(r, 1000000));
        ob_puts(b, "], \"authors\": [");
        n = 1 + (int)rng_below(r, 4);
        for (int i = 0; i < n; i++) {
            if (i)
                ob_puts(b, ", ");
            put_author(b, r);
        }
        ob_printf(b, "], \"open_access\": %s", rng_chance(r, 0.4) ? "true" : "false");
        break;
    }
    case STYLE_CODE: {
        static const char *const mimes[] = {"text/x-c", "text/x-python", "text/x-rust",
                                            "application/javascript", "text/x-java"};
        static const char *const lic[] = {"\"MIT\"", "\"Apache-2.0\"", "\"GPL-3.0\"",
                                          "\"BSD-3-Clause\""};
        ob_puts(b, "\"repo_name\": \"");
        put_ascii_word(b, r);
        ob_puts(b, "/");
        put_ascii_word(b, r);
        ob_printf(b, "\", \"stars\": %u, \"file_name\": \"src/", rng_below(r, 50000));
        put_ascii_word(b, r);
        ob_printf(b, ".c\", \"mime_type\": \"%s\", \"size\": %u, \"licenses\": [%s]",
                  mimes[rng_below(r, (uint32_t)N_ELEMS(mimes))], rng_below(r, 200000),
                  rng_chance(r, 0.2) ? "" : lic[rng_below(r, (uint32_t)N_ELEMS(lic))]);
        ob_printf(b, ", \"commit\": \"%016" PRIx64 "%016" PRIx64 "%08x\"", rng_next(r), rng_next(r),
                  (unsigned)rng_below(r, UINT32_MAX));
        break;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Output sinks: plain file, or zstd with frames ending every N bytes        */

typedef struct {
    FILE *f;
    const char *path;
    ZSTD_CCtx *cctx;      /* NULL for plain .jsonl */
    uint64_t frame_limit; /* 0: one frame */
    bool split_mid_line;  /* end frames at exact byte counts, inside lines */
    uint64_t frame_pos;   /* uncompressed bytes in the current frame */
    uint64_t disk_bytes;
    uint32_t frames;
    char *zbuf;
    size_t zcap;
} sink_t;

static void sink_fwrite(sink_t *s, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, s->f) != n)
        die("%s: write failed: %s", s->path, strerror(errno));
    s->disk_bytes += n;
}

static void sink_zstd(sink_t *s, const char *p, size_t n, ZSTD_EndDirective mode)
{
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {s->zbuf, s->zcap, 0};
        size_t rem = ZSTD_compressStream2(s->cctx, &out, &in, mode);
        if (ZSTD_isError(rem))
            die("%s: zstd: %s", s->path, ZSTD_getErrorName(rem));
        sink_fwrite(s, s->zbuf, out.pos);
        if (mode == ZSTD_e_continue ? in.pos == in.size : rem == 0)
            break;
    }
}

static void sink_end_frame(sink_t *s)
{
    if (!s->cctx || s->frame_pos == 0)
        return;
    sink_zstd(s, NULL, 0, ZSTD_e_end);
    s->frames++;
    s->frame_pos = 0;
}

static void sink_write(sink_t *s, const char *p, size_t n)
{
    if (!s->cctx) {
        sink_fwrite(s, p, n);
        return;
    }
    while (s->split_mid_line && s->frame_limit && s->frame_pos + n >= s->frame_limit) {
        size_t first = (size_t)(s->frame_limit - s->frame_pos);
        sink_zstd(s, p, first, ZSTD_e_continue);
        s->frame_pos += first;
        sink_end_frame(s);
        p += first;
        n -= first;
    }
    sink_zstd(s, p, n, ZSTD_e_continue);
    s->frame_pos += n;
}

/* Called between lines: ends the frame when it is big enough. */
static void sink_line_done(sink_t *s)
{
    if (s->cctx && !s->split_mid_line && s->frame_limit && s->frame_pos >= s->frame_limit)
        sink_end_frame(s);
}

static void sink_open(sink_t *s, const char *path, bool zst, uint64_t frame_limit,
                      bool split_mid_line, bool checksum)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    s->f = fopen(path, "wb");
    if (!s->f)
        die("%s: cannot create: %s", path, strerror(errno));
    if (!zst)
        return;
    s->cctx = ZSTD_createCCtx();
    if (!s->cctx)
        die("out of memory");
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0);
    s->zcap = ZSTD_CStreamOutSize();
    s->zbuf = xmalloc(s->zcap);
    s->frame_limit = frame_limit;
    s->split_mid_line = split_mid_line;
}

static void sink_close(sink_t *s)
{
    if (s->cctx) {
        /* An empty file still gets one (empty) frame, like `zstd` would write. */
        if (s->frame_pos > 0 || s->frames == 0) {
            s->frame_pos = s->frame_pos ? s->frame_pos : 1;
            sink_end_frame(s);
        }
        ZSTD_freeCCtx(s->cctx);
    }
    free(s->zbuf);
    if (fclose(s->f) != 0)
        die("%s: write failed: %s", s->path, strerror(errno));
}

/* ------------------------------------------------------------------------ */
/* Profiles                                                                   */

typedef struct {
    const char *name; /* component name (as in the Pile paper) */
    const char *dir;  /* directory under --out */
    style_t style;
    double share;  /* of --size */
    double mean;   /* mean document size, bytes (log-normal) */
    double sigma;  /* log-normal sigma */
    int big_every; /* every Nth document is 1.05-1.6 MB (0: never) */
    int files;     /* at least this many files */
    bool subdir;   /* put the last file in a subdirectory */
} comp_spec_t;

typedef struct {
    const char *name;
    uint64_t default_size;
    uint64_t frame_bytes;    /* zstd frame size for multi-frame files */
    uint64_t max_file_bytes; /* more files when a component is bigger */
    const comp_spec_t *comps;
    int n_comps;
} profile_t;

static const comp_spec_t demo_comps[] = {
    {"Pile-CC", "pile-cc", STYLE_WEB, 0.35, 4000, 1.0, 0, 4, true},
    {"Wikipedia (en)", "wikipedia_en", STYLE_WIKI, 0.20, 3000, 0.9, 0, 3, false},
    {"Books3", "books3", STYLE_BOOK, 0.25, 500000, 0.45, 5, 2, false},
    {"PubMed Abstracts", "pubmed", STYLE_PAPER, 0.10, 1000, 0.5, 0, 4, false},
    {"Github", "github", STYLE_CODE, 0.10, 5000, 1.3, 0, 5, false},
};

static const comp_spec_t large_comps[] = {
    {"Pile-CC", "pile-cc", STYLE_WEB, 0.30, 30000, 1.0, 0, 4, true},
    {"Books3", "books3", STYLE_BOOK, 0.25, 450000, 0.6, 0, 3, false},
    {"ArXiv", "arxiv", STYLE_PAPER, 0.15, 60000, 0.7, 0, 3, false},
    {"Github", "github", STYLE_CODE, 0.15, 20000, 1.5, 0, 5, false},
    {"FreeLaw", "freelaw", STYLE_WIKI, 0.15, 25000, 1.0, 0, 2, false},
};

static const comp_spec_t small_comps[] = {
    {"Pile-CC", "pile-cc", STYLE_WEB, 0.25, 900, 0.8, 0, 4, true},
    {"PubMed Abstracts", "pubmed", STYLE_PAPER, 0.30, 950, 0.4, 0, 4, false},
    {"Enron Emails", "enron", STYLE_WEB, 0.15, 700, 1.0, 0, 2, false},
    {"HackerNews", "hackernews", STYLE_WIKI, 0.15, 500, 1.0, 0, 3, false},
    {"Ubuntu IRC", "ubuntu_irc", STYLE_WEB, 0.15, 200, 0.8, 0, 2, false},
};

static const profile_t profiles[] = {
    {"demo", 24ull << 20, 1ull << 20, 256ull << 20, demo_comps, (int)N_ELEMS(demo_comps)},
    {"large", 2ull << 30, 16ull << 20, 256ull << 20, large_comps, (int)N_ELEMS(large_comps)},
    {"small", 2ull << 30, 16ull << 20, 256ull << 20, small_comps, (int)N_ELEMS(small_comps)},
};

/* ------------------------------------------------------------------------ */
/* Generation                                                                 */

typedef struct {
    uint64_t files, docs, text_bytes, json_bytes, disk_bytes;
    uint64_t zst_json_bytes, zst_disk_bytes; /* for the compression ratio */
} stats_t;

#define DUP_POOL 1024

typedef struct {
    docspec_t pool[DUP_POOL]; /* texts that may be emitted again, in any component */
    uint32_t n_pool;
    obuf_t line, meta;
    uint64_t seed;
    double dup_rate; /* --dup-rate: share of documents repeating an earlier text; < 0: default */
} gen_t;

static lang_id_t pick_lang(rng_t *r, style_t style)
{
    if (style == STYLE_CODE)
        return LANG_CODE;
    double u = rng_unit(r);
    if (u < 0.82)
        return LANG_EN;
    if (u < 0.88)
        return LANG_EU;
    if (u < 0.92)
        return LANG_RU;
    if (u < 0.94)
        return LANG_ZH;
    if (u < 0.96)
        return LANG_EL;
    if (u < 0.98)
        return LANG_AR;
    return LANG_HI;
}

static uint32_t pick_length(rng_t *r, const comp_spec_t *c, uint64_t doc_index)
{
    if (c->big_every && doc_index % (uint64_t)c->big_every == 1)
        return (uint32_t)(1050000 + rng_below(r, 550000));
    double mu = log(c->mean) - c->sigma * c->sigma / 2;
    double len = exp(mu + c->sigma * rng_normal(r));
    if (len < 12)
        len = 12;
    if (len > 4e6) /* far tail: keep single documents below a few MB */
        len = 4e6;
    return (uint32_t)len;
}

/* One line: builds it in g->line and hands it to the sink. */
static void write_doc(gen_t *g, sink_t *s, rng_t *r, const comp_spec_t *c, int ci,
                      uint64_t doc_index, bool compact, stats_t *st)
{
    docspec_t d;
    uint64_t doc_seed = derive(g->seed, (uint64_t)ci + 1, doc_index);
    double u = rng_unit(r);
    if (u < 0.005) {
        d = (docspec_t){0, 0, LANG_EN, (uint8_t)c->style,
                        (int8_t)rng_below(r, (uint32_t)N_ELEMS(tiny_texts))};
    } else if (u < (g->dup_rate >= 0 ? 0.005 + g->dup_rate : 0.035) && g->n_pool > 0) {
        /* Squaring favours the oldest entries: a few texts repeat many times. */
        double v = rng_unit(r);
        d = g->pool[(uint32_t)(v * v * g->n_pool)];
    } else {
        d = (docspec_t){doc_seed, pick_length(r, c, doc_index), (uint8_t)pick_lang(r, c->style),
                        (uint8_t)c->style, -1};
        if (d.target <= 16384 && rng_chance(r, 0.05)) {
            if (g->n_pool < DUP_POOL)
                g->pool[g->n_pool++] = d;
            else
                g->pool[rng_below(r, DUP_POOL)] = d;
        }
    }

    /* Meta: its own stream, so that it never shifts the text of a duplicate. */
    rng_t mr;
    rng_seed(&mr, derive(doc_seed, 0x6d657461, doc_index));
    obuf_t *m = &g->meta;
    m->len = 0;
    double mu = rng_unit(&mr);
    enum {
        META_ABSENT,
        META_NULL,
        META_EMPTY,
        META_OBJ
    } mk = mu < 0.04    ? META_ABSENT
           : mu < 0.045 ? META_NULL
           : mu < 0.055 ? META_EMPTY
                        : META_OBJ;
    if (mk == META_NULL) {
        ob_puts(m, "null");
    } else if (mk == META_EMPTY) {
        ob_puts(m, "{}");
    } else if (mk == META_OBJ) {
        ob_puts(m, "{");
        put_meta_members(m, &mr, c->style, (lang_id_t)d.lang, doc_index);
        put_meta_extras(m, &mr, c->name);
        ob_puts(m, "}");
    }

    const bool list_mode = rng_chance(r, 0.03);
    const bool meta_first = mk != META_ABSENT && rng_chance(r, 0.01);
    const bool extra_key = rng_chance(r, 0.01);
    const char *colon = compact ? ":" : ": ", *comma = compact ? "," : ", ";

    obuf_t *b = &g->line;
    b->len = 0;
    ob_puts(b, "{");
    if (meta_first) {
        ob_printf(b, "\"meta\"%s", colon);
        ob_put(b, m->p, m->len);
        ob_puts(b, comma);
    }
    ob_printf(b, "\"text\"%s%s", colon, list_mode ? "[\"" : "\"");
    uint64_t raw = gen_text(&d, list_mode, b);
    ob_puts(b, list_mode ? "\"]" : "\"");
    if (extra_key)
        ob_printf(b, "%s\"id\"%s%" PRIu64, comma, colon, doc_index);
    if (mk != META_ABSENT && !meta_first) {
        ob_printf(b, "%s\"meta\"%s", comma, colon);
        ob_put(b, m->p, m->len);
    }
    ob_puts(b, "}\n");

    sink_write(s, b->p, b->len);
    sink_line_done(s);
    st->docs++;
    st->text_bytes += raw;
    st->json_bytes += b->len;
}

static bool str_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static void make_dir(const char *path)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        die("%s: cannot create directory: %s", path, strerror(errno));
}

/* --out may name a directory whose parents do not exist yet (out/demo-data). */
static void make_dirs(const char *path)
{
    char *p = strdup(path);
    if (!p)
        die("out of memory");
    for (char *q = p + 1; *q; q++)
        if (*q == '/') {
            *q = '\0';
            make_dir(p);
            *q = '/';
        }
    make_dir(p);
    free(p);
}

/* --force: remove the corpus files a previous run left in a component
 * directory (and its subdirectories), so stale files cannot join the new
 * corpus through a directory or glob path. Other files are left alone. */
static void remove_old_inputs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = xmalloc(n);
        snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                remove_old_inputs(p);
            else if (str_ends_with(p, ".jsonl") || str_ends_with(p, ".jsonl.zst"))
                if (unlink(p) != 0)
                    die("%s: cannot remove: %s", p, strerror(errno));
        }
        free(p);
    }
    closedir(d);
}

static void gen_component(gen_t *g, const profile_t *pr, const comp_spec_t *c, int ci,
                          const char *out, uint64_t comp_bytes, bool force, stats_t *st)
{
    rng_t r;
    rng_seed(&r, derive(g->seed, 0x636f6d70, (uint64_t)ci));

    int n_files = c->files;
    uint64_t by_size = (comp_bytes + pr->max_file_bytes - 1) / pr->max_file_bytes;
    if (by_size > (uint64_t)n_files)
        n_files = by_size > 4096 ? 4096 : (int)by_size;

    size_t dn = strlen(out) + strlen(c->dir) + 2;
    char *dir = xmalloc(dn);
    snprintf(dir, dn, "%s/%s", out, c->dir);
    if (force)
        remove_old_inputs(dir);
    make_dir(dir);

    /* Uneven file sizes, as real dumps have. */
    double *w = xmalloc((size_t)n_files * sizeof *w), wsum = 0;
    for (int i = 0; i < n_files; i++)
        wsum += w[i] = 0.5 + rng_unit(&r);

    uint64_t doc_index = 0, done = 0;
    for (int i = 0; i < n_files; i++) {
        /* Every third file is plain .jsonl; zstd files alternate between
         * frames ending at line boundaries and frames ending mid-line. */
        bool zst = i % 3 != 2;
        bool sub = c->subdir && i == n_files - 1;
        char name[64];
        snprintf(name, sizeof name, "%s%02d.jsonl%s", sub ? "extra/" : "", i, zst ? ".zst" : "");
        size_t pn = strlen(dir) + strlen(name) + 2;
        char *path = xmalloc(pn);
        if (sub) {
            snprintf(path, pn, "%s/extra", dir);
            make_dir(path);
        }
        snprintf(path, pn, "%s/%s", dir, name);

        uint64_t target = i == n_files - 1 ? comp_bytes - (done < comp_bytes ? done : comp_bytes)
                                           : (uint64_t)(comp_bytes * w[i] / wsum);
        /* Python json.dumps style mostly; some files compact. */
        bool compact = i % 4 == 3;
        sink_t s;
        sink_open(&s, path, zst, pr->frame_bytes + (uint64_t)i * 4099, i % 2 == 1, i % 2 == 0);
        stats_t fst = {0};
        while (fst.text_bytes < target || fst.docs == 0)
            write_doc(g, &s, &r, c, ci, doc_index++, compact, &fst);
        sink_close(&s);
        done += fst.text_bytes;
        st->files++;
        st->docs += fst.docs;
        st->text_bytes += fst.text_bytes;
        st->json_bytes += fst.json_bytes;
        st->disk_bytes += s.disk_bytes;
        if (zst) {
            st->zst_json_bytes += fst.json_bytes;
            st->zst_disk_bytes += s.disk_bytes;
        }
        free(path);
    }
    free(w);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* The mini-Pile (--profile pile-v1)                                          */

/* The 22 components of the Pile v1 with the paper's raw sizes (GiB) and
 * document counts (mean document = raw / documents), in the formats they
 * came in where those differ from lm_dataformat's .jsonl.zst (the-pile's
 * datasets.py downloads them so): OpenWebText2 as openwebtext2.jsonl.zst.tar
 * (a tar of .jsonl.zst), Books3 as books3.tar.gz of .txt books, BookCorpus2
 * as a .tar.gz of .txt books (as BookCorpus's books1.tar.gz), PG-19 as
 * plain .txt books (DeepMind's bucket), StackExchange and OpenSubtitles as
 * plain tars of .jsonl.zst, Wikipedia as JSON arrays of texts (its
 * wikipedia-en.tar.gz held .json arrays; pilemix reads arrays as
 * lm_dataformat's .json.zst). Each component's text is the paper's raw size
 * scaled to --size, to the byte, so the census reproduces Table 1's shares. */
typedef enum { PV_JSONL_ZST, PV_TAR_JSONL_ZST, PV_TAR_GZ_TXT, PV_TXT, PV_JSON_ZST } pv_format_t;

typedef struct {
    const char *name, *dir, *file; /* file: the archive's name, or a stem */
    double gib, docs;
    pv_format_t format;
} pv_comp_t;

static const pv_comp_t pile_v1[] = {
    {"Pile-CC", "pile_cc", "pile_cc", 227.12, 54.95e6, PV_JSONL_ZST},
    {"PubMed Central", "pubmed_central", "pmc", 90.27, 3.10e6, PV_JSONL_ZST},
    {"Books3", "books3", "books3.tar.gz", 100.96, 196640, PV_TAR_GZ_TXT},
    {"OpenWebText2", "openwebtext2", "openwebtext2.jsonl.zst.tar", 62.77, 17.10e6,
     PV_TAR_JSONL_ZST},
    {"ArXiv", "arxiv", "arxiv", 56.21, 1.26e6, PV_JSONL_ZST},
    {"Github", "github", "github", 95.16, 19.02e6, PV_JSONL_ZST},
    {"FreeLaw", "freelaw", "FreeLaw_Opinions", 51.15, 3.56e6, PV_JSONL_ZST},
    {"StackExchange", "stackexchange", "stackexchange_dataset.tar", 32.20, 15.62e6,
     PV_TAR_JSONL_ZST},
    {"USPTO Backgrounds", "uspto", "uspto", 22.90, 5.88e6, PV_JSONL_ZST},
    {"PubMed Abstracts", "pubmed_abstracts", "PUBMED_title_abstracts", 19.26, 15.52e6,
     PV_JSONL_ZST},
    {"Gutenberg (PG-19)", "pg19", "pg19", 10.88, 28602, PV_TXT},
    {"OpenSubtitles", "opensubtitles", "opensubtitles_out.tar", 12.98, 446612, PV_TAR_JSONL_ZST},
    {"Wikipedia (en)", "wikipedia_en", "wikipedia-en", 6.38, 6.03e6, PV_JSON_ZST},
    {"DM Mathematics", "dm_mathematics", "dm_math", 7.75, 1.01e6, PV_JSONL_ZST},
    {"Ubuntu IRC", "ubuntu_irc", "ubuntu_irc", 5.52, 10605, PV_JSONL_ZST},
    {"BookCorpus2", "bookcorpus2", "books2.tar.gz", 6.30, 17868, PV_TAR_GZ_TXT},
    {"EuroParl", "europarl", "europarl", 4.59, 69814, PV_JSONL_ZST},
    {"HackerNews", "hackernews", "hn", 3.90, 831198, PV_JSONL_ZST},
    {"YoutubeSubtitles", "youtubesubtitles", "yt_subs", 3.73, 173651, PV_JSONL_ZST},
    {"PhilPapers", "philpapers", "philpapers", 2.38, 33990, PV_JSONL_ZST},
    {"NIH ExPorter", "nih_exporter", "NIH_ExPORTER_awarded_grant_text", 1.89, 939661, PV_JSONL_ZST},
    {"Enron Emails", "enron_emails", "enron_emails", 0.88, 517401, PV_JSONL_ZST},
};

#define PV_TOTAL_GIB 825.18
#define PV_FILE_TEXT (8u << 20) /* text per .jsonl.zst file or archive member */

/* Words for exact-length texts: no character JSON must escape, some UTF-8. */
static const char *const pv_words[] = {
    "the",  "of",    "and",    "to",       "in",      "data",   "model", "pile",  "text",
    "with", "which", "corpus", "results",  "method",  "study",  "court", "code",  "function",
    "was",  "were",  "café",   "Straße",   "данные",  "数据",   "λόγος", "naïve", "résumé",
    "from", "this",  "that",   "analysis", "patient", "section"};

/* Exactly len bytes of UTF-8 text (paragraphs split by "\n"). */
static void pv_text(obuf_t *b, rng_t *r, uint64_t len)
{
    uint64_t left = len;
    uint32_t in_par = 0;
    while (left > 0) {
        const char *w = pv_words[rng_below(r, (uint32_t)N_ELEMS(pv_words))];
        size_t n = strlen(w);
        if (n + 1 > left) {
            /* Fill the end with ASCII letters: exact whatever is left. */
            while (left--)
                ob_put(b, &"abcdefghijklmnopqrstuvwxyz"[rng_below(r, 26)], 1);
            break;
        }
        if (len != left) {
            const char *sep = ++in_par % 90 == 0 ? "\n" : " ";
            ob_put(b, sep, 1);
            left--;
        }
        ob_put(b, w, n);
        left -= n;
    }
}

/* JSON body of raw UTF-8 text without quotes or backslashes: only "\n". */
static void pv_json_text(obuf_t *out, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n')
            ob_put(out, "\\n", 2);
        else
            ob_put(out, p + i, 1);
    }
}

/* Document lengths: n log-normal draws (sigma 0.8) scaled to sum to total. */
static uint64_t *pv_lengths(rng_t *r, uint64_t total, uint64_t n)
{
    double *w = xmalloc(n * sizeof *w), sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += w[i] = exp(0.8 * rng_normal(r));
    uint64_t *len = xmalloc(n * sizeof *len), done = 0;
    for (uint64_t i = 0; i < n; i++) {
        len[i] = (uint64_t)((double)total * w[i] / sum);
        if (len[i] == 0)
            len[i] = 1;
        done += len[i];
    }
    /* The rounding goes to the longest document, never below one byte. */
    uint64_t big = 0;
    for (uint64_t i = 1; i < n; i++)
        if (len[i] > len[big])
            big = i;
    len[big] += total - done; /* done <= total + n, and len[big] >= total / n */
    free(w);
    return len;
}

static void pv_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
        die("%s: cannot write: %s", path, strerror(errno));
}

static void pv_zstd(obuf_t *out, const obuf_t *in)
{
    size_t cap = ZSTD_compressBound(in->len);
    out->len = 0;
    ob_reserve(out, cap);
    size_t k = ZSTD_compress(out->p, cap, in->p, in->len, 3);
    if (ZSTD_isError(k))
        die("zstd: %s", ZSTD_getErrorName(k));
    out->len = k;
}

typedef struct {
    struct archive *a;
    const char *path;
} pv_archive_t;

static void pv_archive_open(pv_archive_t *t, const char *path, bool gz)
{
    t->path = path;
    t->a = archive_write_new();
    if (!t->a || archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
        (gz && archive_write_add_filter_gzip(t->a) != ARCHIVE_OK) ||
        (gz && archive_write_set_filter_option(t->a, "gzip", "timestamp", NULL) != ARCHIVE_OK) ||
        archive_write_open_filename(t->a, path) != ARCHIVE_OK)
        die("%s: %s", path, t->a ? archive_error_string(t->a) : "out of memory");
}

static void pv_archive_add(pv_archive_t *t, const char *name, const void *p, size_t n)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1600000000, 0); /* the same bytes every time */
    if (archive_write_header(t->a, e) != ARCHIVE_OK ||
        (n && archive_write_data(t->a, p, n) != (la_ssize_t)n))
        die("%s: %s: %s", t->path, name, archive_error_string(t->a));
    archive_entry_free(e);
}

static void pv_archive_close(pv_archive_t *t)
{
    if (archive_write_close(t->a) != ARCHIVE_OK)
        die("%s: %s", t->path, archive_error_string(t->a));
    archive_write_free(t->a);
}

static void pv_component(const pv_comp_t *c, int ci, const char *out, uint64_t size, uint64_t seed,
                         stats_t *st)
{
    /* Text bytes: the paper's share of --size, to the byte (at least 1). */
    uint64_t total = (uint64_t)llround((double)size * c->gib / PV_TOTAL_GIB);
    total = total ? total : 1;
    double mean = c->gib * 1073741824.0 / c->docs;
    uint64_t n = (uint64_t)llround((double)total / mean);
    n = n ? n : 1;
    n = n > total ? total : n;
    rng_t r;
    rng_seed(&r, derive(seed, 0x70696c65, (uint64_t)ci));
    uint64_t *len = pv_lengths(&r, total, n);

    size_t dn = strlen(out) + strlen(c->dir) + 2;
    char *dir = xmalloc(dn);
    snprintf(dir, dn, "%s/%s", out, c->dir);
    make_dir(dir);
    char path[4096], name[256];
    bool archive = c->format == PV_TAR_JSONL_ZST || c->format == PV_TAR_GZ_TXT;
    pv_archive_t ar;
    if (archive) {
        snprintf(path, sizeof path, "%s/%s", dir, c->file);
        pv_archive_open(&ar, path, c->format == PV_TAR_GZ_TXT);
    }
    obuf_t text = {0}, body = {0}, z = {0};
    uint64_t i = 0, unit = 0;
    while (i < n) {
        /* One unit: a .txt book, or a file (or member) of about PV_FILE_TEXT. */
        body.len = 0;
        uint64_t in_unit = 0, first = i;
        bool one = c->format == PV_TXT || c->format == PV_TAR_GZ_TXT;
        if (c->format == PV_JSON_ZST)
            ob_puts(&body, "[");
        do {
            text.len = 0;
            pv_text(&text, &r, len[i]);
            if (one) {
                ob_put(&body, text.p, text.len);
            } else if (c->format == PV_JSON_ZST) {
                ob_puts(&body, i > first ? ", \"" : "\"");
                pv_json_text(&body, text.p, text.len);
                ob_puts(&body, "\"");
            } else {
                ob_puts(&body, "{\"text\": \"");
                pv_json_text(&body, text.p, text.len);
                ob_printf(&body, "\", \"meta\": {\"id\": %" PRIu64 "}}\n", i);
            }
            st->docs++;
            st->text_bytes += len[i];
            in_unit += len[i];
            i++;
        } while (!one && i < n && in_unit < PV_FILE_TEXT);
        if (c->format == PV_JSON_ZST)
            ob_puts(&body, "]");
        st->json_bytes += body.len;
        switch (c->format) {
        case PV_TXT:
            snprintf(path, sizeof path, "%s/%06" PRIu64 ".txt", dir, unit);
            pv_write_file(path, body.p, body.len);
            st->files++;
            break;
        case PV_TAR_GZ_TXT:
            snprintf(name, sizeof name, "%s/%06" PRIu64 ".txt", c->dir, unit);
            pv_archive_add(&ar, name, body.p, body.len);
            break;
        case PV_TAR_JSONL_ZST:
            pv_zstd(&z, &body);
            snprintf(name, sizeof name, "%s/%02" PRIu64 ".jsonl.zst", c->dir, unit);
            pv_archive_add(&ar, name, z.p, z.len);
            break;
        case PV_JSONL_ZST:
        case PV_JSON_ZST:
            pv_zstd(&z, &body);
            snprintf(path, sizeof path, "%s/%s_%02" PRIu64 ".%s", dir, c->file, unit,
                     c->format == PV_JSON_ZST ? "json.zst" : "jsonl.zst");
            pv_write_file(path, z.p, z.len);
            st->files++;
            break;
        }
        unit++;
    }
    if (archive) {
        pv_archive_close(&ar);
        st->files++;
    }
    free(text.p);
    free(body.p);
    free(z.p);
    free(len);
    free(dir);
}

static void gen_pile_v1(const char *out, uint64_t size, uint64_t seed)
{
    printf("%-18s %-17s %5s %8s %12s %12s\n", "component", "dir", "files", "docs", "text bytes",
           "mean doc");
    stats_t total = {0};
    for (int i = 0; i < (int)N_ELEMS(pile_v1); i++) {
        stats_t st = {0};
        pv_component(&pile_v1[i], i, out, size, seed, &st);
        printf("%-18s %-17s %5" PRIu64 " %8" PRIu64 " %12" PRIu64 " %12.0f\n", pile_v1[i].name,
               pile_v1[i].dir, st.files, st.docs, st.text_bytes,
               (double)st.text_bytes / (double)st.docs);
        total.files += st.files;
        total.docs += st.docs;
        total.text_bytes += st.text_bytes;
    }
    printf("%-18s %-17s %5" PRIu64 " %8" PRIu64 " %12" PRIu64 "\n", "total", "", total.files,
           total.docs, total.text_bytes);
}

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

/* Same grammar as pm_size_parse (config.h): K/M/G/T and KiB.. are powers of
 * 1024, KB/MB/GB/TB powers of 1000, case-insensitive, plain bytes. Kept
 * local so the tool does not depend on the config module. */
static bool size_parse(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    static const struct {
        const char *suffix;
        uint64_t mult;
    } units[] = {{"", 1},
                 {"b", 1},
                 {"k", 1ull << 10},
                 {"kib", 1ull << 10},
                 {"kb", 1000ull},
                 {"m", 1ull << 20},
                 {"mib", 1ull << 20},
                 {"mb", 1000000ull},
                 {"g", 1ull << 30},
                 {"gib", 1ull << 30},
                 {"gb", 1000000000ull},
                 {"t", 1ull << 40},
                 {"tib", 1ull << 40},
                 {"tb", 1000000000000ull}};
    for (size_t i = 0; i < N_ELEMS(units); i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            if (v == 0 || v > UINT64_MAX / units[i].mult)
                return false;
            *out = v * units[i].mult;
            return true;
        }
    }
    return false;
}

static bool dir_is_nonempty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return false;
    struct dirent *e;
    bool nonempty = false;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            nonempty = true;
            break;
        }
    closedir(d);
    return nonempty;
}

static void usage(FILE *f)
{
    fputs("usage: pilemix-gencorpus --out DIR [--size BYTES] [--seed N]\n"
          "                         [--profile demo|large|small|pile-v1] [--force] [--dup-rate R]\n"
          "Writes a synthetic Pile-like lm_dataformat corpus (deterministic).\n"
          "  --size     total uncompressed text, e.g. 512M, 2G (default: 24M for demo,\n"
          "             2G for large and small)\n"
          "  --seed     document seed (default 1)\n"
          "  --profile  demo: Pile-like mix; large: mean document tens of KB;\n"
          "             small: mean document under 1 KB; pile-v1: a mini-Pile, the\n"
          "             22 components of configs/pile-v1.json with the paper's relative\n"
          "             sizes and mean documents, in their release formats (default 32M)\n"
          "  --force    write into a non-empty DIR (old corpus files of the\n"
          "             components are removed first)\n"
          "  --dup-rate R  about this share of documents repeat an earlier text, within\n"
          "             and across components (default about 0.03); for dedup benchmarks\n",
          f);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *profile_name = "demo";
    uint64_t size = 0, seed = 1;
    bool force = false;
    double dup_rate = -1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        bool takes = !strcmp(a, "--out") || !strcmp(a, "--size") || !strcmp(a, "--seed") ||
                     !strcmp(a, "--profile") || !strcmp(a, "--dup-rate");
        if (takes) {
            if (i + 1 >= argc) {
                fprintf(stderr, "pilemix-gencorpus: %s needs a value\n", a);
                return 1;
            }
            val = argv[++i];
        }
        if (!strcmp(a, "--out")) {
            out = val;
        } else if (!strcmp(a, "--size")) {
            if (!size_parse(val, &size))
                die("--size: not a size: '%s' (e.g. 512M, 2G, 1000000)", val);
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(val, &end, 10);
            if (errno || end == val || *end || *val == '-')
                die("--seed: not a non-negative integer: '%s'", val);
            seed = v;
        } else if (!strcmp(a, "--profile")) {
            profile_name = val;
        } else if (!strcmp(a, "--dup-rate")) {
            char *end;
            dup_rate = strtod(val, &end);
            if (end == val || *end || !(dup_rate >= 0 && dup_rate < 0.99))
                die("--dup-rate: not a share in [0, 0.99): '%s'", val);
        } else if (!strcmp(a, "--force")) {
            force = true;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "pilemix-gencorpus: unknown argument '%s'\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!out) {
        fprintf(stderr, "pilemix-gencorpus: --out DIR is required\n");
        usage(stderr);
        return 1;
    }
    if (!strcmp(profile_name, "pile-v1")) {
        if (!force && dir_is_nonempty(out))
            die("%s: directory exists and is not empty (use --force to write into it)", out);
        make_dirs(out);
        gen_pile_v1(out, size ? size : 32ull << 20, seed);
        return 0;
    }
    const profile_t *pr = NULL;
    for (size_t i = 0; i < N_ELEMS(profiles); i++)
        if (!strcmp(profiles[i].name, profile_name))
            pr = &profiles[i];
    if (!pr)
        die("--profile: unknown profile '%s' (demo, large, small or pile-v1)", profile_name);
    if (!size)
        size = pr->default_size;

    if (!force && dir_is_nonempty(out))
        die("%s: directory exists and is not empty (use --force to write into it)", out);
    make_dirs(out);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    build_tables();

    gen_t *g = xmalloc(sizeof *g);
    memset(g, 0, sizeof *g);
    g->seed = seed;
    g->dup_rate = dup_rate;
    stats_t st[16] = {{0}}, total = {0};
    for (int i = 0; i < pr->n_comps; i++) {
        const comp_spec_t *c = &pr->comps[i];
        uint64_t bytes = (uint64_t)(size * c->share);
        gen_component(g, pr, c, i, out, bytes ? bytes : 1, force, &st[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;

    printf("%-18s %-13s %5s %8s %12s %12s %12s %9s\n", "component", "dir", "files", "docs",
           "text bytes", "json bytes", "disk bytes", "zst ratio");
    for (int i = 0; i <= pr->n_comps; i++) {
        const stats_t *s = i < pr->n_comps ? &st[i] : &total;
        if (i < pr->n_comps) {
            total.files += s->files;
            total.docs += s->docs;
            total.text_bytes += s->text_bytes;
            total.json_bytes += s->json_bytes;
            total.disk_bytes += s->disk_bytes;
            total.zst_json_bytes += s->zst_json_bytes;
            total.zst_disk_bytes += s->zst_disk_bytes;
        }
        printf("%-18s %-13s %5" PRIu64 " %8" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64
               " %9.2f\n",
               i < pr->n_comps ? pr->comps[i].name : "total",
               i < pr->n_comps ? pr->comps[i].dir : "", s->files, s->docs, s->text_bytes,
               s->json_bytes, s->disk_bytes,
               s->zst_disk_bytes ? (double)s->zst_json_bytes / (double)s->zst_disk_bytes : 0.0);
    }
    printf("profile %s, seed %" PRIu64 ", mean document %.0f bytes; %.2f s, %.0f MB/s of JSON\n",
           pr->name, seed, (double)total.text_bytes / (double)total.docs, secs,
           (double)total.json_bytes / 1e6 / (secs > 0 ? secs : 1e-9));

    free(g->line.p);
    free(g->meta.p);
    free(g);
    free_tables();
    return 0;
}
