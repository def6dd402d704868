#include "peers.h"

#include "progress.h"

#include "pilemix/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A tag of its own: dispatch.c probes only for its request tag, and
 * collectives never match point-to-point messages. */
enum { TAG_ALIVE = 199 };

static struct {
    bool open;
    int rank, size;
    char (*hosts)[MPI_MAX_PROCESSOR_NAME];
    int *host_first; /* per rank: the first rank on its host */
    int *host_ranks; /* per rank r that is first on its host: ranks there */
    int n_hosts;
    double timeout, period, check_every;
    double next_check, next_beat;
    double *heard;         /* per rank: when we last heard from it */
    MPI_Request *beat_req; /* per destination rank */
    int beat_out, beat_in; /* payloads (their content does not matter) */
    const char *activity;
} P;

static void nap(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

/* The out-of-memory path of the collective set-up: as in run.c, returning
 * would leave the other ranks waiting. */
static _Noreturn void nomem(void)
{
    fprintf(stderr, "pilemix: error (rank %d): out of memory (the rank table)\n", P.rank);
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    abort(); /* not reached */
}

void pm_peers_set_timeout(double secs)
{
    P.timeout = secs;
    /* Five heartbeats per timeout: one lost or late beat never ends a job.
     * Checks at least every second, so a short timeout (tests) is kept. */
    P.period = secs / 5;
    P.check_every = secs / 10 < 1.0 ? secs / 10 : 1.0;
    double now = pm_now();
    P.next_check = now;
    P.next_beat = now;
}

void pm_peers_set_activity(const char *what) { P.activity = what; }

void pm_peers_init(void)
{
    memset(&P, 0, sizeof P);
    MPI_Comm_rank(MPI_COMM_WORLD, &P.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P.size);
    size_t n = (size_t)P.size;
    P.hosts = calloc(n, sizeof *P.hosts);
    P.heard = calloc(n, sizeof *P.heard);
    P.beat_req = malloc(n * sizeof *P.beat_req);
    P.host_first = calloc(n, sizeof *P.host_first);
    P.host_ranks = calloc(n, sizeof *P.host_ranks);
    int *firsts = calloc(n, sizeof *firsts); /* the first rank of each host */
    if (!P.hosts || !P.heard || !P.beat_req || !P.host_first || !P.host_ranks || !firsts)
        nomem();
    for (size_t i = 0; i < n; i++)
        P.beat_req[i] = MPI_REQUEST_NULL;
    char me[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(me, &len);
    P.activity = "start-up";
    pm_peers_set_timeout(PM_PEER_TIMEOUT_DEFAULT);
    double now = pm_now();
    for (size_t i = 0; i < n; i++)
        P.heard[i] = now;
    P.open = true;
    MPI_Request req;
    MPI_Iallgather(me, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, P.hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                   MPI_COMM_WORLD, &req);
    pm_mpi_wait(&req);
    for (int r = 0; r < P.size; r++) {
        P.hosts[r][MPI_MAX_PROCESSOR_NAME - 1] = '\0';
        int h = 0;
        while (h < P.n_hosts && strcmp(P.hosts[firsts[h]], P.hosts[r]) != 0)
            h++;
        if (h == P.n_hosts)
            firsts[P.n_hosts++] = r;
        P.host_first[r] = firsts[h];
        P.host_ranks[firsts[h]]++;
    }
    free(firsts);
}

void pm_peers_close(void)
{
    if (!P.open)
        return;
    /* Heartbeats are a few bytes, sent eagerly: they complete locally. */
    for (int r = 0; r < P.size; r++)
        if (P.beat_req[r] != MPI_REQUEST_NULL)
            pm_mpi_wait(&P.beat_req[r]);
    P.open = false;
    free(P.hosts);
    free(P.heard);
    free(P.beat_req);
    free(P.host_first);
    free(P.host_ranks);
    P.hosts = NULL;
    P.heard = NULL;
    P.beat_req = NULL;
    P.host_first = P.host_ranks = NULL;
}

void pm_peers_heard(int rank)
{
    if (P.open && rank >= 0 && rank < P.size)
        P.heard[rank] = pm_now();
}

static bool watched(int r) { return r != P.rank && (P.rank == 0 || r == 0); }

static void beat(int dest)
{
    MPI_Request *req = &P.beat_req[dest];
    if (*req != MPI_REQUEST_NULL) {
        int done = 0;
        MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (!done)
            return; /* the last one has not left yet: the link is slow or gone */
    }
    MPI_Isend(&P.beat_out, 1, MPI_INT, dest, TAG_ALIVE, MPI_COMM_WORLD, req);
}

/* Read every heartbeat that arrived (before judging anyone). */
static void drain(void)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_ALIVE, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return;
        /* Matched by the probe: completes at once. */
        MPI_Recv(&P.beat_in, 1, MPI_INT, st.MPI_SOURCE, TAG_ALIVE, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        pm_peers_heard(st.MPI_SOURCE);
    }
}

static _Noreturn void lost(double now)
{
    char me[MPI_MAX_PROCESSOR_NAME + 48], who[1024];
    size_t n = 0;
    int count = 0;
    double silent = 0;
    who[0] = '\0';
    for (int r = 0; r < P.size; r++) {
        if (!watched(r) || now - P.heard[r] <= P.timeout)
            continue;
        if (now - P.heard[r] > silent)
            silent = now - P.heard[r];
        char name[MPI_MAX_PROCESSOR_NAME + 32];
        pm_peers_name(r, name, sizeof name);
        if (n < sizeof who && count < 8)
            n += (size_t)snprintf(who + n, sizeof who - n, "%s%s", count ? ", " : "", name);
        count++;
    }
    if (count > 8 && n < sizeof who)
        snprintf(who + n, sizeof who - n, " and %d more", count - 8);
    if (P.rank == 0 && !pm_peers_multihost())
        snprintf(me, sizeof me, "error");
    else {
        char name[MPI_MAX_PROCESSOR_NAME + 32];
        pm_peers_name(P.rank, name, sizeof name);
        snprintf(me, sizeof me, "error (%s)", name);
    }
    fprintf(stderr,
            "pilemix: %s: lost %s: not a word for %.0f s (run.peer_timeout is %g s) during the "
            "%s: its host is down or cut off, or the rank is stopped or stuck; ending the job "
            "(committed work is kept for --resume)\n",
            me, who, silent, P.timeout, P.activity ? P.activity : "run");
    fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
    abort(); /* not reached */
}

void pm_peers_tick(void)
{
    if (!P.open || P.size == 1)
        return;
    double now = pm_now();
    if (now < P.next_check)
        return;
    P.next_check = now + P.check_every;
    drain();
    if (now >= P.next_beat) {
        P.next_beat = now + P.period;
        for (int r = 0; r < P.size; r++)
            if (watched(r))
                beat(r);
    }
    now = pm_now();
    for (int r = 0; r < P.size; r++)
        if (watched(r) && now - P.heard[r] > P.timeout)
            lost(now);
}

void pm_mpi_wait_status(MPI_Request *req, MPI_Status *status)
{
    int done = 0;
    MPI_Test(req, &done, status);
    while (!done) {
        nap();
        pm_peers_tick();
        MPI_Test(req, &done, status);
    }
}

void pm_mpi_wait(MPI_Request *req) { pm_mpi_wait_status(req, MPI_STATUS_IGNORE); }

const char *pm_peers_host(int rank)
{
    return P.hosts && rank >= 0 && rank < P.size ? P.hosts[rank] : "?";
}

bool pm_peers_multihost(void) { return P.n_hosts > 1; }

int pm_peers_hosts(void) { return P.n_hosts; }

int pm_peers_on_host(int rank) { return P.host_first ? P.host_ranks[P.host_first[rank]] : 1; }

void pm_peers_describe(char *out, size_t size)
{
    size_t n = 0;
    int shown = 0;
    out[0] = '\0';
    for (int r = 0; P.host_first && r < P.size && n < size; r++) {
        if (P.host_first[r] != r)
            continue;
        int w = shown < 8 ? snprintf(out + n, size - n, "%s%s(%d)", n ? ", " : "", P.hosts[r],
                                     P.host_ranks[r])
                          : snprintf(out + n, size - n, " and %d more hosts", P.n_hosts - 8);
        if (w < 0 || shown++ == 8)
            break;
        n += (size_t)w;
    }
}

void pm_peers_name(int rank, char *out, size_t size)
{
    if (pm_peers_multihost())
        snprintf(out, size, "rank %d on host %s", rank, pm_peers_host(rank));
    else
        snprintf(out, size, "rank %d", rank);
}

void pm_peers_report(int rank, int rc, pm_error_t *err)
{
    PM_ERROR_CHECK(err, rc);
    if (rc == PM_EINTR)
        return;
    char line[PM_ERROR_FILE_MAX + PM_ERROR_MSG_MAX + 64];
    pm_error_format(err, line, sizeof line);
    if (rank == 0 && !pm_peers_multihost()) {
        fprintf(stderr, "pilemix: error: %s\n", line);
    } else {
        char who[MPI_MAX_PROCESSOR_NAME + 32];
        pm_peers_name(rank, who, sizeof who);
        fprintf(stderr, "pilemix: error (%s): %s\n", who, line);
    }
    fflush(stderr);
}
