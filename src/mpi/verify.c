#include "verify.h"

#include "pilemix/error.h"

#include <stdio.h>

int pm_verify_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pilemix: verify: not implemented yet\n");
    return PM_EUSAGE;
}

int pm_stats_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "pilemix: stats: not implemented yet\n");
    return PM_EUSAGE;
}
