/* error.h: the record, its one-line format (offsets, truncation), code
 * names, PM_TRY, the check that a failing call filled the record
 * (pm_error_fill_missing, behind PM_ERROR_CHECK), and the documented
 * severity order ranks agree on. */
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

static int forward(int rc, int *reached)
{
    PM_TRY(rc);
    *reached = 1;
    return 0;
}

START_TEST(test_set_fills_and_returns_code)
{
    pm_error_t err;
    memset(&err, 0x5a, sizeof err); /* garbage: set must not rely on a cleared record */
    int rc = pm_error_set(&err, PM_EIO, "a/b.jsonl", 12, "cannot read: %s (%d)", "EIO", 5);
    ck_assert_int_eq(rc, PM_EIO);
    ck_assert_int_eq(err.code, PM_EIO);
    ck_assert_str_eq(err.file, "a/b.jsonl");
    ck_assert_uint_eq(err.line, 12);
    ck_assert_uint_eq(err.column, 0); /* reset */
    ck_assert_int_eq(err.offset, -1); /* reset: unknown */
    ck_assert_str_eq(err.msg, "cannot read: EIO (5)");

    /* No file: empty, not stale. */
    rc = pm_error_set(&err, PM_ECONFIG, NULL, 0, "x");
    ck_assert_int_eq(rc, PM_ECONFIG);
    ck_assert_str_eq(err.file, "");
    ck_assert_uint_eq(err.line, 0);

    /* A NULL record: the code is still returned. */
    ck_assert_int_eq(pm_error_set(NULL, PM_EDATA, "f", 1, "m"), PM_EDATA);
}
END_TEST

START_TEST(test_clear)
{
    pm_error_t err;
    pm_error_set(&err, PM_EIO, "f", 3, "m");
    err.column = 4;
    err.offset = 99;
    pm_error_clear(&err);
    ck_assert_int_eq(err.code, 0);
    ck_assert_str_eq(err.file, "");
    ck_assert_str_eq(err.msg, "");
    ck_assert_uint_eq(err.line, 0);
    ck_assert_uint_eq(err.column, 0);
    ck_assert_int_eq(err.offset, -1);
    pm_error_clear(NULL); /* accepted */
}
END_TEST

START_TEST(test_set_truncates_long_file_and_message)
{
    pm_error_t err;
    char file[PM_ERROR_FILE_MAX * 2], msg[PM_ERROR_MSG_MAX * 2];
    memset(file, 'f', sizeof file - 1);
    file[sizeof file - 1] = '\0';
    memset(msg, 'm', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    pm_error_set(&err, PM_EIO, file, 1, "%s", msg);
    ck_assert_uint_eq(strlen(err.file), PM_ERROR_FILE_MAX - 1);
    ck_assert_uint_eq(strlen(err.msg), PM_ERROR_MSG_MAX - 1);
    ck_assert(strncmp(err.file, file, PM_ERROR_FILE_MAX - 1) == 0);
    ck_assert(strncmp(err.msg, msg, PM_ERROR_MSG_MAX - 1) == 0);

    /* The formatted line of a record at both limits is cut, NUL-terminated,
     * to the caller's buffer. */
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(&err, line, sizeof line);
    ck_assert_uint_eq(strlen(line), strlen(err.file) + strlen(":1: ") + strlen(err.msg));
}
END_TEST

static void fmt(const pm_error_t *err, const char *want)
{
    char out[256];
    memset(out, 'x', sizeof out);
    pm_error_format(err, out, sizeof out);
    ck_assert_str_eq(out, want);
}

START_TEST(test_format_parts)
{
    pm_error_t err;
    pm_error_set(&err, PM_EDATA, "d/x.jsonl", 302, "bad record");
    fmt(&err, "d/x.jsonl:302: bad record");
    err.column = 9;
    fmt(&err, "d/x.jsonl:302:9: bad record");
    err.offset = 4096;
    fmt(&err, "d/x.jsonl:302:9: bad record (byte 4096)");
    err.offset = 0; /* byte 0 is a known offset */
    fmt(&err, "d/x.jsonl:302:9: bad record (byte 0)");

    /* A column without a line is not shown (it would read as a line). */
    pm_error_set(&err, PM_EIO, "y.zst", 0, "corrupt");
    err.column = 5;
    err.offset = 77;
    fmt(&err, "y.zst: corrupt (byte 77)");

    /* No file: the message alone. */
    pm_error_set(&err, PM_ECONFIG, NULL, 7, "output.dir: missing");
    fmt(&err, "output.dir: missing");

    /* No message: the code's name. */
    pm_error_set(&err, PM_ENOMEM, NULL, 0, "%s", "");
    fmt(&err, "out of memory");
    pm_error_set(&err, PM_EIO, "f", 2, "%s", "");
    fmt(&err, "f:2: I/O error");

    /* Offsets and line numbers beyond 32 bits print whole. */
    pm_error_set(&err, PM_EDATA, "big", 5000000000ull, "m");
    err.offset = 9000000000ll;
    fmt(&err, "big:5000000000: m (byte 9000000000)");
}
END_TEST

START_TEST(test_format_truncation)
{
    pm_error_t err;
    pm_error_set(&err, PM_EDATA, "file.jsonl", 12, "a message");
    err.offset = 123456;
    const char *full = "file.jsonl:12: a message (byte 123456)";
    for (size_t size = 1; size <= strlen(full) + 1; size++) {
        char out[64];
        memset(out, 'x', sizeof out);
        pm_error_format(&err, out, size);
        /* Always NUL-terminated inside the buffer, and a prefix of the line. */
        ck_assert_uint_eq(strlen(out), size - 1);
        ck_assert(strncmp(out, full, size - 1) == 0);
        ck_assert(out[size] == 'x'); /* nothing written past the buffer */
    }
    char out[4] = {'x', 'x', 'x', 'x'};
    pm_error_format(&err, out, 0); /* nothing written at all */
    ck_assert(out[0] == 'x');
    pm_error_format(NULL, out, sizeof out);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_strerror)
{
    ck_assert_str_eq(pm_strerror(PM_OK), "success");
    ck_assert_str_eq(pm_strerror(PM_EIO), "I/O error");
    ck_assert_str_eq(pm_strerror(PM_EDATA), "bad input data");
    ck_assert_str_eq(pm_strerror(PM_ECONFIG), "config error");
    ck_assert_str_eq(pm_strerror(PM_ENOMEM), "out of memory");
    ck_assert_str_eq(pm_strerror(PM_EUSAGE), "usage error");
    ck_assert_str_eq(pm_strerror(PM_EINTERNAL), "internal error (a pilemix bug)");
    ck_assert_str_eq(pm_strerror(PM_ESTATE), "directory state error");
    ck_assert_str_eq(pm_strerror(PM_EINTR), "interrupted");
    ck_assert_str_eq(pm_strerror(-99), "unknown error");
}
END_TEST

START_TEST(test_try_forwards)
{
    int reached = 0;
    ck_assert_int_eq(forward(PM_EDATA, &reached), PM_EDATA);
    ck_assert_int_eq(reached, 0);
    ck_assert_int_eq(forward(0, &reached), 0);
    ck_assert_int_eq(reached, 1);
    reached = 0;
    ck_assert_int_eq(forward(5, &reached), 0); /* positive is not a failure */
    ck_assert_int_eq(reached, 1);
}
END_TEST

/* The documented order (error.h, README), most severe first. */
static const int order[] = {PM_EINTERNAL, PM_ENOMEM,  PM_EIO,    PM_EDATA,
                            PM_ESTATE,    PM_ECONFIG, PM_EUSAGE, PM_EINTR};
#define N_ORDER (sizeof order / sizeof order[0])

START_TEST(test_severity_order)
{
    ck_assert_int_eq(pm_error_severity(0), 0);
    for (size_t i = 0; i < N_ORDER; i++) {
        int s = pm_error_severity(order[i]);
        ck_assert_int_gt(s, 0);
        ck_assert_int_eq(pm_error_of_severity(s), order[i]);
        for (size_t j = i + 1; j < N_ORDER; j++)
            ck_assert_msg(s > pm_error_severity(order[j]), "%s must outrank %s",
                          pm_strerror(order[i]), pm_strerror(order[j]));
    }
    ck_assert_int_eq(pm_error_of_severity(0), 0);
    /* An unknown failure code is still a failure, and ranks as a bug. */
    ck_assert_int_eq(pm_error_severity(-99), pm_error_severity(PM_EINTERNAL));
    ck_assert_int_eq(pm_error_severity(3), 0);
}
END_TEST

/* Every job failure (exit 1) outranks every usage/config/state error
 * (exit 2): an I/O error on one rank and a config error on another is exit 1
 * whichever came first. */
START_TEST(test_severity_job_failures_outrank_exit_2)
{
    const int exit1[] = {PM_EINTERNAL, PM_ENOMEM, PM_EIO, PM_EDATA};
    const int exit2[] = {PM_ESTATE, PM_ECONFIG, PM_EUSAGE};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++)
            ck_assert_int_gt(pm_error_severity(exit1[i]), pm_error_severity(exit2[j]));
}
END_TEST

/* An interruption never hides a real error another rank met: every error
 * code outranks it. */
START_TEST(test_severity_errors_outrank_interrupt)
{
    for (size_t i = 0; i + 1 < N_ORDER; i++)
        ck_assert_int_gt(pm_error_severity(order[i]), pm_error_severity(PM_EINTR));
    ck_assert_int_eq(pm_error_severity(PM_EINTR), 1);
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
    tcase_add_test(tc, test_set_fills_and_returns_code);
    tcase_add_test(tc, test_clear);
    tcase_add_test(tc, test_set_truncates_long_file_and_message);
    tcase_add_test(tc, test_format_parts);
    tcase_add_test(tc, test_format_truncation);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_try_forwards);
    tcase_add_test(tc, test_severity_order);
    tcase_add_test(tc, test_severity_job_failures_outrank_exit_2);
    tcase_add_test(tc, test_severity_errors_outrank_interrupt);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
