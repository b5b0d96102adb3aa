/* collectors/registry.c — the table of collectors. One line per collector. */
#include "collectors/collector.h"
#include "collectors/exec.h"
#include "collectors/host.h"
#include "collectors/kafka_lag.h"
#include "collectors/landing.h"
#include "collectors/logtail.h"
#include "collectors/prometheus.h"
#include "collectors/statsd.h"

#include <string.h>

const struct pw_collector_ops *const pw_collectors[] = {
    &pw_host_collector,
    &pw_kafka_lag_collector,
    &pw_landing_collector,
    &pw_logtail_collector,
    &pw_prometheus_collector,
    &pw_exec_collector,
    &pw_statsd_collector,
    NULL,
};

const struct pw_collector_ops *pw_collector_find(const char *name)
{
    for (size_t i = 0; pw_collectors[i]; i++)
        if (strcmp(pw_collectors[i]->name, name) == 0)
            return pw_collectors[i];
    return NULL;
}
