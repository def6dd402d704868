/* `pilemix reproduce OUTDIR --into DIR` (DESIGN 1.1): rerun the job that
 * made OUTDIR from its manifest and compare every output file.
 *
 * Collective. Rank 0 reads OUTDIR/manifest.json: its canonical config (paths
 * as written, so ${VAR} remaps them; relative paths start from the current
 * directory) with output.dir replaced by DIR, and its input files with size
 * and XXH3-64. First the inputs are checked, in parallel (the census, which
 * computes each file's XXH3-64 and is cached in DIR's work directory, so a
 * run with shares does not read them again): an input whose size or hash
 * changed, one missing or one new is named, and nothing is run. Then the
 * job runs into DIR (as `pilemix run` would, on every rank), and every
 * output file's XXH3-128 of its uncompressed bytes is compared with
 * OUTDIR's (the compressed bytes may differ with another zstd version).
 * Returns 0 when all match, PM_EDATA when an input or an output differs
 * (each named on stderr), or the run's own error. A manifest written by
 * another pilemix version gets a warning, not a refusal: the bytes may
 * still match, and the comparison says whether they do. */
#ifndef PILEMIX_MPI_REPRODUCE_H
#define PILEMIX_MPI_REPRODUCE_H

int pm_reproduce_main(int argc, char **argv);

#endif
