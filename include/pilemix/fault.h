/* Test-only fault injection: make a run fail at a named, deterministic place.
 *
 * PILEMIX_FAULT holds one or more faults separated by ';' or ','. A fault is
 * a point followed by ':'-separated fields:
 *
 *   FAULT  = POINT { ":" FIELD }
 *   FIELD  = "task=" N | "file=" N | "n=" N | "rank=" R | ACTION
 *   ACTION = "kill" | "stop" | "eio" | "edata" | "econfig" | "estate" | "enomem" | "einternal"
 *
 * Points, and the place a fault can name (task = input file index of the
 * plan, file = output file index: train shards, then val, then test):
 *   setup           every rank, once, when the config and plan are shared
 *   scatter-start   every rank, once, before it asks for its first task
 *   scatter-record  task=T: after each record read from task T
 *   scatter-task    task=T: after task T's commit record is written to its
 *                   rank's spill stream (after the run holding its last
 *                   records: possibly while a later task runs, or when the
 *                   rank's stream is closed at the end of the scatter)
 *   spill-open      task=T: every rank, when it opens the spill streams for
 *                   the gather and takes task T's commit (once per task)
 *   gather-start    every rank, once, before it asks for its first output file
 *   gather-pass     file=F: after each bucket pass of output file F
 *   gather-file     file=F: after output file F is committed
 *   finish          rank 0, once, before the manifest is written
 *   dedup-start     every rank, once, before its first dedup bucket (output.dedup)
 *   dedup-bucket    bucket=D: after dedup bucket D's result is saved
 *
 * A fault fires at the n-th (default 1st) hit of its point at its place, on
 * whichever rank gets there: a task or an output file is handled by one rank,
 * so "the 5th record of task 3" is the same event at any rank count and under
 * any schedule. rank=R limits a fault to rank R; use it only with points that
 * every rank passes (setup, scatter-start, spill-open, gather-start), as which rank runs a
 * task is decided at run time. Without task=/file=, a fault counts the hits of
 * its point at every place.
 *
 * Actions: kill (the default) prints "pilemix: PILEMIX_FAULT: killing pid P
 * (rank R) at PLACE" and sends itself SIGKILL, exactly as `kill -9` would;
 * stop prints "... stopping pid P ..." and sends itself SIGSTOP, so a test can
 * act at a known moment (then SIGCONT or SIGKILL it); the error actions make
 * pm_fault_hit return that PM_E* code with the message "injected fault at
 * PLACE (ACTION)", which the run then reports and handles like any other error.
 *
 * Examples: "scatter-record:task=3:n=5", "gather-pass:file=1:n=2:eio",
 * "scatter-start:rank=0:eio;scatter-start:rank=1:econfig", "finish:stop".
 *
 * A malformed PILEMIX_FAULT is a usage error (a typo must not silently turn a
 * fault test into a clean run). Unset (the normal case), a hit costs one
 * branch. Not thread-safe: points are hit from the rank's main thread. */
#ifndef PILEMIX_FAULT_H
#define PILEMIX_FAULT_H

#include "pilemix/error.h"

#include <stdbool.h>
#include <stdint.h>

/* The place argument of a point that names none. */
#define PM_FAULT_NOWHERE ((int64_t)-1)

extern bool pm_fault_armed;

/* Parse PILEMIX_FAULT for this rank: 0 (armed or not), or PM_EUSAGE with err
 * filled when the variable is malformed. */
int pm_fault_init(int rank, pm_error_t *err);

/* Parse spec as PILEMIX_FAULT would be (NULL or "" disarms); for tests. */
int pm_fault_configure(const char *spec, int rank, pm_error_t *err);

int pm_fault_hit_slow(const char *point, int64_t where, pm_error_t *err);

/* Reached point at place where (a task or file index, or PM_FAULT_NOWHERE):
 * 0 to go on, or an injected PM_E* code with err filled. */
static inline int pm_fault_hit(const char *point, int64_t where, pm_error_t *err)
{
    if (!pm_fault_armed)
        return 0;
    return pm_fault_hit_slow(point, where, err);
}

#endif
