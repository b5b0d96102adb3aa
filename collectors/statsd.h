/* collectors/statsd.h — the StatsD collector: a UDP listener for StatsD and
 * DogStatsD lines, aggregated per interval (as Telegraf's statsd input).
 *
 * Input, one metric per line, several lines per datagram ('\n'-separated, a
 * trailing '\r' tolerated):
 *
 *   name:value|type[|@sample_rate][|#tag:value,tag2:value2]
 *
 *   c        counter: value / sample_rate is added to the interval's sum
 *   g        gauge: a value with a leading '+' or '-' is a delta to the last
 *            value (0 when none), otherwise it sets the value
 *   ms h d   timer, histogram, distribution: each sample counts
 *            1 / sample_rate times in count and sum; percentiles come from
 *            the samples themselves (a uniform reservoir of at most
 *            percentile_limit per key and interval)
 *   s        set: the value is a member (any text); the interval reports how
 *            many distinct members were seen
 *   |#...    DogStatsD tags; a tag without ':' gets the value "true". The
 *            DogStatsD sections |c:container and |T timestamp are accepted
 *            and ignored.
 *
 * A line that does not parse (no ':', no '|', unknown type, a value that is
 * not a finite number, a sample rate outside (0, 1], control characters,
 * more than PW_STATSD_MAX_TAGS tags, name plus tags longer than
 * PW_STATSD_MAX_KEY bytes) is counted as malformed and skipped.
 *
 * Output, per interval and per key (name + type + tags, tags compared in
 * sorted order), with the tag metric_type and the DogStatsD tags:
 *
 *   counter                        value=SUM (float); reset every interval
 *   gauge                          value=LAST (float); kept and re-sent every
 *                                  interval unless delete_gauges
 *   timing|histogram|distribution  count, sum, mean, stddev (population),
 *                                  lower, upper, and one field per percentile:
 *                                  p50, p90, p99, p99_9 for 99.9 (floats);
 *                                  percentile P is the nearest-rank value:
 *                                  the ceil(P/100 * n)-th smallest sample
 *   set                            value=DISTINCT (integer)
 *
 * metric_type is counter, gauge, timing, histogram, distribution or set, as
 * in Telegraf. With a template that names a field F, the fields become F (for
 * value) or F_count, F_mean, ... (for timings); every key is its own line, so
 * two names that map to one measurement and tags with different fields are
 * two lines with the same timestamp (InfluxDB merges them into one point).
 *
 * Names and templates (a subset of Telegraf's graphite templates): each item
 * of `templates` is "FILTER TEMPLATE" or "TEMPLATE" alone (matches every
 * name). FILTER and TEMPLATE are dotted; a filter part is an fnmatch pattern
 * for the name part at its position, and a filter matches a name that has at
 * least as many parts (so "airflow.*" matches "airflow.ti.finish.d.t.ok").
 * The longest matching filter wins; among equals the first listed; a
 * template without a filter is the last resort. Template parts:
 *   measurement    this name part is a piece of the measurement
 *   measurement*   this part and all the rest are
 *   field, field*  the same for the field name
 *   anything else  a tag of that name (repeated names are joined)
 *   an empty part  skips the name part
 * Pieces are joined with metric_separator ("_"). Name parts past the
 * template's end are dropped. A name matched by no template (or with no
 * measurement part) is the measurement as it is, dots kept.
 *
 * The internal point `pipewatch_statsd` (tag listen=ADDR:PORT) carries
 * cumulative counters since start: packets, lines, malformed, truncated
 * (datagrams longer than max_packet_size), overflow (metrics dropped because
 * max_keys distinct keys were reached in the interval) and, where the kernel
 * reports it (SO_RXQ_OVFL), kernel_drops; plus keys, the distinct keys of
 * the interval just written.
 *
 * With tcp_listen set, lines are also accepted over TCP (newline-terminated;
 * a line may straddle reads; at most 64 connections, more are accepted and
 * closed, counted in tcp_refused; tcp_connections counts those accepted).
 * Over TCP, "packets" counts reads that held at least one whole line.
 *
 * Threads: start() binds the sockets and starts one receiver thread that
 * reads datagrams in batches (recvmmsg) and TCP connections (poll), and
 * aggregates them into the current table; collect() swaps the table under a
 * mutex and writes the old one outside it, so the receiver never waits for
 * the writer. The receiver blocks every signal (they are the main loop's).
 *
 * Limits: stop() (agent shutdown or reload) drops what arrived since the
 * last collect(); a reload starts a fresh collector, so kept gauges are
 * forgotten. SO_REUSEPORT lets the reload bind the port the old collector
 * still holds, but it also lets another process of the same user bind it
 * and silently take a share of the datagrams.
 */
#ifndef PW_COLLECTOR_STATSD_H
#define PW_COLLECTOR_STATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collectors/collector.h"
#include "common/err.h"
#include "common/lineproto.h"

extern const struct pw_collector_ops pw_statsd_collector;

#define PW_STATSD_MAX_TAGS 64
#define PW_STATSD_MAX_KEY 4096
#define PW_STATSD_MAX_PERCENTILES 16

enum pw_statsd_type {
    PW_STATSD_COUNTER,
    PW_STATSD_GAUGE,
    PW_STATSD_TIMING,
    PW_STATSD_HISTOGRAM,
    PW_STATSD_DISTRIBUTION,
    PW_STATSD_SET,
};

/* "counter", "gauge", "timing", "histogram", "distribution", "set". */
const char *pw_statsd_type_name(enum pw_statsd_type t);

/* One parsed line. Slices point into the caller's line. */
struct pw_statsd_line {
    struct pw_str name;
    enum pw_statsd_type type;
    double value;          /* as sent (not scaled by the sample rate); for a
                              gauge delta, signed; 0 for a set */
    struct pw_str member;  /* sets: the member text */
    double sample_rate;    /* 1 when absent */
    bool delta;            /* gauge with a leading '+' or '-' */
    struct pw_str tags;    /* the text after "|#", empty when none */
};

/* Parses one line (without its '\n'; a trailing '\r' is allowed). Returns 0,
 * or -1 with a reason in err (err may be NULL). */
int pw_statsd_parse_line(const char *line, size_t len, struct pw_statsd_line *out,
                         struct pw_err *err);

/* ---- aggregation ------------------------------------------------------- */

struct pw_statsd_agg_config {
    const double *percentiles;     /* in (0, 100]; copied */
    size_t npercentiles;           /* at most PW_STATSD_MAX_PERCENTILES */
    size_t percentile_limit;       /* samples kept per key and interval */
    size_t max_keys;               /* distinct keys per interval */
    bool delete_gauges;
    const char *separator;         /* copied; NULL means "_" */
    const char *const *templates;  /* copied; see the top of this file */
    size_t ntemplates;
};

struct pw_statsd_counts {
    uint64_t packets, lines, malformed, overflow;
    uint64_t keys;      /* distinct keys in the last interval written */
};

/* The aggregation: a table being filled, a spare one, and the gauges kept
 * across intervals. Feeding and writing may run on two threads at once if
 * the caller serialises feed() against swap() (a mutex around both); flush()
 * touches only the spare table and the gauges. */
struct pw_statsd_agg;

/* Returns NULL with err set (a template that does not parse, a percentile
 * out of range). */
struct pw_statsd_agg *pw_statsd_agg_new(const struct pw_statsd_agg_config *cf,
                                        struct pw_err *err);
void pw_statsd_agg_free(struct pw_statsd_agg *a);

/* Aggregates every line of one datagram (counts one packet). Never fails:
 * bad lines are counted. */
void pw_statsd_agg_feed(struct pw_statsd_agg *a, const char *buf, size_t len);

/* Makes the current table the spare one and starts an empty one. O(1). */
void pw_statsd_agg_swap(struct pw_statsd_agg *a);

/* Writes the spare table's points (and the gauges) stamped ts_ns, then empties
 * it. Returns the number of points written. */
size_t pw_statsd_agg_flush(struct pw_statsd_agg *a, int64_t ts_ns,
                           struct pw_lp_writer *out);

/* swap + flush, for single-threaded use (tests, benchmarks). */
size_t pw_statsd_agg_write(struct pw_statsd_agg *a, int64_t ts_ns,
                           struct pw_lp_writer *out);

/* Counts of every table flushed so far (cumulative since new). */
void pw_statsd_agg_counts(const struct pw_statsd_agg *a, struct pw_statsd_counts *out);

/* For tests and benchmarks of the collector: the UDP (TCP) port it listens
 * on (useful with port 0), or 0 before start (or without tcp_listen). */
unsigned pw_statsd_port(const struct pw_collector *c);
unsigned pw_statsd_tcp_port(const struct pw_collector *c);

#endif
