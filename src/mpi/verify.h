/* `pilemix verify OUTDIR` (collective under MPI) and `pilemix stats OUTDIR`
 * (local). Both return 0 or a negative PM_E* code. */
#ifndef PILEMIX_MPI_VERIFY_H
#define PILEMIX_MPI_VERIFY_H

int pm_verify_main(int argc, char **argv);
int pm_stats_main(int argc, char **argv);

#endif
