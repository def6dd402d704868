#include "interrupt.h"

#include "pilemix/stop.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static int agreed_signal;
static int said;

/* The core reads the same flag at every record (stop.h). */
static void on_signal(int sig)
{
    if (!pm_stop_requested)
        pm_stop_requested = sig;
}

void pm_interrupt_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int pm_interrupt_signal(void) { return pm_stop_requested; }

static const char *sig_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
}

int pm_interrupt_check(int rank, pm_error_t *err)
{
    int sig = pm_stop_requested;
    if (!sig)
        return 0;
    if (rank == 0 && !said) {
        said = 1;
        fprintf(stderr,
                "pilemix: %s: stopping at the next record boundary (the work in progress is "
                "discarded, what was committed is kept)\n",
                sig_name(sig));
        fflush(stderr);
    }
    return pm_error_set(err, PM_EINTR, NULL, 0, "interrupted by %s", sig_name(sig));
}

void pm_interrupt_agreed(int sig)
{
    if (sig > 0)
        agreed_signal = sig;
}

int pm_interrupt_job_signal(void)
{
    if (agreed_signal)
        return agreed_signal;
    return pm_stop_requested ? pm_stop_requested : SIGTERM;
}
