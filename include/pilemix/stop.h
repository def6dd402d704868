/* A request to stop, set from a signal handler, checked at record
 * boundaries.
 *
 * The core never handles signals: the MPI layer's SIGINT/SIGTERM handler
 * sets pm_stop_requested to the signal's number. The scatter and the gather
 * read it once per record (a load of a volatile) and, when it is set, call
 * their poll callback at once instead of waiting for the next poll
 * interval; the callback (the MPI layer's) then fails the task or output
 * file in progress with PM_EINTR, so it is discarded, never committed. The
 * flag says only "poll now": deciding to stop stays with the callback. */
#ifndef PILEMIX_STOP_H
#define PILEMIX_STOP_H

#include <signal.h>

/* 0, or the number of the signal that asked the run to stop. */
extern volatile sig_atomic_t pm_stop_requested;

#endif
