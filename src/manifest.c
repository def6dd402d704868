#include "pilemix/manifest.h"

#include "pilemix/fsutil.h"
#include "pilemix/record.h"
#include "pilemix/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

static void digest_of(XXH3_state_t *st, unsigned char out[16])
{
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(st));
    memcpy(out, c.digest, 16);
}

int pm_rejects_merge(const pm_job_t *job, bool *written, pm_file_result_t *res, pm_error_t *err)
{
    *written = false;
    memset(res, 0, sizeof *res);
    pm_buf_t src, dir, final, temp, data;
    pm_buf_init(&src);
    pm_buf_init(&dir);
    pm_buf_init(&final);
    pm_buf_init(&temp);
    pm_buf_init(&data);
    int fd = -1, rc = 0;
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    for (uint32_t task = 0; task < job->plan->n_files; task++) {
        if (pm_job_rejects_path(job, task, &src) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
        if (!pm_path_exists(src.data))
            continue;
        if (fd < 0) {
            if (pm_buf_printf(&dir, "%s/rejects", job->cfg->out_dir) < 0 ||
                pm_buf_printf(&final, "%s/rejects.jsonl", dir.data) < 0 ||
                pm_temp_path(&temp, final.data) < 0) {
                rc = pm_error_nomem(err);
                goto done;
            }
            if ((rc = pm_mkdir_p(dir.data, err)) < 0)
                goto done;
            if ((fd = pm_temp_create(temp.data, err)) < 0) {
                rc = fd;
                goto done;
            }
        }
        pm_buf_reset(&data);
        if ((rc = pm_read_file(src.data, &data, err)) < 0)
            goto done;
        XXH3_128bits_update(&st, data.data, data.len);
        res->raw_bytes += data.len;
        for (size_t i = 0; i < data.len; i++)
            res->docs += data.data[i] == '\n';
        if ((rc = pm_write_all(fd, data.data, data.len, temp.data, err)) < 0)
            goto done;
    }
    if (fd >= 0) {
        rc = pm_temp_commit(fd, temp.data, final.data, err);
        fd = -1;
        if (rc < 0)
            goto done;
        *written = true;
        res->zst_bytes = res->raw_bytes; /* stored plain */
        digest_of(&st, res->raw_xxh128);
        memcpy(res->zst_xxh128, res->raw_xxh128, 16);
    }
done:
    if (fd >= 0) {
        close(fd);
        unlink(temp.data);
    }
    pm_buf_free(&src);
    pm_buf_free(&dir);
    pm_buf_free(&final);
    pm_buf_free(&temp);
    pm_buf_free(&data);
    return rc;
}

int pm_canary_list_path(const char *out_dir, pm_buf_t *out)
{
    size_t len = strlen(out_dir);
    while (len > 1 && out_dir[len - 1] == '/')
        len--;
    pm_buf_reset(out);
    if (pm_buf_append(out, out_dir, len) < 0 || pm_buf_append_str(out, ".canaries.jsonl") < 0)
        return PM_ENOMEM;
    return 0;
}

int pm_canary_list_write(const pm_job_t *job, pm_error_t *err)
{
    const pm_canaries_t *cs = &job->canaries;
    uint64_t *lines = calloc(cs->n + 1, sizeof *lines);
    uint32_t *shard_of = calloc(cs->n + 1, sizeof *shard_of);
    size_t *order = calloc(cs->n + 1, sizeof *order);
    pm_buf_t path, temp, data, name;
    pm_buf_init(&path);
    pm_buf_init(&temp);
    pm_buf_init(&data);
    pm_buf_init(&name);
    int rc = 0, fd = -1;
    if (!lines || !shard_of || !order || pm_canary_list_path(job->cfg->out_dir, &path) < 0 ||
        pm_temp_path(&temp, path.data) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    for (uint32_t f = 0; f < job->layout.train_shards; f++) {
        size_t first, count;
        pm_job_file_canaries(job, f, &first, &count);
        if (!count)
            continue;
        bool ok = false;
        if ((rc = pm_state_load_file_result_lines(job, f, NULL, lines, &ok, err)) < 0)
            goto done;
        if (!ok) {
            rc = pm_error_set(err, PM_EINTERNAL, NULL, 0,
                              "no result record for train file %u, which holds canaries", f);
            goto done;
        }
        for (size_t i = first; i < first + count; i++)
            shard_of[i] = f;
    }
    for (size_t i = 0; i < cs->n; i++)
        order[cs->v[i].index] = i;
    for (size_t k = 0; k < cs->n; k++) {
        const pm_canary_t *cn = &cs->v[order[k]];
        char hex[33];
        pm_hex128(cn->xxh128, hex);
        if (pm_job_output_name(job, shard_of[order[k]], &name) < 0 ||
            pm_buf_printf(&data,
                          "{\"index\": %u, \"xxh128\": \"%s\", \"shard\": \"%s\", \"line\": %llu, "
                          "\"pile_set_name\": ",
                          cn->index, hex, name.data, (unsigned long long)lines[order[k]]) < 0 ||
            pm_json_escape(&data, job->cfg->components[cn->component].name,
                           strlen(job->cfg->components[cn->component].name)) < 0 ||
            pm_buf_append_str(&data, ", \"text\": ") < 0 ||
            pm_json_escape(&data, cn->text, cn->len) < 0 || pm_buf_append_str(&data, "}\n") < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    if ((fd = pm_temp_create(temp.data, err)) < 0) {
        rc = fd;
        goto done;
    }
    /* The list gives the canaries away: owner only. */
    if (fchmod(fd, 0600) != 0) {
        rc = pm_error_set(err, PM_EIO, temp.data, 0, "cannot chmod: %s", strerror(errno));
        goto done;
    }
    if ((rc = pm_write_all(fd, data.data, data.len, temp.data, err)) < 0)
        goto done;
    rc = pm_temp_commit(fd, temp.data, path.data, err);
    fd = -1;
done:
    if (fd >= 0) {
        close(fd);
        unlink(temp.data);
    }
    free(lines);
    free(shard_of);
    free(order);
    pm_buf_free(&path);
    pm_buf_free(&temp);
    pm_buf_free(&data);
    pm_buf_free(&name);
    return rc;
}

/* jansson's builders say why they failed in a json_error_t; a value that
 * cannot be encoded (a string that is not UTF-8) is a pilemix bug here: the
 * plan refuses such names and the config is JSON already. */
static int build_error(pm_error_t *err, const char *what, const json_error_t *je)
{
    return pm_error_set(err, PM_EINTERNAL, NULL, 0, "cannot build the manifest (%s): %s", what,
                        je->text);
}

/* Format 2: the text bytes per split (so a report can compute the share
 * the epochs ask for) and the document length histogram per split (job.h),
 * each array cut after its last non-zero bucket. */
static int add_split_figures(json_t *comp, const pm_task_stats_t *s, pm_error_t *err)
{
    json_t *bytes = json_object(), *hist = json_object();
    if (!bytes || !hist)
        goto nomem;
    for (int sp = 0; sp < PM_SPLIT_COUNT; sp++) {
        const char *name = pm_split_name(sp);
        if (json_object_set_new(bytes, name, json_integer((json_int_t)s->split_text_bytes[sp])) < 0)
            goto nomem;
        size_t n = PM_LEN_BUCKETS;
        while (n > 0 && s->len_log2[sp][n - 1] == 0)
            n--;
        json_t *a = json_array();
        if (!a || json_object_set_new(hist, name, a) < 0)
            goto nomem;
        for (size_t k = 0; k < n; k++)
            if (json_array_append_new(a, json_integer((json_int_t)s->len_log2[sp][k])) < 0)
                goto nomem;
    }
    if (json_object_set_new(comp, "split_text_bytes", bytes) < 0) {
        bytes = NULL;
        goto nomem;
    }
    if (json_object_set_new(comp, "doc_length_log2", hist) < 0)
        return pm_error_nomem(err);
    return 0;
nomem:
    json_decref(bytes);
    json_decref(hist);
    return pm_error_nomem(err);
}

/* Only for a component with a filter (the manifest of a config without
 * one is as it was): documents filtered, in all and by reason. */
static int add_filtered(json_t *comp, const pm_task_stats_t *s, pm_error_t *err)
{
    json_t *by = json_object();
    if (!by)
        return pm_error_nomem(err);
    for (int r = 1; r < PM_FILTER_REASONS; r++)
        if (json_object_set_new(by, pm_filter_reason_name(r),
                                json_integer((json_int_t)s->filtered[r])) < 0) {
            json_decref(by);
            return pm_error_nomem(err);
        }
    json_t *o = json_pack("{s:I, s:o}", "total", (json_int_t)s->filtered_total, "by_reason", by);
    if (!o || json_object_set_new(comp, "filtered", o) < 0)
        return pm_error_nomem(err);
    return 0;
}

/* Only with output.dedup "exact": the component's documents dropped as
 * exact duplicates, by split, their train copies, and whose copy won
 * ("of": {"Github": 120}: 120 of this component's documents repeat a text
 * Github kept). */
static int add_dedup(const pm_job_t *job, const pm_totals_t *t, size_t c, json_t *comp,
                     pm_error_t *err)
{
    const uint64_t *lost = pm_dedup_lost(&t->dedup, c);
    json_t *of = json_object();
    if (!of)
        return pm_error_nomem(err);
    for (size_t w = 0; w < job->cfg->n_components; w++) {
        uint64_t n = *pm_dedup_pair(&t->dedup, c, w);
        if (n && json_object_set_new(of, job->cfg->components[w].name,
                                     json_integer((json_int_t)n)) < 0) {
            json_decref(of);
            return pm_error_nomem(err);
        }
    }
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:o}", "total", (json_int_t)(lost[0] + lost[1] + lost[2]),
        "train", (json_int_t)lost[0], "val", (json_int_t)lost[1], "test", (json_int_t)lost[2],
        "train_copies_dropped", (json_int_t)*pm_dedup_copies(&t->dedup, c), "of", of);
    if (!o || json_object_set_new(comp, "exact_duplicates", o) < 0)
        return pm_error_nomem(err);
    return 0;
}

/* Component c's manifest object (a new reference in *out). */
static int component_json(const pm_job_t *job, const pm_totals_t *t, const pm_census_t *inputs,
                          size_t c, json_t **out, pm_error_t *err)
{
    *out = NULL;
    int rc = 0;
    const pm_component_cfg_t *cc = &job->cfg->components[c];
    const pm_task_stats_t *s = &t->comp[c];
    json_error_t je;
    json_t *files = json_array(), *reasons = json_object();
    if (!files || !reasons) {
        rc = pm_error_nomem(err);
        goto done;
    }
    uint64_t in_bytes = 0;
    for (size_t i = 0; i < job->plan->n_files; i++) {
        const pm_input_file_t *f = &job->plan->files[i];
        if (f->component != c)
            continue;
        in_bytes += f->size;
        json_t *e =
            json_pack_ex(&je, 0, "{s:s, s:I}", "path", f->relpath, "bytes", (json_int_t)f->size);
        const pm_census_file_t *in = inputs && i < inputs->n_files ? &inputs->files[i] : NULL;
        if (e && in && in->valid) {
            char hex[17];
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)in->xxh3);
            if (json_object_set_new(e, "xxh3", json_string(hex)) < 0 ||
                json_object_set_new(e, "documents", json_integer((json_int_t)in->kept_docs)) < 0 ||
                json_object_set_new(e, "text_bytes", json_integer((json_int_t)in->text_bytes)) <
                    0) {
                json_decref(e);
                rc = pm_error_nomem(err);
                goto done;
            }
        }
        if (!e) {
            rc = build_error(err, f->path, &je);
            goto done;
        }
        if (json_array_append_new(files, e) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    for (int r = 1; r < PM_REC_STATUS_COUNT; r++)
        if (s->rejected[r] && json_object_set_new(reasons, pm_record_status_name(r),
                                                  json_integer((json_int_t)s->rejected[r])) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    *out = json_pack_ex(
        &je, 0,
        "{s:s, s:f, s:f, s:O, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:O}, s:I, s:I, s:I, s:I, s:I, "
        "s:{s:I, s:I, s:I}, s:I, s:{s:I, s:I}}",
        "name", cc->name, "epochs", cc->epochs, "realized_epochs", pm_totals_realized_epochs(t, c),
        "input_files", files, "input_bytes", (json_int_t)in_bytes, "documents", (json_int_t)s->docs,
        "text_bytes", (json_int_t)s->text_bytes, "blank_lines", (json_int_t)s->blank_lines,
        "empty_documents", (json_int_t)s->empty_docs, "bad_records", "total",
        (json_int_t)s->rejected_total, "by_reason", reasons, "skipped_files",
        (json_int_t)s->skipped_files, "train_documents", (json_int_t)s->split_docs[PM_SPLIT_TRAIN],
        "train_documents_sampled_out", (json_int_t)s->train_zero_copies, "val_documents",
        (json_int_t)s->split_docs[PM_SPLIT_VAL], "test_documents",
        (json_int_t)s->split_docs[PM_SPLIT_TEST], "emitted", "train",
        (json_int_t)t->emitted[c][PM_SPLIT_TRAIN], "val", (json_int_t)t->emitted[c][PM_SPLIT_VAL],
        "test", (json_int_t)t->emitted[c][PM_SPLIT_TEST], "emitted_text_bytes_train",
        (json_int_t)s->train_copy_bytes, "holdout_duplicates", "val",
        (json_int_t)t->dups[c][PM_SPLIT_VAL], "test", (json_int_t)t->dups[c][PM_SPLIT_TEST]);
    if (!*out) {
        rc = build_error(err, cc->name, &je);
        goto done;
    }
    if ((rc = add_split_figures(*out, s, err)) == 0 && pm_config_has_shares(job->cfg) &&
        (json_object_set_new(*out, "share_asked", json_real(cc->share)) < 0 ||
         json_object_set_new(*out, "share_realized", json_real(pm_totals_realized_share(t, c))) <
             0))
        rc = pm_error_nomem(err);
    if (rc < 0 || (cc->filter && (rc = add_filtered(*out, s, err)) < 0) ||
        (job->cfg->dedup == PM_DEDUP_EXACT && (rc = add_dedup(job, t, c, *out, err)) < 0)) {
        json_decref(*out);
        *out = NULL;
    }
done:
    json_decref(files);
    json_decref(reasons);
    return rc;
}

/* Append output file name's entry to files, and its line to sums. */
static int add_file(json_t *files, pm_buf_t *sums, const char *name, const char *split,
                    const pm_file_result_t *r, pm_error_t *err)
{
    char raw[33], zst[33];
    pm_hex128(r->raw_xxh128, raw);
    pm_hex128(r->zst_xxh128, zst);
    json_error_t je;
    json_t *o = json_pack_ex(&je, 0, "{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:s}", "path", name,
                             "split", split, "documents", (json_int_t)r->docs, "text_bytes",
                             (json_int_t)r->text_bytes, "uncompressed_bytes",
                             (json_int_t)r->raw_bytes, "compressed_bytes", (json_int_t)r->zst_bytes,
                             "xxh128_uncompressed", raw, "xxh128_compressed", zst);
    if (!o)
        return build_error(err, name, &je);
    if (json_array_append_new(files, o) < 0 || pm_buf_printf(sums, "%s  %s\n", zst, name) < 0)
        return pm_error_nomem(err);
    return 0;
}

int pm_manifest_write(const pm_job_t *job, const pm_totals_t *t, bool has_rejects,
                      const pm_file_result_t *rejects, const pm_census_t *inputs, pm_error_t *err)
{
    const pm_config_t *cfg = job->cfg;
    json_error_t je;
    json_t *canon = json_loads(cfg->canonical_json, 0, &je);
    json_t *comps = json_array(), *files = json_array(), *root = NULL;
    pm_buf_t name, sums, path;
    pm_buf_init(&name);
    pm_buf_init(&sums);
    pm_buf_init(&path);
    char *text = NULL;
    int rc = 0;
    if (!canon) {
        rc = pm_error_set(err, PM_EINTERNAL, NULL, 0,
                          "cannot read back the config's canonical form: %s", je.text);
        goto done;
    }
    if (!comps || !files) {
        rc = pm_error_nomem(err);
        goto done;
    }
    for (size_t c = 0; c < cfg->n_components; c++) {
        json_t *o = NULL;
        if ((rc = component_json(job, t, inputs, c, &o, err)) < 0)
            goto done;
        if (json_array_append_new(comps, o) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
    }
    for (uint32_t f = 0; f < t->n_files; f++) {
        if (pm_job_output_name(job, f, &name) < 0) {
            rc = pm_error_nomem(err);
            goto done;
        }
        const char *split = pm_split_name(pm_layout_file_split(&job->layout, f));
        if ((rc = add_file(files, &sums, name.data, split, &t->files[f], err)) < 0)
            goto done;
    }
    if (has_rejects &&
        (rc = add_file(files, &sums, "rejects/rejects.jsonl", "rejects", rejects, err)) < 0)
        goto done;
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->canonical_hash);
    /* Nothing about how the work was cut (layout, passes, ranks) goes in:
     * the manifest is as deterministic as the data files. */
    root =
        json_pack_ex(&je, 0, "{s:i, s:s, s:s, s:s, s:s, s:I, s:O, s:O, s:O}", "format",
                     PM_MANIFEST_FORMAT, "pilemix_version", PM_VERSION, "zstd_version",
                     ZSTD_versionString(), "name", cfg->name, "config_hash", hash, "seed",
                     (json_int_t)cfg->seed, "config", canon, "components", comps, "files", files);
    if (!root) {
        rc = build_error(err, "top level", &je);
        goto done;
    }
    /* Only with canaries (other manifests stay as they were): that there
     * are some and how many, never what they are. */
    if (job->canaries.n &&
        json_object_set_new(root, "canaries",
                            json_pack("{s:I, s:s}", "count", (json_int_t)job->canaries.n, "list",
                                      "kept outside the dataset by whoever built it")) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!text || pm_buf_printf(&path, "%s/manifest.json", cfg->out_dir) < 0) {
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory writing the manifest");
        goto done;
    }
    size_t n = strlen(text);
    pm_buf_t withnl;
    pm_buf_init(&withnl);
    if (pm_buf_append(&withnl, text, n) < 0 || pm_buf_append_char(&withnl, '\n') < 0)
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory writing the manifest");
    else
        rc = pm_write_file_atomic(path.data, withnl.data, withnl.len, err);
    pm_buf_free(&withnl);
    if (rc < 0)
        goto done;
    pm_buf_reset(&path);
    if (pm_buf_printf(&path, "%s/XXH128SUMS", cfg->out_dir) < 0) {
        rc = pm_error_nomem(err);
        goto done;
    }
    rc = pm_write_file_atomic(path.data, sums.data ? sums.data : "", sums.len, err);
done:
    free(text);
    json_decref(root);
    json_decref(canon);
    json_decref(comps);
    json_decref(files);
    pm_buf_free(&name);
    pm_buf_free(&sums);
    pm_buf_free(&path);
    return rc;
}

json_t *pm_manifest_load(const char *dir, pm_error_t *err)
{
    pm_buf_t p;
    pm_buf_init(&p);
    if (pm_buf_printf(&p, "%s/manifest.json", dir) < 0) {
        pm_error_nomem(err);
        return NULL;
    }
    json_t *m = NULL;
    json_error_t je;
    /* Open it first: for a file it cannot open, jansson reports line -1
     * and repeats the path; say plainly what is wrong instead. */
    int fd = open(p.data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        pm_error_set(err, PM_EDATA, p.data, 0,
                     "cannot open: %s (is %s a pilemix output directory?)", strerror(errno), dir);
    } else if (!(m = json_loadfd(fd, 0, &je))) {
        pm_error_set(err, PM_EDATA, p.data, 0, "cannot read manifest: %s", je.text);
        pm_error_set_position(err, je.line, je.column);
    } else if (!json_is_array(json_object_get(m, "files")) ||
               !json_is_array(json_object_get(m, "components"))) {
        pm_error_set(err, PM_EDATA, p.data, 0, "not a pilemix manifest (no files/components)");
        json_decref(m);
        m = NULL;
    }
    if (fd >= 0)
        close(fd);
    pm_buf_free(&p);
    return m;
}
