#include "pilemix/manifest.h"

#include "pilemix/fsutil.h"
#include "pilemix/record.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
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
    for (uint32_t task = 0; task < job->plan->n_files && rc == 0; task++) {
        rc = pm_job_rejects_path(job, task, &src);
        if (rc < 0 || !pm_path_exists(src.data))
            continue;
        if (fd < 0) {
            rc = pm_buf_printf(&dir, "%s/rejects", job->cfg->out_dir);
            rc = rc ? rc : pm_buf_printf(&final, "%s/rejects.jsonl", dir.data);
            rc = rc ? rc : pm_temp_path(&temp, final.data);
            if (rc < 0)
                break;
            if ((rc = pm_mkdir_p(dir.data, err)) < 0)
                break;
            if ((fd = pm_temp_create(temp.data, err)) < 0) {
                rc = fd;
                break;
            }
        }
        pm_buf_reset(&data);
        if ((rc = pm_read_file(src.data, &data, err)) < 0)
            break;
        XXH3_128bits_update(&st, data.data, data.len);
        res->raw_bytes += data.len;
        for (size_t i = 0; i < data.len; i++)
            res->docs += data.data[i] == '\n';
        rc = pm_write_all(fd, data.data, data.len, temp.data, err);
    }
    if (rc == 0 && fd >= 0) {
        rc = pm_temp_commit(fd, temp.data, final.data, err);
        fd = -1;
        if (rc == 0) {
            *written = true;
            res->zst_bytes = res->raw_bytes; /* stored plain */
            digest_of(&st, res->raw_xxh128);
            memcpy(res->zst_xxh128, res->raw_xxh128, 16);
        }
    }
    if (fd >= 0) {
        close(fd);
        unlink(temp.data);
    }
    if (rc < 0 && err && !err->msg[0])
        pm_error_set(err, rc, NULL, 0, "cannot merge rejects");
    pm_buf_free(&src);
    pm_buf_free(&dir);
    pm_buf_free(&final);
    pm_buf_free(&temp);
    pm_buf_free(&data);
    return rc;
}

static json_t *u64(uint64_t v) { return json_integer((json_int_t)v); }

static json_t *hex_of(const unsigned char d[16])
{
    char h[33];
    pm_hex128(d, h);
    return json_string(h);
}

static json_t *component_json(const pm_job_t *job, const pm_totals_t *t, size_t c)
{
    const pm_component_cfg_t *cc = &job->cfg->components[c];
    const pm_task_stats_t *s = &t->comp[c];
    json_t *files = json_array();
    uint64_t in_bytes = 0;
    for (size_t i = 0; i < job->plan->n_files; i++) {
        const pm_input_file_t *f = &job->plan->files[i];
        if (f->component != c)
            continue;
        in_bytes += f->size;
        json_array_append_new(files,
                              json_pack("{s:s, s:o}", "path", f->relpath, "bytes", u64(f->size)));
    }
    json_t *reasons = json_object();
    for (int r = 1; r < PM_REC_STATUS_COUNT; r++)
        if (s->rejected[r])
            json_object_set_new(reasons, pm_record_status_name(r), u64(s->rejected[r]));
    json_t *o = json_pack("{s:s, s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o}", "name", cc->name,
                          "epochs", cc->epochs, "realized_epochs", pm_totals_realized_epochs(t, c),
                          "input_files", files, "input_bytes", u64(in_bytes), "documents",
                          u64(s->docs), "text_bytes", u64(s->text_bytes), "blank_lines",
                          u64(s->blank_lines), "empty_documents", u64(s->empty_docs));
    json_object_set_new(
        o, "bad_records",
        json_pack("{s:o, s:o}", "total", u64(s->rejected_total), "by_reason", reasons));
    json_object_set_new(o, "skipped_files", u64(s->skipped_files));
    json_object_set_new(o, "train_documents", u64(s->split_docs[PM_SPLIT_TRAIN]));
    json_object_set_new(o, "train_documents_sampled_out", u64(s->train_zero_copies));
    json_object_set_new(o, "val_documents", u64(s->split_docs[PM_SPLIT_VAL]));
    json_object_set_new(o, "test_documents", u64(s->split_docs[PM_SPLIT_TEST]));
    json_object_set_new(o, "emitted",
                        json_pack("{s:o, s:o, s:o}", "train", u64(t->emitted[c][PM_SPLIT_TRAIN]),
                                  "val", u64(t->emitted[c][PM_SPLIT_VAL]), "test",
                                  u64(t->emitted[c][PM_SPLIT_TEST])));
    json_object_set_new(o, "emitted_text_bytes_train", u64(s->train_copy_bytes));
    json_object_set_new(o, "holdout_duplicates",
                        json_pack("{s:o, s:o}", "val", u64(t->dups[c][PM_SPLIT_VAL]), "test",
                                  u64(t->dups[c][PM_SPLIT_TEST])));
    return o;
}

static json_t *file_json(const char *name, const char *split, const pm_file_result_t *r)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "path", name, "split", split,
                     "documents", u64(r->docs), "text_bytes", u64(r->text_bytes),
                     "uncompressed_bytes", u64(r->raw_bytes), "compressed_bytes", u64(r->zst_bytes),
                     "xxh128_uncompressed", hex_of(r->raw_xxh128), "xxh128_compressed",
                     hex_of(r->zst_xxh128));
}

int pm_manifest_write(const pm_job_t *job, const pm_totals_t *t, bool has_rejects,
                      const pm_file_result_t *rejects, pm_error_t *err)
{
    const pm_config_t *cfg = job->cfg;
    json_error_t je;
    json_t *canon = json_loads(cfg->canonical_json, 0, &je);
    json_t *comps = json_array(), *files = json_array();
    pm_buf_t name, sums, path;
    pm_buf_init(&name);
    pm_buf_init(&sums);
    pm_buf_init(&path);
    int rc = 0;
    for (size_t c = 0; c < cfg->n_components; c++)
        json_array_append_new(comps, component_json(job, t, c));
    for (uint32_t f = 0; f < t->n_files && rc == 0; f++) {
        rc = pm_job_output_name(job, f, &name);
        const char *split = f < job->layout.train_shards    ? "train"
                            : f == job->layout.train_shards ? "val"
                                                            : "test";
        json_array_append_new(files, file_json(name.data, split, &t->files[f]));
        char h[33];
        pm_hex128(t->files[f].zst_xxh128, h);
        rc = rc ? rc : pm_buf_printf(&sums, "%s  %s\n", h, name.data);
    }
    if (has_rejects && rc == 0) {
        json_array_append_new(files, file_json("rejects/rejects.jsonl", "rejects", rejects));
        char h[33];
        pm_hex128(rejects->zst_xxh128, h);
        rc = pm_buf_printf(&sums, "%s  rejects/rejects.jsonl\n", h);
    }
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->canonical_hash);
    /* Nothing about how the work was cut (layout, passes, ranks) goes in:
     * the manifest is as deterministic as the data files. */
    json_t *root =
        json_pack("{s:i, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "format", PM_MANIFEST_FORMAT,
                  "pilemix_version", PM_VERSION, "zstd_version", ZSTD_versionString(), "name",
                  cfg->name, "config_hash", hash, "seed", u64(cfg->seed), "config",
                  canon ? canon : json_null(), "components", comps, "files", files);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text || rc < 0) {
        rc = pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory building the manifest");
    } else {
        size_t n = strlen(text);
        pm_buf_printf(&path, "%s/manifest.json", cfg->out_dir);
        pm_buf_t withnl;
        pm_buf_init(&withnl);
        rc = pm_buf_append(&withnl, text, n);
        rc = rc ? rc : pm_buf_append_char(&withnl, '\n');
        rc = rc ? rc : pm_write_file_atomic(path.data, withnl.data, withnl.len, err);
        pm_buf_free(&withnl);
        if (rc == 0) {
            pm_buf_reset(&path);
            pm_buf_printf(&path, "%s/XXH128SUMS", cfg->out_dir);
            rc = pm_write_file_atomic(path.data, sums.data, sums.len, err);
        }
    }
    free(text);
    pm_buf_free(&name);
    pm_buf_free(&sums);
    pm_buf_free(&path);
    return rc;
}
