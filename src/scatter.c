#include "pilemix/scatter.h"

#include "pilemix/dedup.h"
#include "pilemix/fault.h"
#include "pilemix/filter.h"
#include "pilemix/fsutil.h"
#include "pilemix/source.h"
#include "pilemix/spill.h"
#include "pilemix/stop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

/* Poll (serve other ranks' requests, check for failures) every this many
 * records or bytes, whichever comes first: by records alone, a file of 1 MB
 * documents would leave the other ranks waiting for seconds. */
#define POLL_EVERY_RECORDS 4096u
#define POLL_EVERY_BYTES (1u << 20)
#define REJECT_RAW_MAX 4096u

typedef struct task_ctx {
    const pm_job_t *job;
    uint32_t task;
    const pm_input_file_t *file;
    const char *component;
    pm_record_keys_t keys;
    pm_task_stats_t *stats;
    pm_spill_stream_t *stream;
    pm_source_t *src;
    int rejects_fd;
    pm_buf_t rejects_path, rejects_temp, line_out;
    /* The current member: its identity hash and path (rejects name it). */
    uint32_t member;
    uint64_t fh;
    pm_buf_t ident;
    const char *where; /* "file" or "file:member" */
    bool file_fault;   /* the error is the input file's (corrupt, truncated, changed) */
} task_ctx_t;

static bool is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return false;
    return true;
}

static int write_reject(task_ctx_t *t, const pm_line_t *line, const char *reason,
                        const char *detail, size_t column, pm_error_t *err)
{
    if (t->rejects_fd < 0) {
        if (pm_job_rejects_path(t->job, t->task, &t->rejects_path) < 0 ||
            pm_temp_path(&t->rejects_temp, t->rejects_path.data) < 0)
            return pm_error_nomem(err);
        t->rejects_fd = pm_temp_create(t->rejects_temp.data, err);
        if (t->rejects_fd < 0)
            return t->rejects_fd;
    }
    pm_buf_t *b = &t->line_out;
    pm_buf_reset(b);
    size_t raw = line->len < REJECT_RAW_MAX ? line->len : REJECT_RAW_MAX;
    int rc = pm_buf_append_str(b, "{\"component\": ");
    rc = rc ? rc : pm_json_escape(b, t->component, strlen(t->component));
    rc = rc ? rc : pm_buf_append_str(b, ", \"file\": ");
    const char *ident = t->ident.len ? t->ident.data : t->file->relpath;
    rc = rc ? rc : pm_json_escape_lossy(b, ident, strlen(ident));
    rc = rc ? rc
            : pm_buf_printf(b,
                            ", \"line\": %llu, \"offset\": %llu, \"column\": %llu, \"reason\": "
                            "\"%s\", \"detail\": ",
                            (unsigned long long)line->lineno, (unsigned long long)line->offset,
                            (unsigned long long)column, reason);
    rc = rc ? rc : pm_json_escape_lossy(b, detail, strlen(detail));
    rc = rc ? rc
            : pm_buf_printf(b, ", \"bytes\": %llu, \"raw\": ", (unsigned long long)line->full_len);
    rc = rc ? rc : pm_json_escape_lossy(b, line->data, raw);
    rc = rc ? rc : pm_buf_append_str(b, "}\n");
    if (rc < 0)
        return pm_error_set(err, rc, t->rejects_temp.data, 0, "out of memory");
    return pm_write_all(t->rejects_fd, b->data, b->len, t->rejects_temp.data, err);
}

/* The plan recorded size and mtime; identity offsets and resume both rely on
 * the file being the one that was planned. */
static int check_unchanged(const pm_input_file_t *f, const char *when, pm_error_t *err)
{
    struct stat st;
    if (stat(f->path, &st) != 0)
        return pm_error_set(err, PM_EIO, f->path, 0, "cannot stat (vanished %s?): %s", when,
                            strerror(errno));
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if ((uint64_t)st.st_size != f->size || mtime != f->mtime_ns)
        return pm_error_set(err, PM_EDATA, f->path, 0,
                            "file changed %s (size %llu -> %llu bytes%s)", when,
                            (unsigned long long)f->size, (unsigned long long)st.st_size,
                            mtime != f->mtime_ns ? ", modification time changed" : "");
    return 0;
}

/* A bad record: fail, or count it and keep its line in the rejects file. */
static int handle_bad(task_ctx_t *t, const pm_line_t *line, int status, const char *detail,
                      uint64_t lineno, size_t column, pm_error_t *err)
{
    const pm_config_t *cfg = t->job->cfg;
    /* A file cut or rewritten under us shows up as broken lines first: say
     * what really happened (and let on_bad_file decide). */
    int changed = check_unchanged(t->file, "while being read", err);
    if (changed < 0) {
        t->file_fault = true;
        return changed;
    }
    if (cfg->on_bad_record == PM_ON_BAD_FAIL) {
        pm_error_set(err, PM_EDATA, t->where, lineno,
                     "bad record (%s): %s (set run.on_bad_record to \"skip\" to skip bad records)",
                     pm_record_status_name(status), detail);
        if (err)
            err->column = column;
        return PM_EDATA;
    }
    t->stats->rejected[status]++;
    t->stats->rejected_total++;
    if (t->stats->rejected_total > cfg->max_bad_records)
        return pm_error_set(err, PM_EDATA, t->where, lineno,
                            "more than %llu bad records (run.max_bad_records); last: %s: %s",
                            (unsigned long long)cfg->max_bad_records, pm_record_status_name(status),
                            detail);
    pm_line_t at = *line;
    at.lineno = lineno; /* an array element or a text: the line of the problem */
    return write_reject(t, &at, pm_record_status_name(status), detail, column, err);
}

static int emit(task_ctx_t *t, uint64_t offset, const char *text, size_t text_len, const char *meta,
                size_t meta_len, pm_error_t *err)
{
    const pm_job_t *job = t->job;
    pm_task_stats_t *st = t->stats;
    const pm_filter_t *filter = job->cfg->components[t->file->component].filter;
    if (filter) {
        /* Before the split: a filtered document is in no split at all. */
        pm_filter_reason_t why = pm_filter_eval(filter, meta ? meta : "", meta ? meta_len : 0);
        if (why != PM_FILTER_KEEP) {
            st->filtered[why]++;
            st->filtered_total++;
            return 0;
        }
    }
    pm_split_t split = pm_mix_split(&job->mix, text, text_len);
    pm_spill_rec_t sr = {0,
                         offset,
                         t->task,
                         0,
                         (uint32_t)text_len,
                         job->cfg->keep_meta ? (uint32_t)meta_len : 0,
                         t->member,
                         0};
    meta = meta ? meta : "";
    if (job->layout.dedup_buckets) {
        /* Exact dedup: the document's digest, to its dedup bucket (dedup.h). */
        XXH128_hash_t h = XXH3_128bits(text, text_len);
        pm_dedup_payload_t pl = {
            h.low64,
            split == PM_SPLIT_TRAIN ? t->fh : pm_mix_holdout_key(&job->mix, text, text_len),
            (uint32_t)split, t->member};
        pm_spill_rec_t dr = {h.high64, offset, t->task, 0, (uint32_t)sizeof pl, 0, t->member, 0};
        PM_TRY(pm_spill_stream_add(t->stream, pm_layout_dedup_bucket(&job->layout, h.high64), &dr,
                                   (const char *)&pl, "", err));
    }
    st->split_docs[split]++;
    st->split_text_bytes[split] += text_len;
    st->len_log2[split][pm_len_bucket(text_len)]++;
    st->text_bytes += text_len;
    if (split != PM_SPLIT_TRAIN) {
        sr.key = pm_mix_holdout_key(&job->mix, text, text_len);
        return pm_spill_stream_add(t->stream, pm_layout_bucket(&job->layout, split, sr.key), &sr,
                                   text, meta, err);
    }
    uint32_t copies =
        pm_mix_copies(&job->mix, t->fh, offset, job->cfg->components[t->file->component].epochs);
    if (copies == 0)
        st->train_zero_copies++;
    for (uint32_t c = 0; c < copies; c++) {
        sr.copy = c;
        sr.key = pm_mix_train_key(&job->mix, t->fh, offset, c);
        PM_TRY(pm_spill_stream_add(t->stream,
                                   pm_layout_bucket(&job->layout, PM_SPLIT_TRAIN, sr.key), &sr,
                                   text, meta, err));
    }
    st->train_copies += copies;
    st->train_copy_bytes += (uint64_t)copies * text_len;
    return 0;
}

/* Line and column of byte `at` of a document that starts at (line, col). */
static void position(const char *p, size_t at, uint64_t line, uint64_t col, uint64_t *out_line,
                     uint64_t *out_col)
{
    size_t last = (size_t)-1;
    for (size_t i = 0; i < at; i++)
        if (p[i] == '\n') {
            line++;
            last = i;
        }
    *out_line = line;
    *out_col = last == (size_t)-1 ? col + at : at - last;
}

/* A member begins: its identity hash (DESIGN 1.3 over relpath/member) and
 * the name rejects and messages use. */
static int enter_member(task_ctx_t *t, const pm_doc_t *doc, pm_error_t *err)
{
    t->member = doc->member;
    pm_buf_reset(&t->ident);
    if (doc->member == 0) {
        t->fh = t->job->file_hash[t->task];
        return 0;
    }
    if (pm_buf_printf(&t->ident, "%s/%s", t->file->relpath, doc->member_path) < 0)
        return pm_error_nomem(err);
    t->fh = pm_file_hash(t->component, t->ident.data);
    return 0;
}

static int process_docs(task_ctx_t *t, pm_source_t *src, pm_poll_fn poll, void *poll_ctx,
                        pm_error_t *err)
{
    pm_record_t rec;
    pm_record_init(&rec);
    pm_doc_t doc;
    pm_task_stats_t *st = t->stats;
    int rc;
    uint32_t since_poll = 0;
    size_t bytes_since_poll = 0;
    t->member = UINT32_MAX;
    for (;;) {
        rc = pm_source_next(src, &doc, err);
        if (rc <= 0) {
            t->file_fault = rc < 0; /* corrupt or truncated input, a read error */
            break;
        }
        const pm_line_t *line = &doc.line;
        t->where = doc.where;
        if (doc.member != t->member && (rc = enter_member(t, &doc, err)) < 0)
            break;
        st->lines++;
        if ((rc = pm_fault_hit("scatter-record", t->task, err)) < 0)
            break;
        bytes_since_poll += line->len;
        /* A stop request (a signal) polls at once: the next record boundary. */
        if (poll && (++since_poll >= POLL_EVERY_RECORDS || bytes_since_poll >= POLL_EVERY_BYTES ||
                     pm_stop_requested)) {
            since_poll = 0;
            bytes_since_poll = 0;
            if ((rc = poll(poll_ctx, pm_source_bytes_in(src))) < 0)
                break;
        }
        const char *data = line->data;
        size_t len = line->len;
        if (line->offset == 0 && len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
            data += 3; /* a BOM is not part of the first record */
            len -= 3;
        }
        if (doc.kind == PM_DOC_JSON && !line->too_long && is_blank(data, len)) {
            st->blank_lines++;
            continue;
        }
        st->docs++;
        if (line->too_long) {
            char detail[112];
            snprintf(detail, sizeof detail, "%s of %llu bytes exceeds run.max_record_bytes (%llu)",
                     doc.kind == PM_DOC_TEXT ? "text" : "line", (unsigned long long)line->full_len,
                     (unsigned long long)t->job->cfg->max_record_bytes);
            if ((rc = handle_bad(t, line, PM_REC_TOO_LONG, detail, line->lineno, 0, err)) < 0)
                break;
            continue;
        }
        if (doc.kind == PM_DOC_TEXT) {
            /* A whole text is taken as is: it must be UTF-8. */
            size_t good = pm_utf8_valid_prefix(data, len);
            if (good < len) {
                uint64_t l, c;
                size_t at = good + (size_t)(data - line->data);
                position(line->data, at, 1, 1, &l, &c);
                char detail[96];
                snprintf(detail, sizeof detail, "invalid UTF-8 at byte %zu (byte 0x%02x)", at,
                         (unsigned char)line->data[at]);
                if ((rc = handle_bad(t, line, PM_REC_BAD_UTF8, detail, l, (size_t)c, err)) < 0)
                    break;
                continue;
            }
            if (len == 0) {
                st->empty_docs++;
                continue;
            }
            if ((rc = emit(t, line->offset, data, len, NULL, 0, err)) < 0)
                break;
            continue;
        }
        int status = pm_record_parse_keys(&rec, data, len, &t->keys);
        if (status < 0) {
            rc = pm_error_set(err, status, t->where, line->lineno, "out of memory");
            break;
        }
        if (status != PM_REC_OK) {
            uint64_t l = line->lineno, c = 0;
            if (rec.error_column)
                position(line->data, rec.error_column - 1 + (size_t)(data - line->data),
                         line->lineno, doc.column, &l, &c);
            if ((rc = handle_bad(t, line, status, rec.error_msg, l, (size_t)c, err)) < 0)
                break;
            continue;
        }
        if (rec.text.len == 0) {
            st->empty_docs++;
            continue;
        }
        if ((rc = emit(t, line->offset, rec.text.data, rec.text.len, rec.meta.data, rec.meta.len,
                       err)) < 0)
            break;
    }
    pm_record_free(&rec);
    return rc;
}

/* Stream the file into the spill; on success everything is ready to commit. */
static int read_task(task_ctx_t *t, pm_poll_fn poll, void *poll_ctx, pm_error_t *err)
{
    const pm_input_file_t *file = t->file;
    const pm_job_t *job = t->job;
    const pm_component_cfg_t *cc = &job->cfg->components[file->component];
    t->file_fault = true;
    PM_TRY(check_unchanged(file, "since the run was planned", err));
    pm_source_opts_t so = {(size_t)job->cfg->max_record_bytes, file->relpath, cc->exclude,
                           cc->n_exclude, true};
    PM_TRY(pm_source_open(&t->src, file->path, file->path, file->format, &so, err));
    t->file_fault = false;
    PM_TRY(process_docs(t, t->src, poll, poll_ctx, err));
    /* A file rewritten or appended to while we read it gives a mix of two
     * versions: refuse it rather than emit that. */
    t->file_fault = true;
    if (pm_source_bytes_in(t->src) != file->size)
        return pm_error_set(err, PM_EDATA, file->path, 0,
                            "file changed while being read (%llu bytes read, %llu planned)",
                            (unsigned long long)pm_source_bytes_in(t->src),
                            (unsigned long long)file->size);
    PM_TRY(check_unchanged(file, "while being read", err));
    t->file_fault = false;
    /* The file's XXH3-64 came with the reads, unless they were out of order
     * (a zip): then one more pass over its bytes. */
    if (!pm_source_file_hash(t->src, file->size, &t->stats->file_xxh3)) {
        uint64_t size = 0;
        PM_TRY(pm_file_xxh3(file->path, &t->stats->file_xxh3, &size, err));
        if (size != file->size)
            return pm_error_set(err, PM_EDATA, file->path, 0, "file changed while being read");
    }
    return 0;
}

static void discard_rejects(task_ctx_t *t)
{
    if (t->rejects_fd >= 0) {
        close(t->rejects_fd);
        unlink(t->rejects_temp.data);
        t->rejects_fd = -1;
    }
}

int pm_scatter_blob_stats(const void *blob, size_t len, pm_task_stats_t *stats, pm_error_t *err)
{
    if (len < sizeof *stats)
        return pm_error_set(err, PM_ESTATE, NULL, 0,
                            "spill commit blob of %zu bytes, too short for the task counters", len);
    memcpy(stats, blob, sizeof *stats);
    return 0;
}

/* Queue the task's commit: its blob is the counters, then the member names
 * of an archive (pm_task_blob_encode; the gather orders and names archive
 * documents by them). A skipped file commits no members. */
static int commit_task(task_ctx_t *t, bool with_members, pm_error_t *err)
{
    uint32_t n = with_members && t->src ? pm_source_members(t->src) : 0;
    char **names = n ? malloc(n * sizeof *names) : NULL;
    if (n && !names)
        return pm_error_nomem(err);
    for (uint32_t i = 0; i < n; i++)
        names[i] = (char *)pm_source_member(t->src, i + 1);
    pm_buf_t blob;
    pm_buf_init(&blob);
    int rc = pm_task_blob_encode(&blob, t->stats, names, n);
    free(names);
    if (rc < 0)
        rc = pm_error_nomem(err);
    else
        rc = pm_spill_stream_end_task(t->stream, blob.data, blob.len, err);
    pm_buf_free(&blob);
    return rc;
}

/* on_bad_file "skip": nothing of the file is emitted; the file is listed in
 * the rejects with the reason and counted, and the task commits empty. */
static int skip_file(task_ctx_t *t, pm_error_t *err)
{
    char detail[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 32];
    if (err) /* name the file by its identity path: rejects are output, and
              * must not depend on where the data is mounted */
        snprintf(err->file, sizeof err->file, "%s", t->file->relpath);
    pm_error_format(err, detail, sizeof detail);
    discard_rejects(t);
    pm_spill_stream_drop_task(t->stream);
    pm_task_stats_t *st = t->stats;
    memset(st, 0, sizeof *st);
    st->bytes_in = t->file->size;
    st->skipped_files = 1;
    uint64_t size; /* a skipped file's bytes are recorded too (0 when unreadable) */
    if (pm_file_xxh3(t->file->path, &st->file_xxh3, &size, NULL) < 0)
        st->file_xxh3 = 0;
    pm_line_t none = {.data = "", .len = 0, .offset = 0, .lineno = 0};
    pm_error_clear(err);
    pm_buf_reset(&t->ident); /* the whole file */
    PM_TRY(write_reject(t, &none, "bad_file", detail, 0, err));
    int rc = pm_temp_commit(t->rejects_fd, t->rejects_temp.data, t->rejects_path.data, err);
    t->rejects_fd = -1;
    PM_TRY(rc);
    return commit_task(t, false, err);
}

int pm_scatter_task(const pm_job_t *job, pm_spill_stream_t *stream, uint32_t task,
                    pm_task_stats_t *stats, pm_poll_fn poll, void *poll_ctx, pm_error_t *err)
{
    memset(stats, 0, sizeof *stats);
    const pm_input_file_t *file = &job->plan->files[task];
    task_ctx_t t = {
        .job = job, .task = task, .file = file, .stats = stats, .stream = stream, .rejects_fd = -1};
    t.component = pm_job_file_component(job, task);
    const pm_component_cfg_t *cc = &job->cfg->components[file->component];
    t.keys = (pm_record_keys_t){
        cc->text_key ? cc->text_key : "text", cc->text_key ? strlen(cc->text_key) : 4,
        cc->meta_key ? cc->meta_key : "meta", cc->meta_key ? strlen(cc->meta_key) : 4};
    t.where = file->path;
    stats->bytes_in = file->size;
    int rc = pm_spill_stream_begin_task(stream, task, err);
    if (rc < 0)
        goto done;
    rc = read_task(&t, poll, poll_ctx, err);
    if (rc < 0 && t.file_fault && job->cfg->on_bad_file == PM_ON_BAD_SKIP) {
        rc = skip_file(&t, err);
        goto done;
    }
    if (rc < 0)
        goto done;
    /* Commit: rejects first, then the task's commit record, which the
     * stream writes after the run holding the task's last records. */
    if (t.rejects_fd >= 0) {
        rc = pm_temp_commit(t.rejects_fd, t.rejects_temp.data, t.rejects_path.data, err);
        t.rejects_fd = -1;
        if (rc < 0)
            goto done;
    }
    rc = commit_task(&t, true, err);
done:
    discard_rejects(&t);
    if (rc < 0)
        pm_spill_stream_drop_task(stream);
    pm_source_close(t.src);
    pm_buf_free(&t.ident);
    pm_buf_free(&t.rejects_path);
    pm_buf_free(&t.rejects_temp);
    pm_buf_free(&t.line_out);
    return rc;
}
