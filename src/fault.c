/* PILEMIX_FAULT parsing and firing; the grammar is in fault.h. */
#include "pilemix/fault.h"

#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool pm_fault_armed = false;

/* Each point and the kind of place it is keyed by (NULL: none). */
static const struct {
    const char *name;
    const char *key;
} points[] = {
    {"setup", NULL},          {"scatter-start", NULL},    {"scatter-record", "task"},
    {"scatter-task", "task"}, {"spill-open", "task"},     {"gather-start", NULL},
    {"gather-pass", "file"},  {"gather-file", "file"},    {"finish", NULL},
    {"dedup-start", NULL},    {"dedup-bucket", "bucket"},
};
#define N_POINTS (sizeof points / sizeof points[0])

typedef enum { ACT_KILL, ACT_STOP, ACT_ERROR } action_t;

static const struct {
    const char *name;
    int code;
} errors[] = {
    {"eio", PM_EIO},       {"edata", PM_EDATA},   {"econfig", PM_ECONFIG},
    {"estate", PM_ESTATE}, {"enomem", PM_ENOMEM}, {"einternal", PM_EINTERNAL},
};

#define MAX_FAULTS 16

typedef struct fault {
    size_t point;  /* index into points[] */
    int64_t where; /* task or file index; PM_FAULT_NOWHERE: any */
    uint64_t n;    /* fire at the n-th matching hit */
    action_t action;
    int code; /* ACT_ERROR: the PM_E* code */
    uint64_t hits;
} fault_t;

static const char *action_name(const fault_t *f)
{
    for (size_t e = 0; e < sizeof errors / sizeof errors[0]; e++)
        if (f->action == ACT_ERROR && errors[e].code == f->code)
            return errors[e].name;
    return f->action == ACT_STOP ? "stop" : "kill";
}

static fault_t faults[MAX_FAULTS];
static size_t n_faults;
static int my_rank;

static int bad_spec(pm_error_t *err, const char *spec, const char *why, const char *tok)
{
    return pm_error_set(err, PM_EUSAGE, NULL, 0,
                        "PILEMIX_FAULT=\"%s\": %s \"%s\" (grammar: README, Testing)", spec, why,
                        tok);
}

/* A decimal number that fills the whole token, without sign. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* The next ':'-separated field of *rest (cut in place), or NULL at the end. */
static char *next_field(char **rest)
{
    char *f = *rest;
    if (!f)
        return NULL;
    char *colon = strchr(f, ':');
    if (colon) {
        *colon = '\0';
        *rest = colon + 1;
    } else {
        *rest = NULL;
    }
    return f;
}

/* One fault (its text is modified); *keep is false when it is for another rank. */
static int parse_fault(char *text, const char *spec, fault_t *f, bool *keep, pm_error_t *err)
{
    char *rest = text;
    char *tok = next_field(&rest);
    if (!*tok)
        return bad_spec(err, spec, "empty fault", "");
    size_t p = 0;
    while (p < N_POINTS && strcmp(points[p].name, tok) != 0)
        p++;
    if (p == N_POINTS)
        return bad_spec(err, spec, "unknown point", tok);
    *f = (fault_t){p, PM_FAULT_NOWHERE, 1, ACT_KILL, 0, 0};
    *keep = true;
    bool have_n = false, have_rank = false, have_action = false;
    while ((tok = next_field(&rest))) {
        if (!*tok)
            return bad_spec(err, spec, "empty field after", points[p].name);
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            const char *val = eq + 1;
            uint64_t v;
            if (!parse_u64(val, &v) || v > INT32_MAX) {
                *eq = '=';
                return bad_spec(err, spec, "bad number in", tok);
            }
            if (points[p].key && !strcmp(tok, points[p].key) && f->where == PM_FAULT_NOWHERE) {
                f->where = (int64_t)v;
            } else if (!strcmp(tok, "n") && !have_n && v >= 1) {
                f->n = v;
                have_n = true;
            } else if (!strcmp(tok, "rank") && !have_rank) {
                *keep = (int64_t)v == my_rank;
                have_rank = true;
            } else {
                *eq = '=';
                return bad_spec(err, spec, "field not allowed here (or repeated, or n=0):", tok);
            }
            continue;
        }
        if (have_action)
            return bad_spec(err, spec, "second action", tok);
        have_action = true;
        if (!strcmp(tok, "kill")) {
            f->action = ACT_KILL;
        } else if (!strcmp(tok, "stop")) {
            f->action = ACT_STOP;
        } else {
            size_t e = 0;
            while (e < sizeof errors / sizeof errors[0] && strcmp(errors[e].name, tok) != 0)
                e++;
            if (e == sizeof errors / sizeof errors[0])
                return bad_spec(err, spec, "unknown field or action", tok);
            f->action = ACT_ERROR;
            f->code = errors[e].code;
        }
    }
    return 0;
}

int pm_fault_configure(const char *spec, int rank, pm_error_t *err)
{
    pm_fault_armed = false;
    n_faults = 0;
    my_rank = rank;
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec);
    if (!copy)
        return pm_error_set(err, PM_ENOMEM, NULL, 0, "out of memory");
    int rc = 0;
    /* Split by hand: strtok would merge ";;" and hide an empty fault. */
    for (char *s = copy; rc == 0 && s;) {
        char *next = s + strcspn(s, ";,");
        char *after = *next ? next + 1 : NULL;
        *next = '\0';
        fault_t f;
        bool keep = false;
        rc = parse_fault(s, spec, &f, &keep, err);
        if (rc == 0 && keep) {
            if (n_faults == MAX_FAULTS)
                rc = bad_spec(err, spec, "too many faults, at most 16 from", "");
            else
                faults[n_faults++] = f;
        }
        s = after;
    }
    free(copy);
    if (rc < 0) {
        n_faults = 0;
        return rc;
    }
    pm_fault_armed = n_faults > 0;
    return 0;
}

int pm_fault_init(int rank, pm_error_t *err)
{
    return pm_fault_configure(getenv("PILEMIX_FAULT"), rank, err);
}

/* A call site naming a point the parser does not know could never fire. */
static bool known_point(const char *point)
{
    for (size_t p = 0; p < N_POINTS; p++)
        if (!strcmp(points[p].name, point))
            return true;
    return false;
}

int pm_fault_hit_slow(const char *point, int64_t where, pm_error_t *err)
{
    assert(known_point(point));
    (void)known_point;
    /* Every matching fault counts the hit, even when an earlier one fires:
     * each fault's n is its own. */
    fault_t *fire = NULL;
    for (size_t i = 0; i < n_faults; i++) {
        fault_t *f = &faults[i];
        if (strcmp(points[f->point].name, point) != 0)
            continue;
        if (f->where != PM_FAULT_NOWHERE && f->where != where)
            continue;
        if (++f->hits == f->n && !fire)
            fire = f;
    }
    if (!fire)
        return 0;
    const char *key = points[fire->point].key;
    char place[96];
    if (where != PM_FAULT_NOWHERE && key)
        snprintf(place, sizeof place, "%s:%s=%" PRId64 ":n=%" PRIu64, point, key, where,
                 fire->hits);
    else
        snprintf(place, sizeof place, "%s:n=%" PRIu64, point, fire->hits);
    if (fire->action == ACT_ERROR)
        return pm_error_set(err, fire->code, NULL, 0, "injected fault at %s (%s)", place,
                            action_name(fire));
    fprintf(stderr, "pilemix: PILEMIX_FAULT: %s pid %d (rank %d) at %s\n",
            fire->action == ACT_KILL ? "killing" : "stopping", (int)getpid(), my_rank, place);
    fflush(stderr);
    raise(fire->action == ACT_KILL ? SIGKILL : SIGSTOP);
    return 0;
}
