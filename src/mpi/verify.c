/* verify: re-read every output file and hold it against the manifest.
 * stats: print the manifest's tables. See verify.h. */
#include "verify.h"

#include "peers.h"

#include "pilemix/buf.h"
#include "pilemix/error.h"
#include "pilemix/manifest.h"
#include "pilemix/shard_writer.h"
#include "pilemix/summary.h"
#include "pilemix/table.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>
#include <zstd.h>

#define MAX_REPORTS_PER_FILE 5

typedef struct file_check {
    const char *dir, *name;
    int problems;
} file_check_t;

static void problem(file_check_t *fc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(file_check_t *fc, const char *fmt, ...)
{
    fc->problems++;
    if (fc->problems > MAX_REPORTS_PER_FILE)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pilemix: verify: %s/%s: ", fc->dir, fc->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

/* Print a failed load (verify, stats): "pilemix: CMD: file:line:col: msg". */
static void report_load(const char *cmd, int rank, pm_error_t *err)
{
    PM_ERROR_CHECK(err, PM_EDATA);
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(err, line, sizeof line);
    if (rank == 0)
        fprintf(stderr, "pilemix: %s: %s\n", cmd, line);
    else
        fprintf(stderr, "pilemix: %s (rank %d): %s\n", cmd, rank, line);
}

/* Line checks for one decompressed chunk; carries partial lines over. */
typedef struct line_state {
    pm_buf_t partial;
    uint64_t lines;
    uint64_t bad_lines;
    uint64_t first_bad;
    char first_reason[160];
    bool check_json; /* data files: every line a Pile record; rejects: any line */
} line_state_t;

static void check_line(line_state_t *ls, const char *p, size_t n)
{
    ls->lines++;
    if (!ls->check_json)
        return;
    const char *why = NULL;
    json_error_t je;
    json_t *o = NULL;
    if (n == 0) {
        why = "blank line";
    } else if (!(o = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je))) {
        why = je.text;
    } else if (!json_is_string(json_object_get(o, "text"))) {
        why = "no \"text\" string";
    } else if (!json_is_string(json_object_get(json_object_get(o, "meta"), "pile_set_name"))) {
        why = "no \"meta.pile_set_name\" string";
    }
    if (why) {
        if (!ls->bad_lines++) {
            ls->first_bad = ls->lines;
            snprintf(ls->first_reason, sizeof ls->first_reason, "%s", why);
        }
    }
    json_decref(o);
}

static void feed_lines(line_state_t *ls, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        if (!nl) {
            pm_buf_append(&ls->partial, p, n);
            return;
        }
        size_t k = (size_t)(nl - p);
        if (ls->partial.len) {
            pm_buf_append(&ls->partial, p, k);
            check_line(ls, ls->partial.data, ls->partial.len);
            pm_buf_reset(&ls->partial);
        } else {
            check_line(ls, p, k);
        }
        p += k + 1;
        n -= k + 1;
    }
}

static uint64_t jint(json_t *o, const char *k)
{
    return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void check_file(const char *dir, json_t *entry, int *problems)
{
    const char *name = json_string_value(json_object_get(entry, "path"));
    file_check_t fc = {dir, name ? name : "?", 0};
    if (!name) {
        problem(&fc, "manifest entry without a path");
        *problems += 1;
        return;
    }
    bool compressed = strstr(name, ".zst") != NULL;
    pm_buf_t path;
    pm_buf_init(&path);
    if (pm_buf_printf(&path, "%s/%s", dir, name) < 0) {
        problem(&fc, "out of memory");
        *problems += fc.problems;
        return;
    }
    int fd = open(path.data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        problem(&fc, errno == ENOENT ? "missing file" : "cannot open: %s", strerror(errno));
        *problems += fc.problems;
        pm_buf_free(&path);
        return;
    }
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize();
    char *in = malloc(in_cap), *out = malloc(out_cap);
    ZSTD_DCtx *dctx = ZSTD_createDCtx();
    if (!in || !out || !dctx) {
        problem(&fc, "out of memory");
        *problems += fc.problems;
        ZSTD_freeDCtx(dctx);
        free(in);
        free(out);
        pm_buf_free(&path);
        close(fd);
        return;
    }
    XXH3_state_t zh, rh;
    XXH3_128bits_reset(&zh);
    XXH3_128bits_reset(&rh);
    line_state_t ls;
    memset(&ls, 0, sizeof ls);
    ls.check_json = compressed;
    uint64_t zst_bytes = 0, raw_bytes = 0;
    bool frame_done = false, trailing = false, corrupt = false;
    char last = '\n';
    ssize_t got;
    while ((got = read(fd, in, in_cap)) > 0) {
        XXH3_128bits_update(&zh, in, (size_t)got);
        zst_bytes += (uint64_t)got;
        if (!compressed) {
            XXH3_128bits_update(&rh, in, (size_t)got);
            raw_bytes += (uint64_t)got;
            feed_lines(&ls, in, (size_t)got);
            last = in[got - 1];
            continue;
        }
        ZSTD_inBuffer ib = {in, (size_t)got, 0};
        while (ib.pos < ib.size && !frame_done) {
            ZSTD_outBuffer ob = {out, out_cap, 0};
            size_t r = ZSTD_decompressStream(dctx, &ob, &ib);
            if (ZSTD_isError(r)) {
                problem(&fc, "corrupt zstd data near compressed byte %llu: %s",
                        (unsigned long long)(zst_bytes - (uint64_t)got + ib.pos),
                        ZSTD_getErrorName(r));
                frame_done = corrupt = true; /* stop decoding; checksums will differ too */
                break;
            }
            if (ob.pos) {
                XXH3_128bits_update(&rh, out, ob.pos);
                raw_bytes += ob.pos;
                feed_lines(&ls, out, ob.pos);
                last = out[ob.pos - 1];
            }
            if (r == 0)
                frame_done = true; /* lm_dataformat stops here: so must the data */
        }
        if (frame_done && !corrupt && ib.pos < ib.size)
            trailing = true;
    }
    if (got < 0)
        problem(&fc, "read error: %s", strerror(errno));
    if (compressed && !frame_done && fc.problems == 0)
        problem(&fc, "truncated: the zstd frame does not end (file cut short?)");
    if (trailing)
        problem(&fc, "more than one zstd frame (readers that stop after the first frame would "
                     "miss data)");
    if (raw_bytes && last != '\n')
        problem(&fc, "last line is not newline-terminated");
    if (ls.bad_lines)
        problem(&fc, "%llu bad lines, first at line %llu: %s", (unsigned long long)ls.bad_lines,
                (unsigned long long)ls.first_bad, ls.first_reason);
    unsigned char d[16];
    char hex[33];
    XXH128_canonical_t c;
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&zh));
    memcpy(d, c.digest, 16);
    pm_hex128(d, hex);
    const char *want_z = json_string_value(json_object_get(entry, "xxh128_compressed"));
    if (!want_z || strcmp(want_z, hex))
        problem(&fc, "checksum of the file differs from the manifest (%s, manifest %s)", hex,
                want_z ? want_z : "none");
    XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&rh));
    memcpy(d, c.digest, 16);
    pm_hex128(d, hex);
    const char *want_r = json_string_value(json_object_get(entry, "xxh128_uncompressed"));
    if (!want_r || strcmp(want_r, hex))
        problem(&fc, "checksum of the uncompressed content differs from the manifest");
    if (zst_bytes != jint(entry, "compressed_bytes"))
        problem(&fc, "%llu bytes on disk, manifest says %llu", (unsigned long long)zst_bytes,
                (unsigned long long)jint(entry, "compressed_bytes"));
    if (!corrupt && raw_bytes != jint(entry, "uncompressed_bytes"))
        problem(&fc, "%llu uncompressed bytes, manifest says %llu", (unsigned long long)raw_bytes,
                (unsigned long long)jint(entry, "uncompressed_bytes"));
    if (ls.lines != jint(entry, "documents"))
        problem(&fc, "%llu lines, manifest says %llu documents", (unsigned long long)ls.lines,
                (unsigned long long)jint(entry, "documents"));
    if (fc.problems > MAX_REPORTS_PER_FILE)
        fprintf(stderr, "pilemix: verify: %s/%s: %d more problems not shown\n", dir, fc.name,
                fc.problems - MAX_REPORTS_PER_FILE);
    *problems += fc.problems;
    ZSTD_freeDCtx(dctx);
    free(in);
    free(out);
    pm_buf_free(&ls.partial);
    pm_buf_free(&path);
    close(fd);
}

static bool listed(json_t *files, const char *rel)
{
    size_t i;
    json_t *e;
    json_array_foreach(files, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        if (p && !strcmp(p, rel))
            return true;
    }
    return !strcmp(rel, "manifest.json") || !strcmp(rel, "XXH128SUMS");
}

/* Files in OUTDIR (two levels: train/, rejects/) that the manifest does not list. */
static int unexpected_files(const char *dir, json_t *files)
{
    int problems = 0;
    const char *subs[] = {"", "train", "rejects"};
    for (int s = 0; s < 3; s++) {
        pm_buf_t p;
        pm_buf_init(&p);
        pm_buf_printf(&p, "%s%s%s", dir, subs[s][0] ? "/" : "", subs[s]);
        DIR *d = opendir(p.data);
        pm_buf_free(&p);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            if (s == 0 && (!strcmp(e->d_name, "train") || !strcmp(e->d_name, "rejects")))
                continue;
            pm_buf_t rel;
            pm_buf_init(&rel);
            pm_buf_printf(&rel, "%s%s%s", subs[s], subs[s][0] ? "/" : "", e->d_name);
            if (!listed(files, rel.data)) {
                fprintf(stderr, "pilemix: verify: %s/%s: unexpected file (not in the manifest)\n",
                        dir, rel.data);
                problems++;
            }
            pm_buf_free(&rel);
        }
        closedir(d);
    }
    return problems;
}

/* XXH128SUMS must list exactly the manifest's files with the same sums. */
static int check_sums(const char *dir, json_t *files)
{
    pm_buf_t p;
    pm_buf_init(&p);
    pm_buf_printf(&p, "%s/XXH128SUMS", dir);
    FILE *f = fopen(p.data, "r");
    pm_buf_free(&p);
    if (!f) {
        fprintf(stderr, "pilemix: verify: %s/XXH128SUMS: missing\n", dir);
        return 1;
    }
    int problems = 0;
    size_t n = 0;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        char hex[64], name[4000];
        if (sscanf(line, "%63s %3999s", hex, name) != 2)
            continue;
        n++;
        size_t i;
        json_t *e;
        bool ok = false;
        json_array_foreach(files, i, e) {
            const char *pth = json_string_value(json_object_get(e, "path"));
            const char *h = json_string_value(json_object_get(e, "xxh128_compressed"));
            if (pth && h && !strcmp(pth, name) && !strcmp(h, hex))
                ok = true;
        }
        if (!ok) {
            fprintf(stderr,
                    "pilemix: verify: %s/XXH128SUMS: entry for %s disagrees with the "
                    "manifest\n",
                    dir, name);
            problems++;
        }
    }
    fclose(f);
    if (n != json_array_size(files)) {
        fprintf(stderr, "pilemix: verify: %s/XXH128SUMS: %zu entries, manifest lists %zu files\n",
                dir, n, json_array_size(files));
        problems++;
    }
    return problems;
}

int pm_verify_main(int argc, char **argv)
{
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (argc != 1) {
        if (rank == 0)
            fprintf(stderr, "pilemix: verify takes exactly one OUTDIR\n");
        return PM_EUSAGE;
    }
    const char *dir = argv[0];
    pm_error_t err;
    pm_error_clear(&err);
    json_t *m = pm_manifest_load(dir, &err);
    int ok = m != NULL, all_ok = 0, root_ok = ok;
    pm_peers_set_activity("verify");
    MPI_Request req[2];
    MPI_Iallreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req[0]);
    MPI_Ibcast(&root_ok, 1, MPI_INT, 0, MPI_COMM_WORLD, &req[1]);
    pm_mpi_wait(&req[0]);
    pm_mpi_wait(&req[1]);
    if (!all_ok) {
        /* Said once: by rank 0, or by the ranks that failed when it did not. */
        if (!ok && (rank == 0 || root_ok))
            report_load("verify", rank, &err);
        json_decref(m);
        return PM_EDATA;
    }
    json_t *files = json_object_get(m, "files");
    int problems = 0;
    size_t n = json_array_size(files);
    for (size_t i = (size_t)rank; i < n; i += (size_t)size) {
        check_file(dir, json_array_get(files, i), &problems);
        pm_peers_tick();
    }
    if (rank == 0) {
        problems += unexpected_files(dir, files);
        problems += check_sums(dir, files);
    }
    int total = 0;
    MPI_Iallreduce(&problems, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &req[0]);
    pm_mpi_wait(&req[0]);
    if (rank == 0) {
        if (total)
            fprintf(stderr, "pilemix: verify: %s: %d problem%s found\n", dir, total,
                    total == 1 ? "" : "s");
        else
            printf("pilemix: verify: %s: all %zu files match the manifest\n", dir, n);
    }
    json_decref(m);
    return total ? PM_EDATA : 0;
}

/* A manifest string for display: "?" when missing or not a string. */
static const char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "?";
}

/* The stats tables: the run's summary table (summary.h: the same code and
 * figures as the summary `run` printed) and one row per file. */
static int print_stats_table(json_t *m, pm_error_t *err)
{
    pm_summary_t sum;
    int rc = pm_summary_from_manifest(&sum, m, err);
    if (rc < 0) {
        pm_summary_free(&sum);
        return rc;
    }
    printf("%s  (config hash %s, seed %lld, pilemix %s, zstd %s)\n\n", jstr(m, "name"),
           jstr(m, "config_hash"), (long long)json_integer_value(json_object_get(m, "seed")),
           jstr(m, "pilemix_version"), jstr(m, "zstd_version"));
    pm_summary_print(&sum, stdout);
    pm_summary_free(&sum);
    printf("\n");
    static const char *const head[] = {"File",         "documents",  "text",
                                       "uncompressed", "compressed", "xxh128 (compressed)"};
    static const pm_align_t align[] = {PM_ALIGN_LEFT,  PM_ALIGN_RIGHT, PM_ALIGN_RIGHT,
                                       PM_ALIGN_RIGHT, PM_ALIGN_RIGHT, PM_ALIGN_LEFT};
    pm_table_t t;
    pm_table_init(&t, 6, head, align);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(m, "files"), i, c) {
        char cell[4][PM_FMT_MAX];
        const char *cells[6] = {jstr(c, "path"),
                                pm_fmt_count(jint(c, "documents"), cell[0]),
                                pm_fmt_bytes((double)jint(c, "text_bytes"), cell[1]),
                                pm_fmt_bytes((double)jint(c, "uncompressed_bytes"), cell[2]),
                                pm_fmt_bytes((double)jint(c, "compressed_bytes"), cell[3]),
                                jstr(c, "xxh128_compressed")};
        pm_table_add(&t, cells);
    }
    pm_table_print(&t, stdout);
    pm_table_close(&t);
    printf("(exact byte counts: pilemix stats --json)\n");
    return 0;
}

int pm_stats_main(int argc, char **argv)
{
    const char *dir = NULL;
    bool as_json = false;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (!dir && argv[i][0] != '-')
            dir = argv[i];
        else {
            fprintf(stderr, "pilemix: stats: unexpected argument %s\n", argv[i]);
            return PM_EUSAGE;
        }
    }
    if (!dir) {
        fprintf(stderr, "pilemix: stats needs an OUTDIR\n");
        return PM_EUSAGE;
    }
    pm_error_t err;
    pm_error_clear(&err);
    json_t *m = pm_manifest_load(dir, &err);
    if (!m) {
        report_load("stats", 0, &err);
        return PM_EDATA;
    }
    int rc = 0;
    if (as_json) {
        json_error_t je;
        json_t *o = json_pack_ex(
            &je, 0, "{s:O, s:O, s:O, s:O, s:O}", "name", json_object_get(m, "name"), "config_hash",
            json_object_get(m, "config_hash"), "seed", json_object_get(m, "seed"), "components",
            json_object_get(m, "components"), "files", json_object_get(m, "files"));
        if (!o) {
            /* A member missing from the manifest (NULL) fails the pack. */
            fprintf(stderr, "pilemix: stats: %s/manifest.json: incomplete manifest: %s\n", dir,
                    je.text);
            rc = PM_EDATA;
        } else if (json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) < 0 ||
                   printf("\n") < 0) {
            fprintf(stderr, "pilemix: stats: cannot write to stdout\n");
            rc = PM_EIO;
        }
        json_decref(o);
    } else if (print_stats_table(m, &err) < 0) {
        report_load("stats", 0, &err);
        rc = PM_EDATA;
    }
    json_decref(m);
    return rc;
}
