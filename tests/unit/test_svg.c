/* svg.h: markup escaping, the sticky error, SVG elements and axis ticks. */
#include "pilemix/svg.h"
#include "pilemix/error.h"
#include "test_util.h"

#include <math.h>

START_TEST(test_escape)
{
    pm_markup_t m;
    pm_mk_init(&m);
    pm_mk_text(&m, "<b>\"Tom\" & 'Jerry'</b> 維基");
    ck_assert_str_eq(m.buf.data, "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt; 維基");
    pm_buf_reset(&m.buf);
    pm_mk_textn(&m, "a\0b", 3); /* NUL: not allowed in HTML, shown as U+FFFD */
    ck_assert_str_eq(m.buf.data, "a\xEF\xBF\xBD"
                                 "b");
    pm_buf_reset(&m.buf);
    pm_mk_text(&m, "plain");
    ck_assert_str_eq(m.buf.data, "plain");
    ck_assert_int_eq(m.err, 0);
    /* after a failure every call is a no-op: the error stays for the end */
    m.err = PM_ENOMEM;
    pm_mk_text(&m, "more");
    pm_mk_printf(&m, "%d", 5);
    pm_svg_end(&m);
    ck_assert_str_eq(m.buf.data, "plain");
    ck_assert_int_eq(m.err, PM_ENOMEM);
    pm_mk_free(&m);
}
END_TEST

START_TEST(test_elements)
{
    pm_markup_t m;
    pm_mk_init(&m);
    pm_svg_begin(&m, 300, 100, "chart", "A <chart>");
    pm_svg_bar(&m, 1, 2, -3, 4.25, "c1", "mix", "x < y");
    pm_svg_text(&m, 5, 6, "end", "muted", "R&D");
    pm_svg_end(&m);
    const char *s = m.buf.data;
    ck_assert_ptr_nonnull(strstr(s, "<svg class=\"chart\" viewBox=\"0 0 300 100\" role=\"img\" "
                                    "aria-label=\"A &lt;chart&gt;\""));
    /* a negative width is drawn as 0; one decimal */
    ck_assert_ptr_nonnull(strstr(s, "<rect class=\"bar c1\" data-chart=\"mix\" x=\"1.0\" "
                                    "y=\"2.0\" width=\"0.0\" height=\"4.2\"><title>x &lt; "
                                    "y</title></rect>"));
    ck_assert_ptr_nonnull(strstr(s, ">R&amp;D</text>"));
    ck_assert_ptr_nonnull(strstr(s, "</svg>"));
    ck_assert_ptr_null(strstr(s, "http"));
    pm_mk_free(&m);
}
END_TEST

START_TEST(test_axes)
{
    double step, top;
    pm_axis_linear(37.2, 5, &step, &top);
    ck_assert(step == 10 && top == 40);
    pm_axis_linear(0.9, 5, &step, &top);
    ck_assert(fabs(step - 0.2) < 1e-12 && fabs(top - 1.0) < 1e-12);
    pm_axis_linear(100, 5, &step, &top);
    ck_assert(step == 20 && top == 100);
    pm_axis_linear(0, 5, &step, &top); /* nothing to show: still a usable axis */
    ck_assert(step > 0 && top > 0);
    pm_axis_linear(2.5e9, 4, &step, &top);
    ck_assert(step == 1e9 && top == 3e9);

    ck_assert_int_eq(pm_axis_log2_step(0, 20, 6), 5);
    ck_assert_int_eq(pm_axis_log2_step(8, 12, 6), 1);
    ck_assert_int_eq(pm_axis_log2_step(3, 14, 6), 2);
    char b[PM_POW2_MAX];
    ck_assert_str_eq(pm_fmt_pow2(0, b), "1 B");
    ck_assert_str_eq(pm_fmt_pow2(5, b), "32 B");
    ck_assert_str_eq(pm_fmt_pow2(10, b), "1 KiB");
    ck_assert_str_eq(pm_fmt_pow2(29, b), "512 MiB");
    ck_assert_str_eq(pm_fmt_pow2(39, b), "512 GiB");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("svg");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_escape);
    tcase_add_test(tc, test_elements);
    tcase_add_test(tc, test_axes);
    suite_add_tcase(s, tc);
    return pm_test_run(s);
}
