/* Config schema: one table of keys from which every use of a key follows.
 *
 * A schema is a list of sections (the top level, then nested objects such as
 * "output" or arrays of objects such as "components") and a table of rows,
 * one per key. A row names its section, key, type, bounds, default, flags,
 * the struct field it fills (offset and width) and a one-line description.
 * The engine below derives from the table: parsing with type and bound errors
 * that name the key path, unknown keys with a did-you-mean drawn from the
 * rows of that section, required keys, defaults, the canonical JSON (the
 * config hash), the wire form that ships a config to other ranks, and the
 * README's config table (tools/config_doc.c). Adding a key is one row plus
 * the code that reads the value.
 *
 * The real table is pm_config_schema (config.c) over pm_config_t; tests may
 * build their own tables over their own structs.
 *
 * Invariants (pm_cfg_schema_check() verifies them; a unit test runs it):
 *  - rows of a section are in the order of the section's "allowed:" list and
 *    of parsing (the first problem found is reported);
 *  - each row's field width matches its type (PM_CFG_FIELD records sizeof);
 *  - rows that change the output carry a format (PM_CFG_FORMAT_1 for every key
 *    that existed when the schema was introduced) and an example value.
 *
 * Order of checks (the first problem is the one reported): in each object,
 * unknown keys first, then each row in table order (missing, type, bounds,
 * the row's check hook), then at the top level the child sections in order,
 * then the section's validate hook with its cross-key rules. So a key's own
 * problem is reported before a rule that combines keys.
 *
 * Canonical form rule (the config hash, see config.h): a row with
 * PM_CFG_OUTPUT appears in it; format-1 rows always, rows of later formats
 * only when their value differs from the default, so adding a key never
 * changes the hash of a config that does not use it. Rows without
 * PM_CFG_OUTPUT (work_dir, mem_per_rank: they cannot change a byte of the
 * output) never appear.
 *
 * Ownership: parsed strings, lists and custom values belong to the struct
 * and are released by pm_cfg_free(). Row and section tables are static. */
#ifndef PILEMIX_CONFIG_SCHEMA_H
#define PILEMIX_CONFIG_SCHEMA_H

#include "pilemix/buf.h"
#include "pilemix/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    PM_CFG_STRING,      /* char *; non-empty */
    PM_CFG_PATH,        /* char *; ${VAR} expanded, relative to the config file's
                         * directory; as written in raw_offset if kept */
    PM_CFG_INT,         /* integer field of `width` bytes; imin..imax */
    PM_CFG_NUMBER,      /* double; dmin/dmax, each inclusive unless PM_CFG_*_EXCL */
    PM_CFG_FRACTION,    /* double in [0,1); -0 is stored as 0 */
    PM_CFG_BOOL,        /* bool */
    PM_CFG_SIZE,        /* uint64_t; "512M", "2GiB" or bytes; >= umin, < ulim (0: none) */
    PM_CFG_ENUM,        /* integer field holding the index into enum_names */
    PM_CFG_STRING_LIST, /* char **, count (size_t) at count_offset; >= imin items */
    PM_CFG_PATH_LIST,   /* as STRING_LIST, each a PATH; as written at raw_offset */
    PM_CFG_DURATION,    /* double seconds; a number or "90s", "5m", "2h", "1d" */
    PM_CFG_CUSTOM,      /* void *, owned through the row's callbacks; default NULL */
} pm_cfg_type_t;

enum {
    PM_CFG_REQUIRED = 1u << 0, /* missing is an error */
    PM_CFG_OUTPUT = 1u << 1,   /* can change the output bytes: in the canonical form */
    PM_CFG_MIN_EXCL = 1u << 2, /* NUMBER/DURATION: value > dmin, not >= */
    PM_CFG_MAX_EXCL = 1u << 3, /* NUMBER/DURATION: value < dmax, not <= */
    /* Optional, and its default means "not given" (components[].epochs, which
     * a component may replace by a share): in the canonical form only when
     * set, whatever its format, so the canonical form stays a loadable config. */
    PM_CFG_UNSET_OMITTED = 1u << 4,
};

/* The config format that introduced a key (see the canonical form rule). */
enum { PM_CFG_FORMAT_1 = 1, PM_CFG_FORMAT_2 = 2 };

#define PM_CFG_NONE ((size_t)-1) /* no raw_offset / count_offset */

typedef struct pm_cfg_ctx pm_cfg_ctx_t;

/* Object-valued keys: the value is a pointer (NULL = absent, the default)
 * that these callbacks create, describe and destroy. All are required. */
typedef struct pm_cfg_custom {
    /* Parse v into *out (a new object, set only on success); on error return
     * pm_cfg_error(c, keypath or a path under it, ...) or pm_cfg_nomem(c). */
    int (*parse)(pm_cfg_ctx_t *c, const char *keypath, const json_t *v, void **out);
    json_t *(*canonical)(const void *val);      /* new reference; NULL = out of memory */
    json_t *(*pack)(const void *val);           /* new reference; NULL = out of memory */
    int (*unpack)(const json_t *j, void **out); /* 0, PM_EINTERNAL or PM_ENOMEM */
    void (*free)(void *val);
    bool (*equal)(const void *a, const void *b);
    const char *doc_type; /* the README's type column, e.g. "object" */
} pm_cfg_custom_t;

typedef struct pm_cfg_key {
    unsigned section; /* index into the schema's sections */
    const char *name;
    pm_cfg_type_t type;
    unsigned flags;       /* PM_CFG_* */
    unsigned format;      /* PM_CFG_FORMAT_* that introduced the key */
    size_t offset;        /* the field, in the section's struct */
    size_t width;         /* sizeof the field */
    size_t raw_offset;    /* PATH, PATH_LIST: as written (char * / char **), or PM_CFG_NONE */
    size_t count_offset;  /* lists: the size_t item count */
    long long imin, imax; /* INT bounds; lists: imin = least number of items */
    double dmin, dmax;    /* NUMBER, DURATION bounds */
    uint64_t umin, ulim;  /* SIZE: >= umin, < ulim (0: no upper bound) */
    const char *const *enum_names; /* ENUM: NULL-terminated; the field holds the index */
    long long def_i;               /* INT, ENUM (index) default */
    double def_d;                  /* NUMBER, FRACTION, DURATION default */
    uint64_t def_u;                /* SIZE default */
    bool def_b;                    /* BOOL default */
    const char *def_s;             /* STRING, PATH default (copied); NULL: none */
    const pm_cfg_custom_t *custom;
    /* Checks one parsed value, e.g. characters a name may not contain. */
    int (*check)(pm_cfg_ctx_t *c, const char *keypath, const void *obj);
    const char *cli;         /* command-line flag that overrides the key, or NULL */
    const char *doc;         /* one line for the README's table */
    const char *doc_default; /* README default when not a literal, e.g. "`<output.dir>.work`" */
    const char *example;     /* JSON text of a valid value that differs from the default */
} pm_cfg_key_t;

/* Record a field's offset and width: PM_CFG_FIELD(pm_config_t, seed). */
#define PM_CFG_FIELD(type, member)                                                                 \
    .offset = offsetof(type, member), .width = sizeof(((type *)0)->member)

enum {
    PM_CFG_SEC_REQUIRED = 1u << 0, /* the object (or array) must be present */
    PM_CFG_SEC_ARRAY = 1u << 1,    /* an array of objects, each one struct */
};

typedef struct pm_cfg_section {
    const char *name; /* "" for the top level (sections[0]), else a top-level key */
    unsigned flags;   /* PM_CFG_SEC_* */
    /* ARRAY sections: where the elements live in the top-level struct. Other
     * sections fill fields of the top-level struct itself. */
    size_t array_offset; /* the element pointer */
    size_t count_offset; /* size_t element count */
    size_t elem_size;
    /* Cross-key rules and computed defaults, run after the section's rows
     * (also when an optional object section is absent). obj is the struct
     * the rows filled (the element for arrays), index its position. */
    int (*validate)(pm_cfg_ctx_t *c, void *top, void *obj, size_t index, const char *prefix);
} pm_cfg_section_t;

typedef struct pm_cfg_schema {
    const pm_cfg_section_t *sections;
    size_t n_sections;
    const pm_cfg_key_t *keys;
    size_t n_keys;
} pm_cfg_schema_t;

/* Parsing context handed to hooks: the error sink, the file messages name
 * and the config path relative paths resolve against (NULL: the cwd). */
struct pm_cfg_ctx {
    pm_error_t *err;
    const char *file;
    const char *origin;
};

/* Report "KEYPATH: message" as PM_ECONFIG and return PM_ECONFIG. */
int pm_cfg_error(pm_cfg_ctx_t *c, const char *keypath, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int pm_cfg_nomem(pm_cfg_ctx_t *c);

/* Substitute ${NAME} from the environment into b (reset first); only that
 * form, "$" alone is literal. An unset or empty variable is an error naming
 * keypath. For custom rows with string values that may come from the
 * environment (output.canaries.secret). */
int pm_cfg_expand_vars(pm_cfg_ctx_t *c, const char *keypath, const char *s, pm_buf_t *b);

/* Shortest "%g" form that reads back to the same double. */
void pm_cfg_fmt_double(char *out, size_t n, double x);

/* Parse doc (any JSON value) into top (zeroed by the caller): defaults, then
 * every section in table order. On error the struct may be partly filled:
 * release it with pm_cfg_free(). */
int pm_cfg_parse(const pm_cfg_schema_t *s, void *top, const json_t *doc, pm_cfg_ctx_t *c);

/* The canonical form (new reference; NULL = out of memory): see the rule above. */
json_t *pm_cfg_canonical(const pm_cfg_schema_t *s, const void *top);

/* Every row's value, for another process of the same build (new reference;
 * NULL = out of memory), and back into a zeroed struct (PM_EINTERNAL with a
 * message naming the key when the input is not what pm_cfg_pack wrote). */
json_t *pm_cfg_pack(const pm_cfg_schema_t *s, const void *top);
int pm_cfg_unpack(const pm_cfg_schema_t *s, void *top, const json_t *j, pm_error_t *err);

/* Wire strings: a C string as JSON (new reference; NULL = out of memory),
 * as a JSON string when it is UTF-8 and as {"hex": "..."} when not, so any
 * bytes travel; and back (0, PM_EINTERNAL when j is neither, PM_ENOMEM). */
json_t *pm_cfg_wire_string(const char *s);
int pm_cfg_wire_string_value(const json_t *j, char **out);

/* Release everything the rows own and zero those fields. Accepts a zeroed or
 * partly parsed struct. */
void pm_cfg_free(const pm_cfg_schema_t *s, void *top);

/* The struct a row's field lives in: top itself, or element `index` of the
 * row's array section. NULL when there is no such element. */
void *pm_cfg_obj(const pm_cfg_schema_t *s, const pm_cfg_key_t *k, void *top, size_t index);

/* Compare a row's field in two structs (as returned by pm_cfg_obj). */
bool pm_cfg_equal(const pm_cfg_key_t *k, const void *a, const void *b);
bool pm_cfg_is_default(const pm_cfg_key_t *k, const void *obj);

/* "output.train_shards", "components[].name": the row's documented path. */
void pm_cfg_key_doc_path(const pm_cfg_schema_t *s, const pm_cfg_key_t *k, char *out, size_t n);
/* The README's "type, default" cell, e.g. "integer 1..100000, default 30". */
void pm_cfg_key_doc_type(const pm_cfg_key_t *k, char *out, size_t n);

/* Check the invariants above; on failure fill err (PM_EINTERNAL) with the row. */
int pm_cfg_schema_check(const pm_cfg_schema_t *s, pm_error_t *err);

/* The real schema over pm_config_t (config.c). */
extern const pm_cfg_schema_t pm_config_schema;

#endif
