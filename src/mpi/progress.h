/* Progress lines on stderr, printed by rank 0, counting bytes inside the
 * items every rank is working on (not only finished files), so a phase of a
 * few huge output files moves:
 *
 *   "pilemix: gather 3/32 files, 41.2/120.5 GiB (34%), 212 MB/s, ETA 0:06:14"
 *
 * On a terminal the line updates in place (\r); into a log each is a whole
 * line. Every rank tells rank 0, at most twice a second, how many bytes of
 * the phase it has done (its finished items and its part of the current
 * one) with a small non-blocking message on a communicator of its own; rank
 * 0 takes them in whenever it updates. An interval of 0 turns it all off (no
 * messages). Calls: pm_progress_init/free and pm_progress_end are
 * collective; the others are local. */
#ifndef PILEMIX_MPI_PROGRESS_H
#define PILEMIX_MPI_PROGRESS_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct pm_progress {
    double interval;
    double start, last;
    const char *phase, *unit;
    uint64_t total_items, total_bytes;
    MPI_Comm comm; /* MPI_COMM_NULL when off */
    int rank, size;
    uint64_t *done;    /* rank 0: per rank, bytes done in this phase */
    uint64_t finished; /* this rank: bytes of its finished items */
    uint64_t current;  /* this rank: bytes into its current item */
    double last_send;
    MPI_Request req;
    uint64_t msg;
    bool tty, line_open;
} pm_progress_t;

double pm_now(void); /* monotonic seconds */

/* Collective. interval: seconds between lines (0: off). */
void pm_progress_init(pm_progress_t *p, MPI_Comm comm, double interval);
void pm_progress_free(pm_progress_t *p); /* collective */

/* Every rank: a phase starts (total_items, total_bytes: rank 0's figures). */
void pm_progress_begin(pm_progress_t *p, const char *phase, const char *unit, uint64_t total_items,
                       uint64_t total_bytes);
/* Every rank: bytes into its current item; an item finished with its bytes. */
void pm_progress_item(pm_progress_t *p, uint64_t bytes_in_item);
void pm_progress_item_done(pm_progress_t *p, uint64_t item_bytes);
/* Rank 0: print a line if the interval has passed. */
void pm_progress_update(pm_progress_t *p, uint64_t items_done);
/* Collective, when the phase is over everywhere: take in the last messages
 * (ok: every rank got here; when the phase failed they are left). Rank 0
 * ends an in-place line. */
void pm_progress_end(pm_progress_t *p, bool ok);

/* Rank 0: one line now, outside the rate limit (the start line, warnings),
 * ending an in-place progress line first. */
void pm_progress_say(pm_progress_t *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
