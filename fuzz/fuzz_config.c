/* libFuzzer target: pm_config_load_string() on arbitrary text.
 *
 * It must never crash or leak (ASan's leak check runs after every input).
 * On failure: a config error or out of memory, the error record filled, and
 * the config left closed (closing it again is harmless), as config.h says.
 * On success: the documented ranges hold, and the canonical JSON re-loads to
 * the same canonical JSON and hash. The hash must also not depend on where the
 * config lives (paths enter it as written), so the same text loaded with no
 * origin path must give the same hash. And the config must survive the trip
 * to other ranks: pm_config_pack then pm_config_unpack gives every schema
 * row's field equal.
 *
 * The input is used up to its first NUL (the loader takes a C string). Two
 * environment variables are set for ${VAR} expansion: PM_FUZZ_DATA and
 * PM_FUZZ_EMPTY (empty, which the loader must refuse).
 *
 * With PM_FUZZ_REPORT=FILE set, each input appends one line to FILE: "ok"
 * when it loaded (the round-trip oracles ran), "deep: " and the error when it
 * is a JSON object the loader refused (the schema checks ran), else
 * "shallow: " and the error. jobs/fuzz.sh replays the seeds this way: too few
 * deep ones, or a good_* seed that no longer loads, fails it. */
#include "pilemix/config.h"
#include "pilemix/config_schema.h"
#include "pilemix/config_wire.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORIGIN "/fuzz/dir/config.json"

static const char *cur_text;
static FILE *report_file; /* PM_FUZZ_REPORT */

static void fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;

static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "\nfuzz_config: oracle failure: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nconfig text:\n%.2000s\n", cur_text);
    abort();
}

static void check_ranges(const pm_config_t *c)
{
    if (!c->name || !c->name[0])
        fail("empty name accepted");
    if (c->n_components < 1 || !c->components)
        fail("no components accepted");
    for (size_t i = 0; i < c->n_components; i++) {
        const pm_component_cfg_t *cc = &c->components[i];
        const char *n = cc->name;
        if (!n || !n[0] || !strcmp(n, ".") || !strcmp(n, "..") || strchr(n, '/'))
            fail("components[%zu]: bad name accepted", i);
        for (const unsigned char *p = (const unsigned char *)n; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                fail("components[%zu]: control character in name accepted", i);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->components[j].name, n))
                fail("duplicate component name accepted");
        if (cc->n_paths < 1)
            fail("components[%zu]: no paths accepted", i);
        for (size_t j = 0; j < cc->n_paths; j++) {
            if (!cc->paths[j] || !cc->raw_paths[j] || !cc->raw_paths[j][0])
                fail("components[%zu].paths[%zu]: missing or empty", i, j);
            /* Relative paths without variables resolve against the config's directory. */
            const char *raw = cc->raw_paths[j];
            if (raw[0] != '/' && !strstr(raw, "${")) {
                if (strncmp(cc->paths[j], "/fuzz/dir/", 10) || strcmp(cc->paths[j] + 10, raw))
                    fail("components[%zu].paths[%zu]: \"%s\" resolved to \"%s\"", i, j, raw,
                         cc->paths[j]);
            }
        }
        if (!(cc->epochs > 0.0 && cc->epochs <= PM_MAX_EPOCHS))
            fail("components[%zu].epochs out of range: %g", i, cc->epochs);
    }
    if (!c->out_dir || !c->out_dir[0] || !c->work_dir || !c->work_dir[0])
        fail("missing output or work dir");
    if (c->train_shards < 1 || c->train_shards > 100000)
        fail("train_shards out of range: %u", c->train_shards);
    if (!(c->val_fraction >= 0 && c->test_fraction >= 0 && c->val_fraction + c->test_fraction < 1))
        fail("fractions out of range: %g + %g", c->val_fraction, c->test_fraction);
    if (c->zstd_level < 1 || c->zstd_level > 19)
        fail("zstd_level out of range: %d", c->zstd_level);
    if (c->mem_per_rank < (16ull << 20))
        fail("mem_per_rank below 16 MiB: %llu", (unsigned long long)c->mem_per_rank);
    if (c->max_record_bytes < 1024 || c->max_record_bytes >= (4ull << 30))
        fail("max_record_bytes out of range: %llu", (unsigned long long)c->max_record_bytes);
    if (c->on_bad_record != PM_ON_BAD_FAIL && c->on_bad_record != PM_ON_BAD_SKIP)
        fail("on_bad_record out of range");
    if (!c->canonical_json)
        fail("no canonical JSON");
    /* Operational keys stay out of the canonical form. */
    json_error_t jerr;
    json_t *canon = json_loads(c->canonical_json, 0, &jerr);
    if (!canon)
        fail("canonical JSON is not JSON: %s", jerr.text);
    json_t *run = json_object_get(canon, "run");
    if (!json_is_object(run) || json_object_get(run, "work_dir") ||
        json_object_get(run, "mem_per_rank"))
        fail("canonical \"run\" missing or holding an operational key: %s", c->canonical_json);
    json_decref(canon);
}

static void check_wire(pm_config_t *c)
{
    char *packed = pm_config_pack(c);
    if (!packed)
        return; /* out of memory */
    pm_config_t u;
    pm_error_t err;
    int rc = pm_config_unpack(&u, packed, &err);
    free(packed);
    if (rc == PM_ENOMEM)
        return;
    if (rc != 0)
        fail("pm_config_unpack refuses pm_config_pack's output: %s", err.msg);
    const pm_cfg_schema_t *s = &pm_config_schema;
    if (u.n_components != c->n_components)
        fail("component count changes on the wire");
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        size_t n = s->sections[k->section].flags & PM_CFG_SEC_ARRAY ? c->n_components : 1;
        for (size_t e = 0; e < n; e++)
            if (!pm_cfg_equal(k, pm_cfg_obj(s, k, c, e), pm_cfg_obj(s, k, &u, e)))
                fail("%s (element %zu) changes on the wire", k->name, e);
    }
    if (strcmp(u.canonical_json, c->canonical_json) || u.canonical_hash != c->canonical_hash)
        fail("canonical form changes on the wire");
    pm_config_close(&u);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("PM_FUZZ_DATA", "/data/pile", 1);
    setenv("PM_FUZZ_EMPTY", "", 1);
    const char *rep = getenv("PM_FUZZ_REPORT");
    if (rep && *rep && !(report_file = fopen(rep, "a"))) {
        perror("fuzz_config: PM_FUZZ_REPORT");
        abort();
    }
    return 0;
}

/* A JSON object: what the schema checks (past the parser) look at. */
static int is_json_object(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    int is = json_is_object(j);
    json_decref(j);
    return is;
}

static void report(int rc, const pm_error_t *err, const char *text)
{
    if (!report_file)
        return;
    if (rc == 0) {
        fprintf(report_file, "ok\n");
    } else {
        fprintf(report_file, "%s: ", is_json_object(text) ? "deep" : "shallow");
        /* One line per input: messages quote config text, newlines included. */
        for (const char *p = err->msg; *p; p++)
            fputc((unsigned char)*p < 0x20 ? '?' : *p, report_file);
        fputc('\n', report_file);
    }
    fflush(report_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    cur_text = text;

    pm_config_t cfg;
    pm_error_t err;
    memset(&cfg, 0x5a, sizeof cfg); /* the loader must not rely on a zeroed struct */
    int rc = pm_config_load_string(&cfg, text, ORIGIN, &err);
    report(rc, &err, text);
    if (rc != 0) {
        if (rc != PM_ECONFIG && rc != PM_ENOMEM)
            fail("pm_config_load_string returned %d", rc);
        if (err.code != rc)
            fail("error record code %d, returned %d", err.code, rc);
        if (!err.msg[0])
            fail("failure without a message");
        if (strcmp(err.file, ORIGIN))
            fail("error names \"%s\", not the origin path", err.file);
        /* "Left closed": closing it must be harmless (ASan sees a double free). */
        pm_config_close(&cfg);
    } else {
        check_ranges(&cfg);
        check_wire(&cfg);
        if (!cfg.path || strcmp(cfg.path, ORIGIN))
            fail("cfg.path is not the origin path");

        pm_config_t again;
        pm_error_t err2;
        int rc2 = pm_config_load_string(&again, cfg.canonical_json, ORIGIN, &err2);
        if (rc2 != 0)
            fail("the canonical JSON does not re-load: %s\ncanonical: %s", err2.msg,
                 cfg.canonical_json);
        if (strcmp(again.canonical_json, cfg.canonical_json))
            fail("canonical JSON changes on re-load:\n  first:  %s\n  second: %s",
                 cfg.canonical_json, again.canonical_json);
        if (again.canonical_hash != cfg.canonical_hash)
            fail("canonical hash changes on re-load");
        pm_config_close(&again);

        pm_config_t elsewhere;
        rc2 = pm_config_load_string(&elsewhere, text, NULL, &err2);
        if (rc2 != 0)
            fail("loads from " ORIGIN " but not without an origin: %s", err2.msg);
        if (elsewhere.canonical_hash != cfg.canonical_hash)
            fail("the hash depends on the config's location");
        pm_config_close(&elsewhere);

        pm_config_close(&cfg);
        pm_config_close(&cfg); /* a closed config is accepted */
    }
    free(text);
    return 0;
}
