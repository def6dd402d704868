/* The other ranks: where they run, whether they still answer, and the one
 * way src/mpi waits for MPI.
 *
 * Liveness. A rank that stops answering (its host crashed or was cut off,
 * the rank is stopped or stuck) must end the job within run.peer_timeout,
 * with an error naming it and its host, never hang it. MPI itself never
 * says so: a collective or a receive from a lost peer simply never
 * completes. So the ranks keep a heartbeat of their own, in a star: every
 * worker sends rank 0 a small message every peer_timeout/5, and rank 0
 * sends one to every worker; any message from a rank counts (a dispatch
 * request, a reply). Rank 0 watches every worker and every worker watches
 * rank 0; a rank waiting in a collective for a slow worker relies on rank 0
 * to judge that worker, so no wait needs more than one watcher per peer and
 * rank 0 holds the only N-1 connections.
 *
 * The heartbeat is sent and read by the rank's own thread (no MPI thread
 * support needed) from pm_peers_tick(), which every wait calls and which the
 * MPI layer calls from the core's poll callbacks: the scatter polls every
 * 4096 records or MiB read, the gather every MiB written and every bucket
 * pass. So a heartbeat's period does not depend on how long a task takes,
 * only on the longest stretch between two polls (reading one MiB; loading
 * one bucket pass, bounded by the memory budget), which must stay well under
 * peer_timeout. A rank whose own thread is stuck (a hung file system) stops
 * answering too, which is right: the job cannot finish either.
 *
 * A rank that was itself busy for a while first reads every heartbeat that
 * arrived meanwhile, then judges: a late reader never blames a live peer.
 *
 * When a watched peer has been silent for peer_timeout, this rank prints
 * one error naming the silent ranks and their hosts, and calls MPI_Abort
 * (exit status 1): returning would leave every other rank waiting for the
 * lost one. The ranks on the far side of a cut do the same (they watch
 * rank 0), so no pilemix rank is left behind on either side. Committed work
 * survives for --resume.
 *
 * Hosts: pm_peers_init() gathers every rank's host name
 * (MPI_Get_processor_name); messages name the host when the ranks span more
 * than one.
 *
 * All calls are local except pm_peers_init() and pm_peers_close(), which
 * every rank of the job makes together. One job per process (file-scope
 * state), MPI_COMM_WORLD. */
#ifndef PILEMIX_MPI_PEERS_H
#define PILEMIX_MPI_PEERS_H

#include <mpi.h>
#include <stdbool.h>

/* The default of run.peer_timeout, also used before the config is known. */
#define PM_PEER_TIMEOUT_DEFAULT 300.0

/* Collective: learn every rank's host. Call right after MPI_Init. */
void pm_peers_init(void);

/* Collective: complete this rank's heartbeat sends and stop watching (the
 * job is over; the ranks have agreed on its status). */
void pm_peers_close(void);

/* Seconds without a word from a watched peer before the job ends. The same
 * value on every rank (it comes from the config). */
void pm_peers_set_timeout(double secs);

/* What this rank is doing, for the lost-peer message ("scatter", ...). */
void pm_peers_set_activity(const char *what);

/* Send a due heartbeat, read those that arrived, and end the job if a
 * watched peer has been silent for too long. Cheap when nothing is due (a
 * clock read): call it often. */
void pm_peers_tick(void);

/* A message from rank arrived (the caller received it): it is alive. */
void pm_peers_heard(int rank);

/* Wait for req to complete, without spinning (Open MPI busy-polls in its
 * blocking calls, which burns a core per idle rank) and without hanging: the
 * wait ticks (above), so a lost peer ends the job. Every MPI wait in src/mpi
 * goes through here. */
void pm_mpi_wait(MPI_Request *req);

/* The same, keeping the completed request's status. */
void pm_mpi_wait_status(MPI_Request *req, MPI_Status *status);

/* Print this rank's error (rc is the code the failing call returned, and
 * err must be filled: PM_ERROR_CHECK holds it to that). An interruption
 * prints nothing (rank 0 gives the hint once); on a multi-host run every
 * error names its rank and host. Shared by run, plan --count, reproduce. */
struct pm_error;
void pm_peers_report(int rank, int rc, struct pm_error *err);

/* Host name of rank (valid after pm_peers_init). */
const char *pm_peers_host(int rank);

/* Do the ranks span more than one host? */
bool pm_peers_multihost(void);

/* Ranks on rank's host, and distinct hosts. */
int pm_peers_on_host(int rank);
int pm_peers_hosts(void);

/* "h1(2), h2(2)": each host once, in rank order, with its rank count (the
 * first 8 hosts, then how many more). */
void pm_peers_describe(char *out, size_t size);

/* "rank 3" or, on a multi-host run, "rank 3 on host h2". */
void pm_peers_name(int rank, char *out, size_t size);

#endif
