/* error.h: the record, its one-line format, and the check that a failing
 * call filled it (pm_error_fill_missing, behind PM_ERROR_CHECK). */
#include "pilemix/error.h"

#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

static void format(const pm_error_t *err, char *out, size_t n) { pm_error_format(err, out, n); }

START_TEST(test_set_and_format)
{
    pm_error_t err;
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    ck_assert_int_eq(pm_error_set(&err, PM_EDATA, "a.jsonl", 12, "bad %s", "thing"), PM_EDATA);
    err.column = 3;
    err.offset = 99;
    format(&err, line, sizeof line);
    ck_assert_str_eq(line, "a.jsonl:12:3: bad thing (byte 99)");
    ck_assert_int_eq(pm_error_nomem(&err), PM_ENOMEM);
    format(&err, line, sizeof line);
    ck_assert_str_eq(line, "out of memory");
    ck_assert_int_eq(pm_error_set(NULL, PM_EIO, NULL, 0, "x"), PM_EIO);
}
END_TEST

/* jansson's json_error_t says -1 for an unknown line (a file it could not
 * open): that must never print as 18446744073709551615. */
START_TEST(test_set_position)
{
    pm_error_t err;
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_set(&err, PM_EDATA, "m.json", 0, "cannot read");
    pm_error_set_position(&err, -1, -1);
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    format(&err, line, sizeof line);
    ck_assert_str_eq(line, "m.json: cannot read");
    pm_error_set_position(&err, 4, 0);
    format(&err, line, sizeof line);
    ck_assert_str_eq(line, "m.json:4: cannot read");
    pm_error_set_position(&err, 4, 7);
    format(&err, line, sizeof line);
    ck_assert_str_eq(line, "m.json:4:7: cannot read");
    pm_error_set_position(NULL, 1, 1);
}
END_TEST

START_TEST(test_fill_missing)
{
    pm_error_t err;
    /* Filled by the callee: left alone. */
    pm_error_set(&err, PM_EIO, "f", 0, "disk full");
    ck_assert(pm_error_fill_missing(&err, PM_EIO));
    ck_assert_str_eq(err.msg, "disk full");

    /* Not filled: the release fallback instead of "success". */
    pm_error_clear(&err);
    ck_assert(!pm_error_fill_missing(&err, PM_EINTERNAL));
    ck_assert_int_eq(err.code, PM_EINTERNAL);
    ck_assert_str_eq(err.msg, "internal error: PM_EINTERNAL (internal error (a pilemix bug)) "
                              "returned without a message (a pilemix bug)");
    pm_error_clear(&err);
    ck_assert(!pm_error_fill_missing(&err, PM_EIO));
    ck_assert_ptr_nonnull(strstr(err.msg, "PM_EIO (I/O error) returned without a message"));

    /* A stale message under another code: kept, the mismatch said. */
    pm_error_set(&err, PM_EDATA, NULL, 0, "old news");
    ck_assert(!pm_error_fill_missing(&err, PM_EIO));
    ck_assert_int_eq(err.code, PM_EIO);
    ck_assert_str_eq(err.msg, "old news [internal error: returned PM_EIO, error says PM_EDATA]");
}
END_TEST

/* Debug builds (these tests are built without NDEBUG unless release):
 * PM_ERROR_CHECK on an unfilled error aborts, naming the reporting site. */
START_TEST(test_check_aborts_in_debug)
{
#ifdef NDEBUG
    pm_error_t err;
    pm_error_clear(&err);
    PM_ERROR_CHECK(&err, PM_EIO); /* release: fills the fallback, goes on */
    ck_assert_ptr_nonnull(strstr(err.msg, "returned without a message"));
#else
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        pm_error_t err;
        pm_error_clear(&err);
        PM_ERROR_CHECK(&err, PM_EIO);
        _exit(0); /* not reached when the check works */
    }
    close(fds[1]);
    char out[2048] = "";
    size_t got = 0;
    ssize_t r;
    while (got + 1 < sizeof out && (r = read(fds[0], out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(fds[0]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %d", status);
    ck_assert_msg(strstr(out, "test_error.c:") && strstr(out, "PM_EIO (I/O error) returned "
                                                              "without a message"),
                  "stderr: %s", out);
    /* A filled error passes. */
    pm_error_t err;
    pm_error_set(&err, PM_EIO, NULL, 0, "fine");
    PM_ERROR_CHECK(&err, PM_EIO);
    ck_assert_str_eq(err.msg, "fine");
#endif
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_set_and_format);
    tcase_add_test(tc, test_set_position);
    tcase_add_test(tc, test_fill_missing);
    tcase_add_test(tc, test_check_aborts_in_debug);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
