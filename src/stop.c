#include "pilemix/stop.h"

volatile sig_atomic_t pm_stop_requested = 0;
