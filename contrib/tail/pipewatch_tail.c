/* contrib/tail/pipewatch_tail.c — pipewatch-tail: reads pipewatch.metrics
 * as a consumer group and prints what arrives.
 *
 * A development and debugging tool, and the consumer the demo and the
 * integration tests use to read the agent's messages back with our own code
 * (common/kafka for the consumer, common/lineproto for the parse) beside
 * kcat. Every point is parsed and written out again, so what it prints is
 * what a consumer understood, not the raw bytes. A malformed message is
 * counted and skipped, never fatal. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/kafka.h"
#include "common/lineproto.h"
#include "common/log.h"

static volatile sig_atomic_t stop_requested;
static void on_stop(int sig) { (void)sig; stop_requested = 1; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pipewatch-tail --brokers LIST [options]\n"
            "\n"
            "Consumes line-protocol messages and prints each point as\n"
            "KEY<TAB>PARTITION<TAB>OFFSET<TAB>LINE (or a summary per message).\n"
            "\n"
            "  -b, --brokers LIST     bootstrap servers (or --bootstrap-file FILE)\n"
            "      --bootstrap-file F read the bootstrap list from F\n"
            "  -t, --topic NAME       topic (default pipewatch.metrics)\n"
            "  -g, --group ID         consumer group (default pipewatch-tail)\n"
            "  -n, --count N          exit after N points\n"
            "  -i, --idle-exit MS     exit after MS without a message (20 s more before\n"
            "                         the first, for the group join; default: never)\n"
            "  -s, --summary          one line per message instead of per point\n"
            "  -X NAME=VALUE          any librdkafka property\n"
            "  -h, --help\n");
}

static char *read_first_line(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char line[4096];
    char *r = fgets(line, sizeof line, f) ? strdup(line) : NULL;
    fclose(f);
    if (r)
        r[strcspn(r, "\r\n")] = '\0';
    return r;
}

static int add_prop(struct pw_kv_list *l, const char *k, const char *v)
{
    struct pw_kv *items = realloc(l->items, (l->len + 1) * sizeof *items);
    if (!items)
        return -1;
    l->items = items;
    items[l->len].key = strdup(k);
    items[l->len].value = strdup(v);
    items[l->len].line = 0;
    l->len++;
    return 0;
}

static void free_props(struct pw_kv_list *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"bootstrap-file", required_argument, NULL, 'B'},
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {"count", required_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},
        {"summary", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    char *brokers = NULL;
    const char *topic = "pipewatch.metrics", *group = "pipewatch-tail";
    long long count = -1, idle_ms = -1;
    bool summary = false;
    struct pw_kv_list props = {0};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:g:n:i:sX:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b': free(brokers); brokers = strdup(optarg); break;
        case 'B':
            free(brokers);
            if (!(brokers = read_first_line(optarg))) {
                fprintf(stderr, "pipewatch-tail: cannot read %s\n", optarg);
                return 2;
            }
            break;
        case 't': topic = optarg; break;
        case 'g': group = optarg; break;
        case 'n': count = atoll(optarg); break;
        case 'i': idle_ms = atoll(optarg); break;
        case 's': summary = true; break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq) {
                fprintf(stderr, "pipewatch-tail: -X wants NAME=VALUE\n");
                return 2;
            }
            *eq = '\0';
            add_prop(&props, optarg, eq + 1);
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!brokers) {
        usage(stderr);
        return 2;
    }
    pw_log_init("pipewatch-tail", PW_WARN);
    add_prop(&props, "bootstrap.servers", brokers);
    free(brokers);

    struct pw_err err;
    rd_kafka_t *rk = pw_kafka_consumer_new(&props, group, &err);
    free_props(&props);
    if (!rk) {
        fprintf(stderr, "pipewatch-tail: %s\n", err.msg);
        return 2;
    }
    if (pw_kafka_subscribe(rk, &topic, 1, &err) < 0) {
        fprintf(stderr, "pipewatch-tail: %s\n", err.msg);
        rd_kafka_destroy(rk);
        return 1;
    }
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);

    struct pw_lp_batch *batch = pw_lp_batch_new();
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    long long points = 0, messages = 0, malformed = 0;
    int64_t last_msg = pw_mono_ms();
    while (!stop_requested && (count < 0 || points < count)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            /* Joining a group takes seconds; the idle clock starts for real
             * with the first message. */
            int64_t limit = messages ? idle_ms : idle_ms + 20000;
            if (idle_ms >= 0 && pw_mono_ms() - last_msg > limit)
                break;
            continue;
        }
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "pipewatch-tail: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        last_msg = pw_mono_ms();
        messages++;
        pw_lp_batch_reset(batch);
        int n = pw_lp_parse(m->payload, m->len, 0, batch, &err);
        if (n < 0) {
            malformed++;
            fprintf(stderr, "pipewatch-tail: skipping malformed message at %s[%d]@%lld: %s\n",
                    rd_kafka_topic_name(m->rkt), (int)m->partition,
                    (long long)m->offset, err.msg);
        } else if (summary) {
            printf("%.*s\t%d\t%lld\t%d points, %zu bytes\n", (int)m->key_len,
                   (const char *)m->key, (int)m->partition, (long long)m->offset,
                   n, m->len);
            points += n;
        } else {
            for (size_t i = 0; i < pw_lp_batch_len(batch); i++) {
                pw_lp_writer_reset(&w);
                pw_lp_write_point(&w, pw_lp_batch_get(batch, i));
                printf("%.*s\t%d\t%lld\t%s", (int)m->key_len, (const char *)m->key,
                       (int)m->partition, (long long)m->offset, w.buf.data);
                points++;
            }
        }
        fflush(stdout);
        /* Printed: only now is the message done with (at least once). */
        rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
    }
    fprintf(stderr, "pipewatch-tail: %lld messages, %lld points, %lld malformed\n",
            messages, points, malformed);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    pw_lp_batch_free(batch);
    pw_lp_writer_release(&w);
    return 0;
}
