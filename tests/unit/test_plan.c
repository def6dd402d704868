/* Plan building on real temporary trees: directory, glob and file expansion,
 * identity paths, ordering, the config errors, the table and JSON round trip. */
#include "pilemix/plan.h"
#include "pilemix/record.h"

#include <check.h>

#include "test_util.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[4096];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    chmod(path, 0700); /* an unreadable test dir must still go */
    return remove(path);
}

static void setup(void)
{
    const char *base = getenv("PM_TEST_TMP");
    if (!base || !base[0])
        base = "/tmp";
    mkdir(base, 0777); /* meson's PM_TEST_TMP may not exist yet */
    snprintf(root, sizeof root, "%s/pm_plan_XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void) { nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Create root/rel with parents and `size` bytes of content: 'x's, or for a
 * ".zst" name (size >= 9) one valid zstd frame of them (a raw block), since
 * the plan looks at the first bytes of compressed inputs. */
static void mkfile(const char *rel, size_t size)
{
    char path[8192];
    int n = snprintf(path, sizeof path, "%s/%s", root, rel);
    ck_assert(n > 0 && (size_t)n < sizeof path);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        ck_assert(mkdir(path, 0777) == 0 || errno == EEXIST);
        *p = '/';
    }
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    size_t i = 0, rl = strlen(rel);
    if (rl > 4 && !strcmp(rel + rl - 4, ".zst")) {
        ck_assert_uint_ge(size, 9);
        /* magic, frame header (window 1 MiB), last raw block of size-9 bytes */
        size_t raw = size - 9;
        unsigned char hdr[9] = {0x28,
                                0xb5,
                                0x2f,
                                0xfd,
                                0x00,
                                0x50,
                                (unsigned char)(1 | (raw << 3)),
                                (unsigned char)(raw >> 5),
                                (unsigned char)(raw >> 13)};
        fwrite(hdr, 1, 9, f);
        i = 9;
    }
    for (; i < size; i++)
        fputc('x', f);
    fclose(f);
}

static void mkdirs(const char *rel)
{
    char keep[8192 + 64];
    snprintf(keep, sizeof keep, "%s/.keep", rel);
    mkfile(keep, 0);
    snprintf(keep, sizeof keep, "%s/%.4000s/.keep", root, rel);
    ck_assert_int_eq(unlink(keep), 0);
}

static void mklink(const char *target, const char *rel)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    ck_assert_int_eq(symlink(target, path), 0);
}

/* Load a config whose components are given as a JSON fragment; relative
 * paths resolve against root. */
static int load(pm_config_t *cfg, const char *components)
{
    char json[8192], origin[8192];
    snprintf(json, sizeof json,
             "{\"name\":\"plan-test\",\"seed\":7,\"components\":[%s],"
             "\"output\":{\"dir\":\"out\",\"train_shards\":4,\"val_fraction\":0.01}}",
             components);
    snprintf(origin, sizeof origin, "%s/cfg.json", root);
    pm_error_t err;
    int rc = pm_config_load_string(cfg, json, origin, &err);
    ck_assert_msg(rc == 0, "config: %s", err.msg);
    return rc;
}

static int build(pm_plan_t *plan, const char *components, pm_error_t *err)
{
    pm_config_t cfg;
    load(&cfg, components);
    int rc = pm_plan_build(plan, &cfg, err);
    pm_config_close(&cfg);
    if (rc < 0 && getenv("PM_TEST_VERBOSE"))
        fprintf(stderr, "plan: %s\n", err->msg);
    return rc;
}

static void expect_error(const char *components, const char *substr)
{
    pm_plan_t plan;
    pm_error_t err;
    char msg[8192];
    snprintf(msg, sizeof msg, substr, root, root);
    int rc = build(&plan, components, &err);
    ck_assert_msg(rc == PM_ECONFIG, "rc %d for %s", rc, components);
    ck_assert_int_eq(err.code, PM_ECONFIG);
    ck_assert_msg(strstr(err.msg, msg) != NULL, "expected \"%s\" in \"%s\"", msg, err.msg);
    ck_assert_ptr_null(plan.files);
    ck_assert_uint_eq(plan.n_files, 0);
    /* the config file is named, so the CLI prints it */
    ck_assert_ptr_nonnull(strstr(err.file, "cfg.json"));
}

static const char *rootpath(const char *rel)
{
    static char path[8192];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    return path;
}

START_TEST(test_format_from_name)
{
    ck_assert_int_eq(pm_format_from_name("a.jsonl.zst"), PM_FORMAT_JSONL_ZST);
    ck_assert_int_eq(pm_format_from_name("dir/a.jsonl"), PM_FORMAT_JSONL);
    ck_assert_int_eq(pm_format_from_name("a.json"), -1);
    ck_assert_int_eq(pm_format_from_name("a.jsonl.gz"), PM_FORMAT_JSONL_GZ);
    ck_assert_int_eq(pm_format_from_name("a.jsonl.zst.tar"), PM_FORMAT_TAR);
    ck_assert_int_eq(pm_format_from_name("a.tgz"), PM_FORMAT_TAR_GZ);
    ck_assert_int_eq(pm_format_from_name("a.json.zst"), PM_FORMAT_JSON_ZST);
    ck_assert_int_eq(pm_format_from_name("a.txt"), PM_FORMAT_TXT);
    ck_assert_int_eq(pm_format_from_name("a.gz"), -1);
    ck_assert_int_eq(pm_format_from_name("a.zst"), -1);
    ck_assert_int_eq(pm_format_from_name(""), -1);
}
END_TEST

START_TEST(test_directory)
{
    mkfile("wiki/b.jsonl.zst", 10);
    mkfile("wiki/a.jsonl", 3);
    mkfile("wiki/sub/c.jsonl", 0); /* zero bytes: the reader decides */
    mkfile("wiki/.hidden.jsonl", 1);
    mkfile("wiki/.hdir/x.jsonl", 1);
    mkfile("wiki/README.md", 1);
    mkfile("wiki/notes.json", 1);
    pm_plan_t plan;
    pm_error_t err;
    /* every other regular file must be excluded: never skipped silently */
    expect_error("{\"name\":\"W\",\"paths\":[\"wiki\"],\"epochs\":3}",
                 "component \"W\": 2 files under its paths are not inputs");
    expect_error("{\"name\":\"W\",\"paths\":[\"wiki\"],\"epochs\":3,\"exclude\":[\"*.md\"]}",
                 "1 file under its paths is not input");
    ck_assert_int_eq(build(&plan,
                           "{\"name\":\"W\",\"paths\":[\"wiki\"],\"epochs\":3,"
                           "\"exclude\":[\"*.md\",\"notes.json\"]}",
                           &err),
                     0);
    ck_assert_uint_eq(plan.n_files, 3);
    ck_assert_str_eq(plan.files[0].relpath, "a.jsonl");
    ck_assert_str_eq(plan.files[0].path, rootpath("wiki/a.jsonl"));
    ck_assert_int_eq(plan.files[0].format, PM_FORMAT_JSONL);
    ck_assert_uint_eq(plan.files[0].size, 3);
    ck_assert_str_eq(plan.files[1].relpath, "b.jsonl.zst");
    ck_assert_int_eq(plan.files[1].format, PM_FORMAT_JSONL_ZST);
    ck_assert_uint_eq(plan.files[1].size, 10);
    ck_assert_str_eq(plan.files[2].relpath, "sub/c.jsonl");
    ck_assert_str_eq(plan.files[2].path, rootpath("wiki/sub/c.jsonl"));
    ck_assert_uint_eq(plan.files[2].size, 0);
    for (size_t i = 0; i < plan.n_files; i++)
        ck_assert_uint_eq(plan.files[i].component, 0);
    pm_plan_close(&plan);
    pm_plan_close(&plan);

    /* a trailing slash changes nothing */
    ck_assert_int_eq(build(&plan,
                           "{\"name\":\"W\",\"paths\":[\"wiki/\"],\"epochs\":3,"
                           "\"exclude\":[\"README.md\",\"*.json\"]}",
                           &err),
                     0);
    ck_assert_uint_eq(plan.n_files, 3);
    ck_assert_str_eq(plan.files[2].relpath, "sub/c.jsonl");
    ck_assert_str_eq(plan.files[2].path, rootpath("wiki/sub/c.jsonl"));
    pm_plan_close(&plan);
}
END_TEST

START_TEST(test_glob)
{
    mkfile("cc/x1.jsonl.zst", 9);
    mkfile("cc/x2.jsonl.zst", 10);
    mkfile("cc/y.md", 1);
    mkfile("cc/.x3.jsonl.zst", 9);
    mkfile("cc/d1/z.jsonl", 1);
    mkfile("g/a/part1.jsonl", 1);
    mkfile("g/b/part1.jsonl", 1);
    mkfile("g/b/other.jsonl", 1);
    pm_plan_t plan;
    pm_error_t err;

    ck_assert_int_eq(
        build(&plan, "{\"name\":\"C\",\"paths\":[\"cc/x*.jsonl.zst\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 2);
    ck_assert_str_eq(plan.files[0].relpath, "x1.jsonl.zst");
    ck_assert_str_eq(plan.files[0].path, rootpath("cc/x1.jsonl.zst"));
    ck_assert_str_eq(plan.files[1].relpath, "x2.jsonl.zst");
    pm_plan_close(&plan);

    /* a matched directory expands like a directory; non-inputs are skipped */
    ck_assert_int_eq(build(&plan, "{\"name\":\"C\",\"paths\":[\"cc/*\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 3);
    ck_assert_str_eq(plan.files[0].relpath, "d1/z.jsonl");
    ck_assert_str_eq(plan.files[1].relpath, "x1.jsonl.zst");
    ck_assert_str_eq(plan.files[2].relpath, "x2.jsonl.zst");
    pm_plan_close(&plan);

    /* identity is relative to the non-glob prefix "g" */
    ck_assert_int_eq(
        build(&plan, "{\"name\":\"G\",\"paths\":[\"g/*/part?.jsonl\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 2);
    ck_assert_str_eq(plan.files[0].relpath, "a/part1.jsonl");
    ck_assert_str_eq(plan.files[1].relpath, "b/part1.jsonl");
    ck_assert_str_eq(plan.files[1].path, rootpath("g/b/part1.jsonl"));
    pm_plan_close(&plan);

    /* [..] is a glob too; "//" does not leak into identities */
    ck_assert_int_eq(
        build(&plan, "{\"name\":\"G\",\"paths\":[\"g//[a]//part1.jsonl\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 1);
    ck_assert_str_eq(plan.files[0].relpath, "a/part1.jsonl");
    pm_plan_close(&plan);
}
END_TEST

START_TEST(test_plain_file_and_order)
{
    mkfile("d/sub/c.jsonl", 5);
    mkfile("e/B.jsonl", 1);
    mkfile("e/a.jsonl", 1);
    mkfile("e/a-b.jsonl", 1);
    mkfile("e/a/x.jsonl", 1);
    pm_plan_t plan;
    pm_error_t err;
    /* components stay in config order (Z before A); inside a component the
     * order is bytewise by identity path, whatever order the paths came in */
    ck_assert_int_eq(build(&plan,
                           "{\"name\":\"Z\",\"paths\":[\"e\"],\"epochs\":1},"
                           "{\"name\":\"A\",\"paths\":[\"d/sub/c.jsonl\"],\"epochs\":2}",
                           &err),
                     0);
    ck_assert_uint_eq(plan.n_files, 5);
    static const char *want[] = {"B.jsonl", "a-b.jsonl", "a.jsonl", "a/x.jsonl", "c.jsonl"};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_str_eq(plan.files[i].relpath, want[i]);
        ck_assert_uint_eq(plan.files[i].component, i < 4 ? 0 : 1);
    }
    ck_assert_str_eq(plan.files[4].path, rootpath("d/sub/c.jsonl"));
    ck_assert_uint_eq(plan.files[4].size, 5);
    pm_plan_close(&plan);

    /* the same identity path in two components is fine */
    ck_assert_int_eq(build(&plan,
                           "{\"name\":\"X\",\"paths\":[\"e/a.jsonl\"],\"epochs\":1},"
                           "{\"name\":\"Y\",\"paths\":[\"e/a/x.jsonl\"],\"epochs\":1}",
                           &err),
                     0);
    pm_plan_close(&plan);
}
END_TEST

START_TEST(test_stat_fields)
{
    mkfile("m/t.jsonl", 123);
    struct timespec ts[2] = {{1600000000, 123456789}, {1600000000, 123456789}};
    ck_assert_int_eq(utimensat(AT_FDCWD, rootpath("m/t.jsonl"), ts, 0), 0);
    pm_plan_t plan;
    pm_error_t err;
    ck_assert_int_eq(build(&plan, "{\"name\":\"M\",\"paths\":[\"m\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 1);
    ck_assert_uint_eq(plan.files[0].size, 123);
    ck_assert_int_eq(plan.files[0].mtime_ns, 1600000000123456789LL);
    pm_plan_close(&plan);
}
END_TEST

START_TEST(test_duplicate_identity)
{
    mkfile("d1/x.jsonl", 1);
    mkfile("d2/x.jsonl", 1);
    mkfile("d1/sub/y.jsonl", 1);
    expect_error("{\"name\":\"Dup\",\"paths\":[\"d1\",\"d2\"],\"epochs\":1}",
                 "component \"Dup\": identity path \"x.jsonl\" is claimed by both "
                 "\"%s/d1/x.jsonl\" and \"%s/d2/x.jsonl\"");
    /* one file reached twice is refused even under two identities */
    expect_error("{\"name\":\"Twice\",\"paths\":[\"d1\",\"d1/sub\"],\"epochs\":1}",
                 "component \"Twice\": file \"%s/d1/sub/y.jsonl\" is listed twice");
    expect_error("{\"name\":\"Twice\",\"paths\":[\"d1/x.jsonl\",\"d1/*.jsonl\"],\"epochs\":1}",
                 "is listed twice");
}
END_TEST

START_TEST(test_matches_nothing)
{
    mkfile("have/a.jsonl", 1);
    mkfile("md/a.md", 1);
    mkdirs("empty");
    expect_error(
        "{\"name\":\"Wikipedia (en)\",\"paths\":[\"have\",\"nope/*.jsonl.zst\"],\"epochs\":1}",
        "component \"Wikipedia (en)\": path \"%s/nope/*.jsonl.zst\" matches no file");
    expect_error("{\"name\":\"N\",\"paths\":[\"missing.jsonl\"],\"epochs\":1}",
                 "component \"N\": path \"%s/missing.jsonl\" matches no file");
    expect_error("{\"name\":\"N\",\"paths\":[\"empty\"],\"epochs\":1}",
                 "component \"N\": path \"%s/empty\" is a directory with no supported input files");
    expect_error("{\"name\":\"N\",\"paths\":[\"md\"],\"epochs\":1}",
                 "component \"N\": 1 file under its paths is not input");
    expect_error("{\"name\":\"N\",\"paths\":[\"md\"],\"epochs\":1,\"exclude\":[\"*\"]}",
                 "path \"%s/md\" is a directory with no supported input files");
    expect_error("{\"name\":\"N\",\"paths\":[\"md/a.md\"],\"epochs\":1}",
                 "path \"%s/md/a.md\" is not a supported input file");
    expect_error("{\"name\":\"N\",\"paths\":[\"md/*\"],\"epochs\":1}",
                 "path \"%s/md/*\" matches no supported input file");
}
END_TEST

START_TEST(test_raw_path_in_message)
{
    setenv("PM_TEST_PLAN_DATA", root, 1);
    pm_plan_t plan;
    pm_error_t err;
    ck_assert_int_eq(
        build(&plan,
              "{\"name\":\"E\",\"paths\":[\"${PM_TEST_PLAN_DATA}/gone/*.jsonl\"],\"epochs\":1}",
              &err),
        PM_ECONFIG);
    char want[8192];
    snprintf(want, sizeof want,
             "component \"E\": path \"%s/gone/*.jsonl\" matches no file (components[0].paths[0] "
             "is \"${PM_TEST_PLAN_DATA}/gone/*.jsonl\")",
             root);
    ck_assert_str_eq(err.msg, want);
    unsetenv("PM_TEST_PLAN_DATA");
}
END_TEST

/* A file name that is not UTF-8 (Latin-1 "café") is refused at plan time,
 * found by a directory walk and by a glob, named with the bad byte escaped;
 * a UTF-8 name next to it is fine. */
START_TEST(test_non_utf8_name_refused)
{
    mkfile("u/caf\xc3\xa9.jsonl", 1); /* UTF-8: fine */
    pm_plan_t plan;
    pm_error_t err;
    ck_assert_int_eq(build(&plan, "{\"name\":\"U\",\"paths\":[\"u\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 1);
    pm_plan_close(&plan);

    mkfile("u/caf\xe9.jsonl", 1);
    expect_error("{\"name\":\"U\",\"paths\":[\"u\"],\"epochs\":1}",
                 "component \"U\": path \"%s/u/caf\\xE9.jsonl\" is not valid UTF-8");
    expect_error("{\"name\":\"U\",\"paths\":[\"u/*.jsonl\"],\"epochs\":1}",
                 "u/caf\\xE9.jsonl\" is not valid UTF-8");
    /* The hint says what to do; the message itself is clean UTF-8. */
    ck_assert_int_eq(build(&plan, "{\"name\":\"U\",\"paths\":[\"u\"],\"epochs\":1}", &err),
                     PM_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err.msg, "rename it"));
    ck_assert_uint_eq(pm_utf8_valid_prefix(err.msg, strlen(err.msg)), strlen(err.msg));

    /* An invalid byte in a directory name taints every file below it; a
     * truncated sequence and a control character are escaped too. */
    ck_assert_int_eq(unlink(rootpath("u/caf\xe9.jsonl")), 0);
    mkfile("v/d\xff\xfe/a.jsonl", 1);
    expect_error("{\"name\":\"V\",\"paths\":[\"v\"],\"epochs\":1}", "v/d\\xFF\\xFE/a.jsonl\"");
    mkfile("w/x\xe2\x82\n.jsonl", 1);
    expect_error("{\"name\":\"W\",\"paths\":[\"w\"],\"epochs\":1}", "w/x\\xE2\\x82\\x0A.jsonl\"");
}
END_TEST

START_TEST(test_broken_symlink)
{
    mkfile("s/ok.jsonl", 1);
    mklink("nowhere.jsonl", "s/dead.jsonl");
    mklink("nowhere.jsonl", "top.jsonl");
    expect_error("{\"name\":\"S\",\"paths\":[\"top.jsonl\"],\"epochs\":1}",
                 "component \"S\": path \"%s/top.jsonl\" is a broken symbolic link");
    expect_error("{\"name\":\"S\",\"paths\":[\"s\"],\"epochs\":1}",
                 "component \"S\": path \"%s/s/dead.jsonl\" is a broken symbolic link");
    expect_error("{\"name\":\"S\",\"paths\":[\"s/*.jsonl\"],\"epochs\":1}",
                 "path \"%s/s/dead.jsonl\" is a broken symbolic link");
}
END_TEST

START_TEST(test_special_file)
{
    mkfile("f/a.jsonl", 1);
    ck_assert_int_eq(mkfifo(rootpath("f/pipe.jsonl"), 0600), 0);
    ck_assert_int_eq(mkfifo(rootpath("f/pipe.other"), 0600), 0);
    expect_error("{\"name\":\"F\",\"paths\":[\"f\"],\"epochs\":1}",
                 "component \"F\": path \"%s/f/pipe.jsonl\" is not a regular file");
    expect_error("{\"name\":\"F\",\"paths\":[\"f/pipe.other\"],\"epochs\":1}",
                 "is not a regular file or directory");
}
END_TEST

START_TEST(test_symlinks_followed)
{
    mkfile("real/a.jsonl", 4);
    mkfile("lnk/b.jsonl", 1);
    mklink("../real", "lnk/sub");
    pm_plan_t plan;
    pm_error_t err;
    ck_assert_int_eq(build(&plan, "{\"name\":\"L\",\"paths\":[\"lnk\"],\"epochs\":1}", &err), 0);
    ck_assert_uint_eq(plan.n_files, 2);
    ck_assert_str_eq(plan.files[1].relpath, "sub/a.jsonl");
    ck_assert_uint_eq(plan.files[1].size, 4);
    pm_plan_close(&plan);

    mklink("..", "real/loop");
    expect_error("{\"name\":\"L\",\"paths\":[\"real\"],\"epochs\":1}", "directory cycle");
}
END_TEST

START_TEST(test_unreadable)
{
    if (geteuid() == 0)
        return; /* root reads everything; nothing to test */
    mkfile("u/a.jsonl", 1);
    mkfile("v/w/a.jsonl", 1);
    ck_assert_int_eq(chmod(rootpath("u/a.jsonl"), 0), 0);
    ck_assert_int_eq(chmod(rootpath("v/w"), 0), 0);
    expect_error("{\"name\":\"U\",\"paths\":[\"u\"],\"epochs\":1}",
                 "component \"U\": path \"%s/u/a.jsonl\" is not readable");
    expect_error("{\"name\":\"U\",\"paths\":[\"v\"],\"epochs\":1}",
                 "path \"%s/v/w\" cannot be read");
    chmod(rootpath("v/w"), 0700); /* so teardown can descend */
}
END_TEST

static void check_same_plan(const pm_plan_t *a, const pm_plan_t *b)
{
    ck_assert_uint_eq(a->n_files, b->n_files);
    for (size_t i = 0; i < a->n_files; i++) {
        ck_assert_str_eq(a->files[i].path, b->files[i].path);
        ck_assert_str_eq(a->files[i].relpath, b->files[i].relpath);
        ck_assert_uint_eq(a->files[i].component, b->files[i].component);
        ck_assert_int_eq(a->files[i].format, b->files[i].format);
        ck_assert_uint_eq(a->files[i].size, b->files[i].size);
        ck_assert_int_eq(a->files[i].mtime_ns, b->files[i].mtime_ns);
    }
}

START_TEST(test_json_round_trip)
{
    mkfile("j/a.jsonl", 11);
    mkfile("j/b.jsonl.zst", 22);
    mkfile("k/\xc3\xa9t\xc3\xa9 \"q\".jsonl", 33);
    pm_plan_t plan, back;
    pm_error_t err;
    ck_assert_int_eq(build(&plan,
                           "{\"name\":\"J\",\"paths\":[\"j\"],\"epochs\":1},"
                           "{\"name\":\"K\",\"paths\":[\"k\"],\"epochs\":2}",
                           &err),
                     0);
    ck_assert_uint_eq(plan.n_files, 3);
    plan.files[0].mtime_ns = -5; /* before 1970 is representable */
    char *json = NULL;
    ck_assert_int_eq(pm_plan_to_json(&plan, &json, &err), 0);
    ck_assert_ptr_nonnull(json);
    ck_assert_int_eq(pm_plan_from_json(&back, json, &err), 0);
    check_same_plan(&plan, &back);
    free(json);
    pm_plan_close(&back);

    /* the empty plan too */
    pm_plan_t empty = {NULL, 0};
    ck_assert_int_eq(pm_plan_to_json(&empty, &json, &err), 0);
    ck_assert_int_eq(pm_plan_from_json(&back, json, &err), 0);
    ck_assert_uint_eq(back.n_files, 0);
    free(json);
    pm_plan_close(&back);
    pm_plan_close(&plan);

    /* garbage is refused and leaves nothing allocated */
    ck_assert_int_eq(pm_plan_from_json(&back, "{\"version\":1,\"files\":[{\"path\":\"a\"}]}", &err),
                     PM_EDATA);
    ck_assert_ptr_null(back.files);
    ck_assert_int_eq(pm_plan_from_json(&back,
                                       "{\"version\":1,\"files\":[{\"path\":\"a\",\"relpath\":"
                                       "\"a\",\"component\":0,\"format\":\"gz\",\"size\":1,"
                                       "\"mtime_ns\":0}]}",
                                       &err),
                     PM_EDATA);
    ck_assert_int_eq(pm_plan_from_json(&back, "{\"version\":1,", &err), PM_EDATA);
    ck_assert_uint_eq(err.line, 1);
    ck_assert_int_eq(pm_plan_from_json(&back, "{\"version\":2,\"files\":[]}", &err), PM_EDATA);
}
END_TEST

static size_t utf8_len(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            w++;
    return w;
}

START_TEST(test_print_table)
{
    mkfile("p/a.jsonl.zst", 3000);
    mkfile("q/b.jsonl", 1000);
    mkfile("q/c.jsonl.zst", 1000);
    pm_config_t cfg;
    pm_plan_t plan;
    pm_error_t err;
    load(&cfg, "{\"name\":\"Pile-CC\",\"paths\":[\"p\"],\"epochs\":1},"
               "{\"name\":\"Wikipedia (\xc3\xa9n) \xe2\x80\x94 long "
               "name\",\"paths\":[\"q\"],\"epochs\":1.5}");
    ck_assert_int_eq(pm_plan_build(&plan, &cfg, &err), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    pm_plan_print_table(&plan, &cfg, out);
    fclose(out);
    char hash[32];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg.canonical_hash);
    ck_assert_msg(strstr(text, hash) != NULL, "no hash in:\n%s", text);
    ck_assert_ptr_nonnull(strstr(text, "plan-test"));
    ck_assert_ptr_nonnull(strstr(text, "seed 7"));
    ck_assert_ptr_nonnull(strstr(text, "train shards 4"));
    ck_assert_ptr_nonnull(strstr(text, "Component"));
    ck_assert_ptr_nonnull(strstr(text, "Mix %"));
    ck_assert_ptr_nonnull(strstr(text, "2.9 KiB*")); /* 3000 B, compressed */
    ck_assert_ptr_nonnull(strstr(text, "2.9 KiB+")); /* 2000 B x 1.5, partly compressed */
    ck_assert_ptr_nonnull(strstr(text, "1.5"));
    ck_assert_ptr_nonnull(strstr(text, "50.00%"));
    ck_assert_ptr_nonnull(strstr(text, "100.00%"));
    ck_assert_ptr_nonnull(strstr(text, "Total"));
    /* table lines (header to total) all have the same display width */
    const char *start = strstr(text, "Component");
    const char *total = strstr(text, "Total");
    ck_assert_ptr_nonnull(start);
    size_t width = 0;
    for (const char *p = start; p <= total;) {
        const char *nl = strchr(p, '\n');
        size_t w = utf8_len(p, (size_t)(nl - p));
        if (!width)
            width = w;
        ck_assert_msg(w == width, "ragged table:\n%s", text);
        p = nl + 1;
    }
    free(text);
    pm_plan_close(&plan);
    pm_config_close(&cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_format_from_name);
    tcase_add_test(tc, test_directory);
    tcase_add_test(tc, test_glob);
    tcase_add_test(tc, test_plain_file_and_order);
    tcase_add_test(tc, test_stat_fields);
    tcase_add_test(tc, test_duplicate_identity);
    tcase_add_test(tc, test_matches_nothing);
    tcase_add_test(tc, test_raw_path_in_message);
    tcase_add_test(tc, test_non_utf8_name_refused);
    tcase_add_test(tc, test_broken_symlink);
    tcase_add_test(tc, test_special_file);
    tcase_add_test(tc, test_symlinks_followed);
    tcase_add_test(tc, test_unreadable);
    tcase_add_test(tc, test_json_round_trip);
    tcase_add_test(tc, test_print_table);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
