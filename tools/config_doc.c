/* pilemix-config-doc: the README's config table, generated from the schema
 * table (src/config.c), so the documentation cannot drift from the code.
 *
 *   pilemix-config-doc --markdown        print the table
 *   pilemix-config-doc --check README    exit 1 when README's table differs
 *   pilemix-config-doc --update README   rewrite README's table in place
 *   pilemix-config-doc --man TEMPLATE    print the man page: TEMPLATE with its
 *                                        MAN_MARK line replaced by the keys
 *                                        in roff, and @VERSION@ by the version
 *
 * The table sits between a line starting with BEGIN_MARK and a line starting
 * with END_MARK; the rest of the README (prose, examples) is left alone.
 * jobs/gen-docs.sh builds this tool and runs --update; a meson test runs
 * --check. The build makes pilemix.1 with --man from docs/pilemix.1.in, so
 * the installed man page always has the keys of the binary beside it.
 * Built by meson, not installed. */
#include "pilemix/buf.h"
#include "pilemix/config_schema.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN_MARK "<!-- config-keys:begin"
#define END_MARK "<!-- config-keys:end"
#define MAN_MARK ".\\\" @CONFIG_KEYS@"

/* A table cell: "|" would end the cell early. */
static void append_cell(pm_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            pm_buf_append_char(b, '\\');
        pm_buf_append_char(b, *s);
    }
}

static int render(pm_buf_t *b)
{
    const pm_cfg_schema_t *s = &pm_config_schema;
    pm_buf_append_str(b, "| key | type, default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        char path[256], type[512];
        pm_cfg_key_doc_path(s, k, path, sizeof path);
        pm_cfg_key_doc_type(k, type, sizeof type);
        pm_buf_printf(b, "| `%s` | ", path);
        append_cell(b, type);
        pm_buf_append_str(b, " | ");
        append_cell(b, k->doc);
        if (k->cli)
            pm_buf_printf(b, "; `%s` overrides it", k->cli);
        if (!(k->flags & PM_CFG_OUTPUT))
            pm_buf_append_str(b, "; cannot change the output, so not in the config hash");
        pm_buf_append_str(b, " |\n");
    }
    return b->data ? 0 : -1;
}

static char *read_file(const char *path);

/* Text for roff: backslashes escaped, `code` in bold and *words* in italics
 * (the schema's docs are written for markdown), a leading '.' or '\''
 * protected. */
static void append_roff(pm_buf_t *b, const char *s)
{
    bool bold = false, italic = false;
    if (*s == '.' || *s == '\'')
        pm_buf_append_str(b, "\\&");
    for (; *s; s++) {
        if (*s == '`') {
            pm_buf_append_str(b, bold ? "\\fR" : "\\fB");
            bold = !bold;
        } else if (*s == '*' && !bold) {
            pm_buf_append_str(b, italic ? "\\fR" : "\\fI");
            italic = !italic;
        } else if (*s == '\\') {
            pm_buf_append_str(b, "\\e");
        } else if (*s == '\n') {
            pm_buf_append_char(b, ' ');
        } else {
            pm_buf_append_char(b, *s);
        }
    }
    if (bold || italic)
        pm_buf_append_str(b, "\\fR");
}

static int render_man(pm_buf_t *b)
{
    const pm_cfg_schema_t *s = &pm_config_schema;
    for (size_t i = 0; i < s->n_keys; i++) {
        const pm_cfg_key_t *k = &s->keys[i];
        char path[256], type[512];
        pm_cfg_key_doc_path(s, k, path, sizeof path);
        pm_cfg_key_doc_type(k, type, sizeof type);
        pm_buf_append_str(b, ".TP\n.B ");
        append_roff(b, path);
        pm_buf_append_str(b, "\n");
        append_roff(b, type);
        pm_buf_append_str(b, ".\n");
        append_roff(b, k->doc);
        bool stop = k->doc[0] && k->doc[strlen(k->doc) - 1] == '.';
        if (k->cli) {
            stop = false;
            pm_buf_append_str(b, "; ");
            append_roff(b, k->cli);
            pm_buf_append_str(b, " overrides it");
        }
        if (!(k->flags & PM_CFG_OUTPUT)) {
            pm_buf_append_str(b, "; cannot change the output, so not in the config hash");
            stop = false;
        }
        pm_buf_append_str(b, stop ? "\n" : ".\n");
    }
    return b->data ? 0 : -1;
}

/* The man page: template with the key list and the version filled in. */
static int print_man(const char *template_path)
{
    char *text = read_file(template_path);
    if (!text) {
        fprintf(stderr, "pilemix-config-doc: cannot read %s\n", template_path);
        return 1;
    }
    pm_buf_t keys, out;
    pm_buf_init(&keys);
    pm_buf_init(&out);
    int found = 0;
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len == strlen(MAN_MARK) && !memcmp(line, MAN_MARK, len)) {
            render_man(&keys);
            pm_buf_append(&out, keys.data, keys.len);
            found++;
        } else {
            for (size_t i = 0; i < len; i++) {
                if (!strncmp(line + i, "@VERSION@", 9)) {
                    pm_buf_append_str(&out, PM_VERSION);
                    i += 8;
                } else {
                    pm_buf_append_char(&out, line[i]);
                }
            }
            pm_buf_append_char(&out, '\n');
        }
        line += len + (nl ? 1 : 0);
    }
    int rc = 0;
    if (found != 1) {
        fprintf(stderr, "pilemix-config-doc: %s: needs exactly one \"%s\" line\n", template_path,
                MAN_MARK);
        rc = 1;
    } else if (!out.data || fwrite(out.data, 1, out.len, stdout) != out.len) {
        rc = 1;
    }
    free(text);
    pm_buf_free(&keys);
    pm_buf_free(&out);
    return rc;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    pm_buf_t b;
    pm_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        pm_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad || !b.data) {
        pm_buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The table's span in text: [*start, *end), from after the begin marker's
 * line to the start of the end marker's line. */
static int find_table(const char *text, size_t *start, size_t *end)
{
    const char *begin = strstr(text, "\n" BEGIN_MARK);
    const char *stop = begin ? strstr(begin, "\n" END_MARK) : NULL;
    const char *body = begin ? strchr(begin + 1, '\n') : NULL;
    if (!begin || !stop || !body || body > stop)
        return -1;
    *start = (size_t)(body + 1 - text);
    *end = (size_t)(stop + 1 - text);
    return 0;
}

/* text with [start, end) replaced by the table, written whole then renamed
 * over path, so an interrupted run leaves the old README. */
static int write_with_table(const char *path, const char *text, size_t start, size_t end,
                            const pm_buf_t *table)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return 1;
    size_t rest = strlen(text + end);
    int ok = fwrite(text, 1, start, f) == start &&
             fwrite(table->data, 1, table->len, f) == table->len &&
             fwrite(text + end, 1, rest, f) == rest;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    pm_error_t err;
    if (pm_cfg_schema_check(&pm_config_schema, &err) < 0) {
        fprintf(stderr, "pilemix-config-doc: %s\n", err.msg);
        return 1;
    }
    pm_buf_t table;
    pm_buf_init(&table);
    if (render(&table) < 0) {
        fprintf(stderr, "pilemix-config-doc: out of memory\n");
        return 1;
    }
    if (argc == 3 && !strcmp(argv[1], "--man")) {
        pm_buf_free(&table);
        return print_man(argv[2]);
    }
    if (argc == 2 && !strcmp(argv[1], "--markdown")) {
        fputs(table.data, stdout);
        pm_buf_free(&table);
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "--check") && strcmp(argv[1], "--update"))) {
        fprintf(stderr, "usage: pilemix-config-doc --markdown | --check README | --update README | "
                        "--man TEMPLATE\n");
        pm_buf_free(&table);
        return 2;
    }
    const char *path = argv[2];
    char *text = read_file(path);
    size_t start, end;
    int rc = 1;
    if (!text) {
        fprintf(stderr, "pilemix-config-doc: cannot read %s\n", path);
    } else if (find_table(text, &start, &end) < 0) {
        fprintf(stderr,
                "pilemix-config-doc: %s: no table between \"%s ...\" and \"%s ...\" lines\n", path,
                BEGIN_MARK, END_MARK);
    } else if (!strcmp(argv[1], "--check")) {
        if (end - start == table.len && !memcmp(text + start, table.data, table.len)) {
            rc = 0;
        } else {
            fprintf(stderr,
                    "pilemix-config-doc: the config table in %s differs from the schema in "
                    "src/config.c.\nRegenerate it with jobs/gen-docs.sh (or pilemix-config-doc "
                    "--update %s) and commit the result. Expected:\n%s",
                    path, path, table.data);
        }
    } else {
        rc = write_with_table(path, text, start, end, &table);
        if (rc)
            fprintf(stderr, "pilemix-config-doc: cannot write %s\n", path);
    }
    free(text);
    pm_buf_free(&table);
    return rc;
}
