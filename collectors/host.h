/* collectors/host.h — the host collector (libstatgrab). */
#ifndef PW_COLLECTOR_HOST_H
#define PW_COLLECTOR_HOST_H

#include "collectors/collector.h"

extern const struct pw_collector_ops pw_host_collector;

#endif
