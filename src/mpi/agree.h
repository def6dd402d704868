/* All ranks agree on one status after a collective phase.
 *
 * Each rank brings 0 or a negative PM_E* code; every rank gets back the most
 * severe of them (pm_error_severity: PM_EINTERNAL first, PM_EUSAGE, then
 * PM_EINTR last), or 0 when all are 0. The result depends only on the set of
 * codes, never on which rank failed first, so the exit status of a job whose
 * ranks fail differently is the same at every run. The ranks also agree on
 * the interrupting signal, if any (interrupt.h). Collective: every rank of
 * comm calls it. Waits through pm_mpi_wait (peers.h): never spins, never
 * hangs on a lost rank. */
#ifndef PILEMIX_MPI_AGREE_H
#define PILEMIX_MPI_AGREE_H

#include <mpi.h>

int pm_mpi_agree(int status, MPI_Comm comm);

#endif
