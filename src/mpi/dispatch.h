/* Dynamic hand-out of work items (scatter tasks, output files) over MPI.
 *
 * Rank 0 coordinates *and* works: it takes items from the same queue and,
 * between records, serves the other ranks' requests (pm_dispatch_poll), so
 * no rank sits idle as a pure coordinator on a small machine. A worker asks
 * for its next item when it finishes one, reporting that item's outcome.
 * Items go out in queue order (the caller sorts largest first).
 *
 * Failure: a rank that fails reports it in its next request and stops
 * asking. From then on the coordinator answers every request with "done",
 * so all ranks reach the end of the phase, where pm_dispatch_finish() agrees
 * on one status with an allreduce: an error anywhere is an error everywhere,
 * never a hang. Every message and wait goes through peers.h, so a rank
 * that stops answering ends the job instead (run.peer_timeout). Collective
 * calls: pm_dispatch_begin and pm_dispatch_finish (all ranks). */
#ifndef PILEMIX_MPI_DISPATCH_H
#define PILEMIX_MPI_DISPATCH_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

/* What a worker reports when it asks for more. */
typedef struct pm_item_report {
    int64_t status;   /* 0 or a negative PM_E* code */
    int64_t item;     /* the item finished, -1 for none */
    int64_t bytes;    /* its size, for progress */
    int64_t rejected; /* bad records it skipped (scatter) */
} pm_item_report_t;

typedef struct pm_dispatch {
    MPI_Comm comm;
    int rank, size;
    /* rank 0 */
    const uint32_t *queue;
    size_t n_queue, next;
    int active_workers; /* ranks > 0 not yet told "done" */
    bool failed;
    uint64_t items_done, bytes_done, rejected;
    uint64_t max_rejected; /* UINT64_MAX: no limit */
    int64_t first_failure; /* status of the first failure seen */
    bool over_rejected;    /* failed because the job's bad records passed the limit */
    /* ranks > 0 */
    bool told_done;
} pm_dispatch_t;

/* Order a queue of items by sizes[item], largest first (ties by item, so
 * the order is stable): the longest work starts first. */
void pm_dispatch_sort_by_size(uint32_t *queue, size_t n, const uint64_t *sizes);

/* Collective. queue is read on rank 0 only. */
void pm_dispatch_begin(pm_dispatch_t *d, MPI_Comm comm, const uint32_t *queue, size_t n_queue,
                       uint64_t max_rejected);

/* Next item for this rank: 1 with *item set, 0 when there is no more work.
 * last reports the previous item (item -1 for none). */
int pm_dispatch_next(pm_dispatch_t *d, const pm_item_report_t *last, uint32_t *item);

/* Rank 0: answer pending requests without blocking. Returns true when the
 * job has failed somewhere (the caller should stop its own work). Cheap on
 * other ranks (returns false). */
bool pm_dispatch_poll(pm_dispatch_t *d);

/* Collective: report this rank's status (a failing worker tells rank 0 here
 * if it has not yet), serve until every worker is done, then agree on the
 * status: returns the most severe status of all ranks (0 when all ok). */
int pm_dispatch_finish(pm_dispatch_t *d, int my_status);

#endif
