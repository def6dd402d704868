/* Placed first on the core library's include path: the core library must stay
 * a plain C library that unit tests drive without MPI. Only src/mpi/ may
 * include the real <mpi.h>. */
#error "pilemix core library must not include mpi.h (only src/mpi/ may)"
