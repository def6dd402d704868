#include "agree.h"

#include "interrupt.h"
#include "peers.h"
#include "pilemix/error.h"

int pm_mpi_agree(int status, MPI_Comm comm)
{
    /* Reduce severities, not codes: the codes' numeric order means nothing.
     * The signal's number rides along, so a rank that was not signalled
     * exits as the signalled ones do. */
    int mine[2] = {pm_error_severity(status), pm_interrupt_signal()}, worst[2] = {0, 0};
    MPI_Request req;
    MPI_Iallreduce(mine, worst, 2, MPI_INT, MPI_MAX, comm, &req);
    pm_mpi_wait(&req);
    pm_interrupt_agreed(worst[1]);
    return pm_error_of_severity(worst[0]);
}
