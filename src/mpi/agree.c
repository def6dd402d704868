#include "agree.h"

#include "dispatch.h"
#include "pilemix/error.h"

int pm_mpi_agree(int status, MPI_Comm comm)
{
    /* Reduce severities, not codes: the codes' numeric order means nothing. */
    int mine = pm_error_severity(status), worst = 0;
    MPI_Request req;
    MPI_Iallreduce(&mine, &worst, 1, MPI_INT, MPI_MAX, comm, &req);
    pm_mpi_quiet_wait(&req);
    return pm_error_of_severity(worst);
}
