/* collectors/prometheus.h — the prometheus collector: scrapes /metrics
 * endpoints (Prometheus text 0.0.4 or OpenMetrics) and sends their samples
 * as line protocol.
 *
 * Configuration (collectors.prometheus):
 *
 *   prometheus:
 *     interval: 15s
 *     targets:
 *       - url: http://127.0.0.1:9100/metrics
 *         timeout: 5s
 *         labels: {job: node}
 *       - url: https://kafka-exporter:9308/metrics
 *         interval: 60s                    # scraped every 4th tick
 *         bearer_token_file: /etc/pipewatch/token
 *
 * Mapping, as Telegraf's inputs.prometheus with metric_version = 2:
 *  - every sample is one point of measurement "prometheus"; its tags are the
 *    sample's labels, the target's `labels` and `url` (the target's URL),
 *    sorted by key; its one field is the series name as written, with the
 *    sample's value as a float. A label named like a target label or `url`
 *    gives way to the target's (Prometheus's honor_labels: false, without
 *    the exported_ copy). An empty label value is no tag, as in Prometheus.
 *  - counters and gauges: field `http_requests_total=1027`.
 *  - histograms: one point per bucket, field `<name>_bucket` with an `le`
 *    tag ("+Inf" for the last), and points `<name>_sum`, `<name>_count`.
 *  - summaries: one point per quantile, field `<name>` with a `quantile`
 *    tag, and points `<name>_sum`, `<name>_count`.
 *  - OpenMetrics `_created` series are points like the others.
 *  - the point's timestamp is the sample's own when it has one, else the
 *    tick's.
 *  - NaN and ±Inf values cannot be carried by line protocol: such samples
 *    are dropped (the writer counts them in skipped_nonfinite).
 *  - per target and scrape, one point with the series Prometheus records
 *    for every scrape: `prometheus,url=...,<target labels> up=1,
 *    scrape_duration_seconds=0.012,scrape_samples_scraped=42,
 *    scrape_parse_errors=0` — up is 0 when the connection failed, the
 *    request timed out, the status was not 2xx or the body was larger than
 *    max_body_size; samples parsed before a timeout are not sent.
 *
 * Targets due in a tick are fetched concurrently (libcurl multi interface);
 * the tick lasts as long as the slowest of them, at most its timeout. A
 * failing target is reported (the collect call returns an error naming it,
 * which the agent logs rate-limited) and never stops the others. */
#ifndef PW_COLLECTOR_PROMETHEUS_H
#define PW_COLLECTOR_PROMETHEUS_H

#include "collectors/collector.h"

extern const struct pw_collector_ops pw_prometheus_collector;

#endif
