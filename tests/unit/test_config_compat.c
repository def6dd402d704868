/* Compatibility pins for the config loader: answers recorded from the
 * pre-schema implementation at commit 05c1e3c, which no later change to the
 * loader may move.
 *
 * - The canonical JSON and its XXH3-64 hash of configs/demo.json and of every
 *   tests/data/config_known/NAME.json, in NAME.canonical (line 1: the hash in
 *   hex, line 2: the canonical JSON). The hash is in every manifest and the
 *   resume check compares it, so a moved hash breaks resume across versions.
 * - The full error line ("line:column: message") of every bad config in
 *   tests/data/config_invalid/, in config_known/invalid_messages.tsv (NAME.json,
 *   a tab, the line with newline, tab and backslash escaped as \n, \t, \\);
 *   the .expected files there hold only a distinctive part of it.
 *
 * Never regenerate these files to make the test pass: a difference is a
 * compatibility break. New keys and new bad configs get their own tests. */
#include "pilemix/config.h"

#include <check.h>

#include "test_util.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PM_SOURCE_DIR
#define PM_SOURCE_DIR "."
#endif
#define KNOWN_DIR PM_SOURCE_DIR "/tests/data/config_known"
#define INVALID_DIR PM_SOURCE_DIR "/tests/data/config_invalid"

/* Undo the TSV escapes (\\n, \\t, \\\\) in place. */
static void unescape(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            *o++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

static void check_known(const char *json_path, const char *canon_path)
{
    FILE *f = fopen(canon_path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", canon_path);
    char hash_hex[64], canon[8192];
    ck_assert_ptr_nonnull(fgets(hash_hex, sizeof hash_hex, f));
    ck_assert_ptr_nonnull(fgets(canon, sizeof canon, f));
    fclose(f);
    hash_hex[strcspn(hash_hex, "\n")] = '\0';
    canon[strcspn(canon, "\n")] = '\0';

    pm_config_t cfg;
    pm_error_t err;
    int rc = pm_config_load(&cfg, json_path, &err);
    ck_assert_msg(rc == 0, "%s: %s", json_path, err.msg);
    char got_hex[32];
    snprintf(got_hex, sizeof got_hex, "%016llx", (unsigned long long)cfg.canonical_hash);
    ck_assert_msg(!strcmp(cfg.canonical_json, canon),
                  "%s: canonical JSON\n  got:      %s\n  expected: %s", json_path,
                  cfg.canonical_json, canon);
    ck_assert_msg(!strcmp(got_hex, hash_hex), "%s: hash %s, expected %s", json_path, got_hex,
                  hash_hex);
    pm_config_close(&cfg);
}

START_TEST(test_known_canonical)
{
    setenv("PM_KA_DATA", "/srv/pile", 1); /* many_paths.json expands it */
    check_known(PM_SOURCE_DIR "/configs/demo.json", KNOWN_DIR "/demo.canonical");
    DIR *d = opendir(KNOWN_DIR);
    ck_assert_msg(d != NULL, "cannot open %s", KNOWN_DIR);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
            continue;
        char path[2048], canon_path[2048];
        snprintf(path, sizeof path, "%s/%s", KNOWN_DIR, de->d_name);
        snprintf(canon_path, sizeof canon_path, "%s/%.*s.canonical", KNOWN_DIR, (int)(len - 5),
                 de->d_name);
        check_known(path, canon_path);
        n++;
    }
    closedir(d);
    unsetenv("PM_KA_DATA");
    ck_assert_int_ge(n, 6);
}
END_TEST

START_TEST(test_invalid_messages_exact)
{
    unsetenv("PM_TEST_SURELY_UNSET");
    setenv("DATA", "/d", 1); /* as test_config.c sets it */
    FILE *f = fopen(KNOWN_DIR "/invalid_messages.tsv", "r");
    ck_assert_msg(f != NULL, "cannot open invalid_messages.tsv");
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        ck_assert_msg(tab != NULL, "bad line \"%s\"", line);
        *tab = '\0';
        char *expected = tab + 1;
        unescape(expected);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", INVALID_DIR, line);
        pm_config_t cfg;
        pm_error_t err;
        int rc = pm_config_load(&cfg, path, &err);
        ck_assert_msg(rc == PM_ECONFIG, "%s: rc %d", line, rc);
        char got[2200];
        snprintf(got, sizeof got, "%llu:%llu: %s", (unsigned long long)err.line,
                 (unsigned long long)err.column, err.msg);
        ck_assert_msg(!strcmp(got, expected), "%s:\n  got:      %s\n  expected: %s", line, got,
                      expected);
        n++;
    }
    fclose(f);
    unsetenv("DATA");
    /* Every bad config is pinned: a new one must be added to the list. */
    DIR *d = opendir(INVALID_DIR);
    ck_assert_ptr_nonnull(d);
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        files += len > 5 && !strcmp(de->d_name + len - 5, ".json");
    }
    closedir(d);
    ck_assert_int_eq(n, files);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config_compat");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_known_canonical);
    tcase_add_test(tc, test_invalid_messages_exact);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
