/* Nested subsets (subset.h): a prefix of the train order, cut from a
 * finished dataset without its inputs. */
#include "pilemix/subset.h"

#include "pilemix/buf.h"
#include "pilemix/fsutil.h"
#include "pilemix/manifest.h"
#include "pilemix/shard_writer.h"
#include "pilemix/zlines.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

/* Per component counts of the subset, by meta.pile_set_name. */
typedef struct counts {
    json_t *comps; /* the manifest's components array (borrowed) */
    uint64_t (*emitted)[3];
    uint64_t *train_bytes;
} counts_t;

static int split_index(const char *split)
{
    return !strcmp(split, "train") ? 0 : !strcmp(split, "val") ? 1 : 2;
}

/* One output line: its component's index and its text bytes. */
static int line_info(const counts_t *c, const char *path, uint64_t lineno, const char *p, size_t n,
                     size_t *comp_index, uint64_t *text_bytes, pm_error_t *err)
{
    json_error_t je;
    json_t *o = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    json_t *text = json_object_get(o, "text");
    const char *name =
        json_string_value(json_object_get(json_object_get(o, "meta"), "pile_set_name"));
    if (!json_is_string(text) || !name) {
        json_decref(o);
        return pm_error_set(err, PM_EDATA, path, lineno, "not a pilemix output line%s%s",
                            o ? "" : ": ", o ? "" : je.text);
    }
    *text_bytes = json_string_length(text);
    size_t i;
    json_t *comp;
    json_array_foreach(c->comps, i, comp) {
        const char *cn = json_string_value(json_object_get(comp, "name"));
        if (cn && !strcmp(cn, name)) {
            *comp_index = i;
            json_decref(o);
            return 0;
        }
    }
    int rc = pm_error_set(err, PM_EDATA, path, lineno,
                          "pile_set_name \"%s\" is not a component of the manifest", name);
    json_decref(o);
    return rc;
}

static void count(counts_t *c, int split, size_t comp, uint64_t text_bytes)
{
    c->emitted[comp][split]++;
    if (split == 0)
        c->train_bytes[comp] += text_bytes;
}

static void digest_hex(XXH3_state_t *st, char hex[33])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    pm_hex128(c.digest, hex);
}

/* Copy parent file rel into the subset whole, holding its checksum against
 * the manifest entry, and count its lines. */
static int copy_whole(const pm_subset_opts_t *o, json_t *entry, counts_t *c, int split,
                      pm_error_t *err)
{
    const char *rel = json_string_value(json_object_get(entry, "path"));
    const char *want = json_string_value(json_object_get(entry, "xxh128_compressed"));
    char *src = pm_path_join(o->src, rel), *dst = pm_path_join(o->into, rel);
    pm_buf_t temp;
    pm_buf_init(&temp);
    int rc = 0, in = -1, out = -1;
    char *chunk = malloc(1 << 20);
    pm_zlines_t z;
    pm_zlines_zero(&z);
    if (!src || !dst || !chunk || pm_temp_path(&temp, dst) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = pm_error_set(err, PM_EDATA, src, 0, "cannot open: %s", strerror(errno));
        goto done;
    }
    if ((out = pm_temp_create(temp.data, err)) < 0) {
        rc = out;
        goto done;
    }
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    ssize_t got;
    while ((got = read(in, chunk, 1 << 20)) > 0) {
        XXH3_128bits_update(&st, chunk, (size_t)got);
        if ((rc = pm_write_all(out, chunk, (size_t)got, temp.data, err)) < 0)
            goto done;
    }
    if (got < 0) {
        rc = pm_error_set(err, PM_EIO, src, 0, "read error: %s", strerror(errno));
        goto done;
    }
    char hex[33];
    digest_hex(&st, hex);
    if (!want || strcmp(want, hex)) {
        rc = pm_error_set(err, PM_EDATA, src, 0,
                          "checksum differs from the parent's manifest (run pilemix verify)");
        goto done;
    }
    rc = pm_temp_commit(out, temp.data, dst, err);
    out = -1;
    if (rc < 0)
        goto done;
    /* Count the lines by component (from the copy just made). */
    if ((rc = pm_zlines_open(&z, dst, err)) < 0)
        goto done;
    const char *p;
    size_t n;
    uint64_t lineno = 0, tb;
    size_t ci;
    while ((rc = pm_zlines_next(&z, &p, &n, err)) == 1) {
        if ((rc = line_info(c, dst, ++lineno, p, n, &ci, &tb, err)) < 0)
            goto done;
        count(c, split, ci, tb);
    }
done:
    pm_zlines_close(&z);
    if (in >= 0)
        close(in);
    if (out >= 0) {
        close(out);
        unlink(temp.data);
    }
    free(chunk);
    free(src);
    free(dst);
    pm_buf_free(&temp);
    return rc;
}

/* A manifest file entry for a written result. */
static json_t *file_entry(const char *rel, const char *split, const pm_file_result_t *r)
{
    char raw[33], zst[33];
    pm_hex128(r->raw_xxh128, raw);
    pm_hex128(r->zst_xxh128, zst);
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "path", rel, "split", split,
                     "documents", (json_int_t)r->docs, "text_bytes", (json_int_t)r->text_bytes,
                     "uncompressed_bytes", (json_int_t)r->raw_bytes, "compressed_bytes",
                     (json_int_t)r->zst_bytes, "xxh128_uncompressed", raw, "xxh128_compressed",
                     zst);
}

/* Write the first lines of parent shard entry: all lines while the budget
 * allows (by_bytes: text bytes <= *bytes_left) or `lines` of them. */
static int write_partial(const pm_subset_opts_t *o, json_t *entry, int level, counts_t *c,
                         uint64_t lines, uint64_t *bytes_left, uint64_t *written,
                         json_t **out_entry, pm_error_t *err)
{
    const char *rel = json_string_value(json_object_get(entry, "path"));
    char *src = pm_path_join(o->src, rel), *dst = pm_path_join(o->into, rel);
    pm_shard_writer_t *w = NULL;
    pm_zlines_t z;
    pm_zlines_zero(&z);
    int rc = 0;
    *written = 0;
    *out_entry = NULL;
    if (!src || !dst) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if ((rc = pm_zlines_open(&z, src, err)) < 0)
        goto done;
    if ((rc = pm_shard_writer_open(&w, dst, level, 1, NULL, err)) < 0)
        goto done;
    const char *p;
    size_t n;
    while (o->by_bytes || *written < lines) {
        if ((rc = pm_zlines_next(&z, &p, &n, err)) < 0)
            goto done;
        if (rc == 0)
            break;
        uint64_t tb;
        size_t ci;
        if ((rc = line_info(c, src, *written + 1, p, n, &ci, &tb, err)) < 0)
            goto done;
        if (o->by_bytes && tb > *bytes_left)
            break; /* the first line past the budget ends the subset */
        count(c, 0, ci, tb);
        if ((rc = pm_shard_writer_add_line(w, p, n, tb, err)) < 0)
            goto done;
        if (o->by_bytes)
            *bytes_left -= tb;
        (*written)++;
    }
    rc = 0;
    if (*written == 0) {
        pm_shard_writer_abort(w);
        w = NULL;
        goto done;
    }
    pm_file_result_t res;
    rc = pm_shard_writer_finish(w, &res, err);
    w = NULL;
    if (rc < 0)
        goto done;
    if (!(*out_entry = file_entry(rel, "train", &res)))
        rc = pm_error_nomem(err);
done:
    pm_shard_writer_abort(w);
    pm_zlines_close(&z);
    free(src);
    free(dst);
    return rc;
}

/* into must not exist, or be an empty directory. */
static int prepare_into(const char *into, pm_error_t *err)
{
    DIR *d = opendir(into);
    if (d) {
        struct dirent *e;
        bool empty = true;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                empty = false;
        closedir(d);
        if (!empty)
            return pm_error_set(err, PM_ESTATE, into, 0,
                                "exists and is not empty (a subset goes into a new directory)");
    } else if (errno != ENOENT) {
        return pm_error_set(err, PM_ESTATE, into, 0, "cannot use: %s", strerror(errno));
    }
    char *train = pm_path_join(into, "train");
    if (!train)
        return pm_error_nomem(err);
    int rc = pm_mkdir_p(train, err);
    free(train);
    return rc;
}

static uint64_t jint(json_t *o, const char *k)
{
    json_int_t v = json_integer_value(json_object_get(o, k));
    return v > 0 ? (uint64_t)v : 0;
}

int pm_subset_write(const pm_subset_opts_t *o, pm_subset_result_t *res, pm_error_t *err)
{
    memset(res, 0, sizeof *res);
    if (!o->by_bytes && !(o->fraction > 0.0 && o->fraction <= 1.0))
        return pm_error_set(err, PM_EUSAGE, NULL, 0, "--fraction must be in (0, 1]");
    json_t *m = pm_manifest_load(o->src, err);
    if (!m)
        return PM_EDATA;
    int rc = 0;
    json_t *files = json_object_get(m, "files"), *comps = json_object_get(m, "components");
    json_t *new_files = json_array(), *train = json_array(), *subset = NULL;
    size_t nc = json_array_size(comps);
    counts_t c = {comps, calloc(nc ? nc : 1, sizeof *c.emitted),
                  calloc(nc ? nc : 1, sizeof *c.train_bytes)};
    pm_buf_t mpath, text, sums;
    pm_buf_init(&mpath);
    pm_buf_init(&text);
    pm_buf_init(&sums);
    char *dumped = NULL;
    if (!new_files || !train || !c.emitted || !c.train_bytes) {
        rc = pm_error_nomem(err);
        goto done;
    }
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e) {
        const char *split = json_string_value(json_object_get(e, "split"));
        if (split && !strcmp(split, "train") && json_array_append(train, e) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    uint32_t S = (uint32_t)json_array_size(train);
    res->train_shards = S;
    if (S == 0) {
        rc = pm_error_set(err, PM_EDATA, o->src, 0, "the manifest lists no train files");
        goto done;
    }
    int level = (int)json_integer_value(
        json_object_get(json_object_get(json_object_get(m, "config"), "output"), "zstd_level"));
    if (level < 1)
        level = 3;
    /* The cut: whole shards, then lines of the next. */
    uint32_t whole;
    uint64_t lines = 0, bytes_left = o->bytes;
    if (o->by_bytes) {
        for (whole = 0; whole < S; whole++) {
            uint64_t tb = jint(json_array_get(train, whole), "text_bytes");
            if (tb > bytes_left)
                break;
            bytes_left -= tb;
        }
    } else {
        double x = o->fraction * S;
        whole = x >= S ? S : (uint32_t)floor(x);
        if (whole < S) {
            uint64_t n = jint(json_array_get(train, whole), "documents");
            /* round(q * n), monotone in p: nested subsets. */
            lines = (uint64_t)floor((x - whole) * (double)n + 0.5);
            if (lines > n)
                lines = n;
        }
    }
    if ((rc = prepare_into(o->into, err)) < 0)
        goto done;
    for (uint32_t s = 0; s < whole; s++) {
        json_t *te = json_array_get(train, s);
        if ((rc = copy_whole(o, te, &c, 0, err)) < 0)
            goto done;
        if (json_array_append(new_files, te) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
        res->train_docs += jint(te, "documents");
        res->train_text_bytes += jint(te, "text_bytes");
    }
    res->whole_shards = whole;
    res->fraction = whole;
    if (whole < S && (o->by_bytes || lines > 0)) {
        json_t *pe = NULL, *te = json_array_get(train, whole);
        uint64_t written = 0;
        if ((rc = write_partial(o, te, level, &c, lines, &bytes_left, &written, &pe, err)) < 0)
            goto done;
        if (pe) {
            res->partial = true;
            res->partial_lines = written;
            res->partial_of = jint(te, "documents");
            res->train_docs += jint(pe, "documents");
            res->train_text_bytes += jint(pe, "text_bytes");
            res->fraction += (double)written / (double)res->partial_of;
            if (json_array_append_new(new_files, pe) < 0) {
                rc = pm_error_nomem(err);
                goto done;
            }
        }
    }
    res->fraction /= S;
    json_array_foreach(files, i, e) {
        const char *split = json_string_value(json_object_get(e, "split"));
        if (!split || (strcmp(split, "val") && strcmp(split, "test")))
            continue;
        if ((rc = copy_whole(o, e, &c, split_index(split), err)) < 0)
            goto done;
        if (json_array_append(new_files, e) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    /* The parent's identity: its config hash and the digest of its manifest. */
    if (pm_buf_printf(&mpath, "%s/manifest.json", o->src) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if ((rc = pm_read_file(mpath.data, &text, err)) < 0)
        goto done;
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    XXH3_128bits_update(&st, text.data, text.len);
    char mhex[33];
    digest_hex(&st, mhex);
    json_t *partial = json_null();
    if (res->partial)
        partial = json_pack("{s:O, s:I, s:I}", "path",
                            json_object_get(json_array_get(train, whole), "path"), "lines",
                            (json_int_t)res->partial_lines, "of", (json_int_t)res->partial_of);
    json_t *asked = o->by_bytes ? json_pack("{s:I}", "train_text_bytes", (json_int_t)o->bytes)
                                : json_pack("{s:f}", "fraction", o->fraction);
    subset = json_pack(
        "{s:{s:O, s:O, s:s}, s:o, s:f, s:i, s:i, s:o, s:I, s:I, s:s, s:s}", "parent", "name",
        json_object_get(m, "name"), "config_hash", json_object_get(m, "config_hash"),
        "manifest_xxh128", mhex, "asked", asked, "fraction", res->fraction, "train_shards", (int)S,
        "whole_shards", (int)whole, "partial_shard", partial, "train_documents",
        (json_int_t)res->train_docs, "train_text_bytes", (json_int_t)res->train_text_bytes,
        "val_test", "whole", "rejects", "not carried over");
    if (!subset) {
        rc = pm_error_nomem(err);
        goto done;
    }
    json_t *comp;
    json_array_foreach(comps, i, comp) {
        json_t *parent = json_object_get(comp, "emitted");
        json_t *em = json_pack("{s:I, s:I, s:I}", "train", (json_int_t)c.emitted[i][0], "val",
                               (json_int_t)c.emitted[i][1], "test", (json_int_t)c.emitted[i][2]);
        if (!em || (parent && json_object_set(comp, "parent_emitted", parent) < 0) ||
            json_object_set_new(comp, "emitted", em) < 0 ||
            json_object_set_new(comp, "emitted_text_bytes_train",
                                json_integer((json_int_t)c.train_bytes[i])) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    if (json_object_set(m, "files", new_files) < 0 || json_object_set(m, "subset", subset) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    json_array_foreach(new_files, i, e) {
        if (pm_buf_printf(&sums, "%s  %s\n",
                          json_string_value(json_object_get(e, "xxh128_compressed")),
                          json_string_value(json_object_get(e, "path"))) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    pm_buf_reset(&mpath);
    if (pm_buf_printf(&mpath, "%s/XXH128SUMS", o->into) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    if ((rc = pm_write_file_atomic(mpath.data, sums.data ? sums.data : "", sums.len, err)) < 0)
        goto done;
    /* The manifest last: a subset cut short has none, and verify says so. */
    dumped = json_dumps(m, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    pm_buf_reset(&text);
    pm_buf_reset(&mpath);
    if (!dumped || pm_buf_append_str(&text, dumped) < 0 || pm_buf_append_char(&text, '\n') < 0 ||
        pm_buf_printf(&mpath, "%s/manifest.json", o->into) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    rc = pm_write_file_atomic(mpath.data, text.data, text.len, err);
done:
    free(dumped);
    free(c.emitted);
    free(c.train_bytes);
    json_decref(subset);
    json_decref(new_files);
    json_decref(train);
    json_decref(m);
    pm_buf_free(&mpath);
    pm_buf_free(&text);
    pm_buf_free(&sums);
    return rc;
}
