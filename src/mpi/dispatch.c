#include "dispatch.h"

#include "agree.h"
#include "peers.h"
#include "pilemix/error.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_REQUEST = 101, TAG_ITEM = 102 };

static void nap(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

/* Point-to-point, with the deadline of every wait (peers.h): a blocking
 * MPI_Send to a host that was cut off could block for good once the
 * socket's buffer is full. */
static void send_i64(const void *buf, int count, int dest, int tag, MPI_Comm comm)
{
    MPI_Request req;
    MPI_Isend(buf, count, MPI_INT64_T, dest, tag, comm, &req);
    pm_mpi_wait(&req);
}

static void recv_i64(void *buf, int count, int source, int tag, MPI_Comm comm)
{
    MPI_Request req;
    MPI_Irecv(buf, count, MPI_INT64_T, source, tag, comm, &req);
    pm_mpi_wait(&req);
    pm_peers_heard(source);
}

void pm_dispatch_begin(pm_dispatch_t *d, MPI_Comm comm, const uint32_t *queue, size_t n_queue,
                       uint64_t max_rejected)
{
    memset(d, 0, sizeof *d);
    d->comm = comm;
    MPI_Comm_rank(comm, &d->rank);
    MPI_Comm_size(comm, &d->size);
    d->queue = queue;
    d->n_queue = n_queue;
    d->active_workers = d->size - 1;
    d->max_rejected = max_rejected;
}

static void account(pm_dispatch_t *d, const pm_item_report_t *r)
{
    if (r->status < 0) {
        if (!d->failed)
            d->first_failure = r->status;
        d->failed = true;
        return;
    }
    if (r->item >= 0) {
        d->items_done++;
        d->bytes_done += (uint64_t)r->bytes;
        d->rejected += (uint64_t)r->rejected;
        if (d->rejected > d->max_rejected && !d->failed) {
            d->failed = true;
            d->over_rejected = true;
            d->first_failure = PM_EDATA;
        }
    }
}

/* Rank 0: the next item to give out, or -1. */
static int64_t take(pm_dispatch_t *d)
{
    if (d->failed || d->next >= d->n_queue)
        return -1;
    return d->queue[d->next++];
}

static void serve_one(pm_dispatch_t *d, int source)
{
    pm_item_report_t r;
    recv_i64(&r, 4, source, TAG_REQUEST, d->comm); /* probed: here already */
    account(d, &r);
    int64_t item = r.status < 0 ? -1 : take(d);
    send_i64(&item, 1, source, TAG_ITEM, d->comm);
    if (item < 0)
        d->active_workers--;
}

bool pm_dispatch_poll(pm_dispatch_t *d)
{
    if (d->rank != 0)
        return false;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, d->comm, &flag, &st);
        if (!flag)
            break;
        serve_one(d, st.MPI_SOURCE);
    }
    return d->failed;
}

int pm_dispatch_next(pm_dispatch_t *d, const pm_item_report_t *last, uint32_t *item)
{
    if (d->rank == 0) {
        account(d, last);
        pm_dispatch_poll(d);
        int64_t it = take(d);
        if (it < 0)
            return 0;
        *item = (uint32_t)it;
        return 1;
    }
    int64_t it;
    send_i64(last, 4, 0, TAG_REQUEST, d->comm);
    /* Rank 0 answers between its own records: a long task of its own
     * delays the answer, never beyond its next poll. */
    recv_i64(&it, 1, 0, TAG_ITEM, d->comm);
    if (it < 0) {
        d->told_done = true;
        return 0;
    }
    *item = (uint32_t)it;
    return 1;
}

int pm_dispatch_finish(pm_dispatch_t *d, int my_status)
{
    if (d->rank == 0) {
        if (my_status < 0 && !d->failed) {
            d->failed = true;
            d->first_failure = my_status;
        }
        while (d->active_workers > 0) {
            int flag = 0;
            MPI_Status st;
            MPI_Iprobe(MPI_ANY_SOURCE, TAG_REQUEST, d->comm, &flag, &st);
            if (flag) {
                serve_one(d, st.MPI_SOURCE);
            } else {
                nap();
                pm_peers_tick(); /* workers still at work send heartbeats */
            }
        }
        if (d->failed && my_status == 0)
            my_status = (int)d->first_failure;
    } else if (!d->told_done) {
        /* Workers leave their loop only when told "done" or on failure; a
         * failure is reported here, and rank 0 answers it with "done". */
        if (my_status == 0)
            my_status = PM_EINTERNAL;
        pm_item_report_t r = {my_status, -1, 0, 0};
        uint32_t item;
        pm_dispatch_next(d, &r, &item);
    }
    return pm_mpi_agree(my_status, d->comm);
}

static int by_size_desc(const void *a, const void *b, void *ctx)
{
    const uint64_t *sizes = ctx;
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (sizes[x] != sizes[y])
        return sizes[x] > sizes[y] ? -1 : 1;
    return x < y ? -1 : x > y;
}

void pm_dispatch_sort_by_size(uint32_t *queue, size_t n, const uint64_t *sizes)
{
    if (n > 1)
        qsort_r(queue, n, sizeof *queue, by_size_desc, (void *)sizes);
}
