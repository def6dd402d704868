#include "progress.h"
#include "peers.h"

#include "pilemix/job.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_DONE = 1, TAG_FINAL = 2 };
#define SEND_EVERY 0.5 /* seconds between a rank's messages */

double pm_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pm_progress_init(pm_progress_t *p, MPI_Comm comm, double interval)
{
    memset(p, 0, sizeof *p);
    p->interval = interval;
    p->comm = MPI_COMM_NULL;
    p->req = MPI_REQUEST_NULL;
    MPI_Comm_rank(comm, &p->rank);
    MPI_Comm_size(comm, &p->size);
    p->tty = p->rank == 0 && isatty(STDERR_FILENO);
    if (interval <= 0)
        return;
    MPI_Comm_dup(comm, &p->comm); /* its tags never meet the dispatch's */
    if (p->rank == 0)
        p->done = calloc((size_t)p->size, sizeof *p->done); /* NULL: rank 0's own only */
}

void pm_progress_free(pm_progress_t *p)
{
    if (p->comm != MPI_COMM_NULL) {
        if (p->req != MPI_REQUEST_NULL)
            MPI_Cancel(&p->req), MPI_Request_free(&p->req);
        MPI_Comm_free(&p->comm);
    }
    free(p->done);
    p->done = NULL;
}

void pm_progress_begin(pm_progress_t *p, const char *phase, const char *unit, uint64_t total_items,
                       uint64_t total_bytes)
{
    p->start = p->last = p->last_send = pm_now();
    p->phase = phase;
    p->unit = unit;
    p->total_items = total_items;
    p->total_bytes = total_bytes;
    p->finished = p->current = 0;
    if (p->done)
        memset(p->done, 0, (size_t)p->size * sizeof *p->done);
}

static void send_done(pm_progress_t *p, bool force)
{
    if (p->comm == MPI_COMM_NULL || p->rank == 0)
        return;
    double now = pm_now();
    if (!force && now - p->last_send < SEND_EVERY)
        return;
    if (p->req != MPI_REQUEST_NULL) {
        int flag = 0;
        MPI_Test(&p->req, &flag, MPI_STATUS_IGNORE);
        if (!flag)
            return; /* the last one is still on its way: skip this one */
    }
    p->last_send = now;
    p->msg = p->finished + p->current;
    MPI_Isend(&p->msg, 1, MPI_UINT64_T, 0, TAG_DONE, p->comm, &p->req);
}

void pm_progress_item(pm_progress_t *p, uint64_t bytes_in_item)
{
    p->current = bytes_in_item;
    send_done(p, false);
}

void pm_progress_item_done(pm_progress_t *p, uint64_t item_bytes)
{
    p->finished += item_bytes;
    p->current = 0;
    send_done(p, false);
}

/* Rank 0: take in every message that has arrived. */
static void take_messages(pm_progress_t *p)
{
    if (p->comm == MPI_COMM_NULL)
        return;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_DONE, p->comm, &flag, &st);
        if (!flag)
            return;
        uint64_t v;
        MPI_Recv(&v, 1, MPI_UINT64_T, st.MPI_SOURCE, TAG_DONE, p->comm, MPI_STATUS_IGNORE);
        if (p->done && v > p->done[st.MPI_SOURCE])
            p->done[st.MPI_SOURCE] = v;
    }
}

static void end_line(pm_progress_t *p)
{
    if (p->line_open) {
        fputc('\n', stderr);
        p->line_open = false;
    }
}

void pm_progress_say(pm_progress_t *p, const char *fmt, ...)
{
    end_line(p);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fflush(stderr);
}

void pm_progress_update(pm_progress_t *p, uint64_t items_done)
{
    if (p->interval <= 0 || p->rank != 0)
        return;
    double now = pm_now();
    if (now - p->last < p->interval)
        return;
    p->last = now;
    take_messages(p);
    uint64_t bytes = p->finished + p->current;
    for (int r = 1; p->done && r < p->size; r++)
        bytes += p->done[r];
    if (bytes > p->total_bytes)
        bytes = p->total_bytes;
    double el = now - p->start;
    double rate = el > 0 ? (double)bytes / el : 0;
    double frac = p->total_bytes ? (double)bytes / (double)p->total_bytes : 0;
    char done[32], total[32], eta[32] = "?";
    pm_job_format_size(bytes, done, sizeof done);
    pm_job_format_size(p->total_bytes, total, sizeof total);
    if (rate > 0) {
        long s = (long)((double)(p->total_bytes - bytes) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "%spilemix: %s %llu/%llu %s, %s/%s (%.0f%%), %.1f MB/s, ETA %s%s",
            p->tty ? "\r" : "", p->phase, (unsigned long long)items_done,
            (unsigned long long)p->total_items, p->unit, done, total, 100.0 * frac, rate / 1e6, eta,
            p->tty ? "\033[K" : "\n");
    p->line_open = p->tty;
    fflush(stderr);
}

void pm_progress_end(pm_progress_t *p, bool ok)
{
    if (p->rank == 0)
        end_line(p);
    if (p->comm == MPI_COMM_NULL || !ok)
        return;
    /* Every rank's last message, then a final one: rank 0 takes in
     * everything up to each rank's final, so nothing is left unmatched. */
    if (p->rank != 0) {
        if (p->req != MPI_REQUEST_NULL)
            pm_mpi_wait(&p->req);
        uint64_t fin = 0;
        MPI_Request req;
        MPI_Isend(&fin, 1, MPI_UINT64_T, 0, TAG_FINAL, p->comm, &req);
        pm_mpi_wait(&req); /* waits tick: a lost rank 0 ends the job */
        return;
    }
    for (int finals = 0; finals < p->size - 1;) {
        MPI_Status st;
        uint64_t v;
        MPI_Request req;
        MPI_Irecv(&v, 1, MPI_UINT64_T, MPI_ANY_SOURCE, MPI_ANY_TAG, p->comm, &req);
        pm_mpi_wait_status(&req, &st);
        finals += st.MPI_TAG == TAG_FINAL;
    }
}
