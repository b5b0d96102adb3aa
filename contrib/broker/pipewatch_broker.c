/* contrib/broker/pipewatch_broker.c — a throwaway Kafka cluster for
 * development and tests.
 *
 * Why this exists: the agent and its integration tests need a Kafka broker,
 * and a real one (a JVM plus KRaft or ZooKeeper) is slow to start and heavy
 * for a laptop or CI. librdkafka ships a mock cluster that speaks enough of
 * the protocol for producers, consumers and consumer groups; this program
 * wraps it so that a shell script can start it, read one bootstrap line and
 * stop it with a signal.
 *
 * Why it is built this way:
 * - rdkafka_mock.h is experimental and outside librdkafka's stability
 *   promises, and Debian ships 2.0.2, so only calls that 2.0.2 has are used.
 * - Everything is in memory and lost on exit; the listeners are on loopback.
 *   It is for development and tests, never production.
 * - Signals are taken synchronously: they are blocked before librdkafka
 *   starts its threads and the main thread collects them with sigwaitinfo(),
 *   so the librdkafka calls for fault injection (SIGUSR1 down, SIGUSR2 up)
 *   run in ordinary code, never in a signal handler, and in arrival order.
 * - Finer faults (request errors, leader and coordinator moves, one broker
 *   down or slow) come from a control file that a test writes and then
 *   announces with SIGHUP: the file is read and applied in the same main
 *   thread, a line at a time and in order, and each applied line is logged
 *   ("applied: ...") so that the test can wait for it. A bad line is
 *   reported with file:line and skipped; the broker keeps serving.
 * - The bootstrap file is written to FILE.tmp and renamed, so a test polling
 *   for it never reads half a line. It is removed on exit, because a file
 *   naming ports that nobody listens on any more only misleads. */
#include "common/err.h"
#include "common/log.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRAM "pipewatch-broker"
#define DEFAULT_TOPICS \
    "pipewatch.metrics,pipewatch.logs,pipewatch.predictions,pipewatch.state"
#define MAX_BROKERS 16
#define MAX_PARTITIONS 1024
#define MAX_TOPICS 64
#define MAX_TOPIC_NAME 249 /* Kafka's own limit */
#define MAX_CONTROL_WORDS 64
#define MAX_CONTROL_LINE 4096

enum { EXIT_USAGE = 2 };

struct options {
    int brokers;
    int partitions;
    char *topics_buf;                /* owned copy of --topics, split in place */
    const char *topics[MAX_TOPICS];  /* point into topics_buf */
    int topic_cnt;
    const char *bootstrap_file;      /* NULL: stdout only */
    const char *control_file;        /* NULL: SIGHUP is only logged */
};

struct broker {
    rd_kafka_t *rk;                  /* only hosts the mock cluster */
    rd_kafka_mock_cluster_t *mcluster;
    int broker_cnt;
    int partitions;                  /* of every topic created at start */
    bool down[MAX_BROKERS + 1];      /* by broker id (1-based) */
};

static void usage(FILE *out)
{
    fprintf(out,
"Usage: " PROGRAM " [OPTIONS]\n"
"\n"
"A development Kafka cluster built on librdkafka's mock cluster. It keeps\n"
"all data in memory and loses it on exit, listens on loopback (127.0.0.1)\n"
"only, on ephemeral ports, and is for development and tests, never\n"
"production.\n"
"\n"
"It prints the bootstrap list (host:port,...) as one line on stdout, then\n"
"runs until SIGINT or SIGTERM and exits 0.\n"
"\n"
"Options:\n"
"  --brokers N            brokers in the cluster, 1-%d (default 1)\n"
"  --partitions P         partitions per topic, 1-%d (default 6)\n"
"  --topics a,b,...       topics to create (default\n"
"                         " DEFAULT_TOPICS ")\n"
"                         Other topics are created on first use by a client\n"
"                         (with the librdkafka mock's default partition count).\n"
"  --bootstrap-file FILE  also write the bootstrap line to FILE, atomically\n"
"                         (FILE.tmp then rename); FILE is removed on exit\n"
"  --control FILE         on SIGHUP, read FILE and apply its commands (below)\n"
"  --help                 show this help and exit\n"
"  --version              show the version and exit\n"
"\n"
"Fault injection (for tests):\n"
"  SIGUSR1  set every broker down: open connections are closed and new\n"
"           ones are not served, as in an outage. Data is kept.\n"
"  SIGUSR2  set every broker up again, on the same ports.\n"
"  SIGHUP   with --control FILE: apply FILE's commands, one a line, in\n"
"           order; each applied line is logged as 'applied: LINE' and a bad\n"
"           line is reported as FILE:LINE and skipped. Blank lines and lines\n"
"           starting with # are ignored. Brokers are numbered from 1.\n"
"    errors API ERR [ERR...]  the next requests of API (to any broker) fail\n"
"                             with ERR, one error per request, in order\n"
"    clear API                drop API's errors not yet used\n"
"    leader TOPIC P|* ID      partition P (or all --partitions of them)\n"
"                             gets broker ID as its leader\n"
"    coordinator group|transaction KEY ID\n"
"                             the coordinator of KEY becomes broker ID\n"
"    down ID | up ID          one broker down (connections closed) or up\n"
"    rtt ID MS                broker ID answers MS milliseconds late\n"
"    API: Produce Fetch ListOffsets Metadata OffsetCommit OffsetFetch\n"
"    FindCoordinator JoinGroup Heartbeat LeaveGroup SyncGroup\n"
"    InitProducerId; ERR: a librdkafka error name without its prefix\n"
"    (NOT_LEADER_FOR_PARTITION, REQUEST_TIMED_OUT, NOT_COORDINATOR, ...)\n"
"    or its number.\n"
"\n"
"Exit status: 0 after SIGINT/SIGTERM or --help/--version, 1 if the cluster\n"
"cannot be started, 2 on a bad option.\n",
            MAX_BROKERS, MAX_PARTITIONS);
}

static int parse_int(const char *text, int min, int max, int *out,
                     struct pw_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return pw_err_set(err, "'%s' is not a whole number from %d to %d",
                          text, min, max);
    *out = (int)v;
    return 0;
}

static int topic_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > MAX_TOPIC_NAME || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* Splits a comma-separated list into opt->topics (pointing into a copy that
 * opt owns) and checks each name. */
static int parse_topics(const char *text, struct options *opt,
                        struct pw_err *err)
{
    free(opt->topics_buf);
    opt->topic_cnt = 0;
    opt->topics_buf = strdup(text);
    if (!opt->topics_buf)
        return pw_err_set(err, "out of memory");
    char *p = opt->topics_buf;
    for (;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!topic_name_ok(p))
            return pw_err_set(err, "bad topic name '%s' in '%s': use 1-%d "
                              "characters from [A-Za-z0-9._-]",
                              p, text, MAX_TOPIC_NAME);
        for (int i = 0; i < opt->topic_cnt; i++)
            if (strcmp(opt->topics[i], p) == 0)
                return pw_err_set(err, "topic '%s' is listed twice", p);
        if (opt->topic_cnt == MAX_TOPICS)
            return pw_err_set(err, "more than %d topics", MAX_TOPICS);
        opt->topics[opt->topic_cnt++] = p;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* Returns 0 to run, 1 when --help or --version was handled (exit 0), or -1
 * with err set on a bad command line. */
static int parse_options(int argc, char **argv, struct options *opt,
                         struct pw_err *err)
{
    enum { OPT_BROKERS = 256, OPT_PARTITIONS, OPT_TOPICS, OPT_FILE,
           OPT_CONTROL, OPT_VERSION };
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, OPT_BROKERS},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"topics", required_argument, NULL, OPT_TOPICS},
        {"bootstrap-file", required_argument, NULL, OPT_FILE},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    opt->brokers = 1;
    opt->partitions = 6;
    opt->bootstrap_file = NULL;
    if (parse_topics(DEFAULT_TOPICS, opt, err) < 0)
        return -1;

    opterr = 0; /* we word the errors ourselves */
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_BROKERS:
            if (parse_int(optarg, 1, MAX_BROKERS, &opt->brokers, err) < 0)
                return pw_err_prefix(err, "--brokers");
            break;
        case OPT_PARTITIONS:
            if (parse_int(optarg, 1, MAX_PARTITIONS, &opt->partitions,
                          err) < 0)
                return pw_err_prefix(err, "--partitions");
            break;
        case OPT_TOPICS:
            if (parse_topics(optarg, opt, err) < 0)
                return pw_err_prefix(err, "--topics");
            break;
        case OPT_FILE:
            if (optarg[0] == '\0')
                return pw_err_set(err, "--bootstrap-file: empty file name");
            opt->bootstrap_file = optarg;
            break;
        case OPT_CONTROL:
            if (optarg[0] == '\0')
                return pw_err_set(err, "--control: empty file name");
            opt->control_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case OPT_VERSION:
            printf(PROGRAM " %s\n", PW_VERSION);
            return 1;
        case ':':
            return pw_err_set(err, "option '%s' needs a value",
                              argv[optind - 1]);
        default:
            return pw_err_set(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return pw_err_set(err, "unexpected argument '%s'", argv[optind]);
    return 0;
}

/* librdkafka's log lines (from its own threads) go to our log format. */
static void rdkafka_log(const rd_kafka_t *rk, int level, const char *fac,
                        const char *buf)
{
    (void)rk;
    /* The host handle has no bootstrap.servers on purpose; its CONFWARN
     * about that is noise to whoever runs the broker. */
    if (strcmp(fac, "CONFWARN") == 0) {
        pw_log(PW_DEBUG, "librdkafka %s: %s", fac, buf);
        return;
    }
    enum pw_log_level l = level <= 3 ? PW_ERROR
                        : level == 4 ? PW_WARN
                        : level <= 6 ? PW_INFO : PW_DEBUG;
    pw_log(l, "librdkafka %s: %s", fac, buf);
}

static int broker_start(const struct options *opt, struct broker *b,
                        struct pw_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, rdkafka_log);
    if (rd_kafka_conf_set(conf, "client.id", PROGRAM, errstr,
                          sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return pw_err_set(err, "librdkafka configuration: %s", errstr);
    }
    /* rd_kafka_new takes ownership of conf only when it succeeds. */
    b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!b->rk) {
        rd_kafka_conf_destroy(conf);
        return pw_err_set(err, "cannot create the librdkafka handle that "
                          "hosts the mock cluster: %s", errstr);
    }
    b->broker_cnt = opt->brokers;
    b->partitions = opt->partitions;
    b->mcluster = rd_kafka_mock_cluster_new(b->rk, opt->brokers);
    if (!b->mcluster)
        return pw_err_set(err, "cannot create a mock cluster of %d brokers "
                          "(see librdkafka's messages above)", opt->brokers);
    /* Kafka wants replication factor <= brokers; 3 is the usual maximum. */
    int replicas = opt->brokers < 3 ? opt->brokers : 3;
    for (int i = 0; i < opt->topic_cnt; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
            b->mcluster, opt->topics[i], opt->partitions, replicas);
        if (e)
            return pw_err_set(err, "cannot create topic '%s' with %d "
                              "partitions and %d replicas: %s",
                              opt->topics[i], opt->partitions, replicas,
                              rd_kafka_err2str(e));
    }
    return 0;
}

/* Safe on a partly started broker. */
static void broker_stop(struct broker *b)
{
    if (b->mcluster)
        rd_kafka_mock_cluster_destroy(b->mcluster);
    if (b->rk)
        rd_kafka_destroy(b->rk);
    b->mcluster = NULL;
    b->rk = NULL;
}

/* Sets every broker down (down=1) or up (down=0) and logs the transition. */
static void broker_set_all(struct broker *b, bool down)
{
    int already = 0;
    for (int id = 1; id <= b->broker_cnt; id++)
        already += b->down[id] == down;
    if (already == b->broker_cnt) {
        pw_log(PW_INFO, "brokers are already %s; nothing to do",
               down ? "down" : "up");
        return;
    }
    int failed = 0;
    for (int32_t id = 1; id <= b->broker_cnt; id++) {
        rd_kafka_resp_err_t e =
            down ? rd_kafka_mock_broker_set_down(b->mcluster, id)
                 : rd_kafka_mock_broker_set_up(b->mcluster, id);
        if (e) {
            pw_log(PW_ERROR, "cannot set broker %d %s: %s", (int)id,
                   down ? "down" : "up", rd_kafka_err2str(e));
            failed = 1;
        } else {
            b->down[id] = down;
        }
    }
    if (down)
        pw_log(PW_WARN, "all %d broker(s) DOWN (SIGUSR1): connections are "
               "closed and refused until SIGUSR2%s", b->broker_cnt,
               failed ? " (with errors above)" : "");
    else
        pw_log(PW_INFO, "all %d broker(s) UP (SIGUSR2): serving again on "
               "the same ports%s", b->broker_cnt,
               failed ? " (with errors above)" : "");
}

/* ---- the control file (SIGHUP) ----------------------------------------- */

/* The request types a test may fail, by the names Kafka's protocol gives
 * them (the numbers are the protocol's ApiKeys, fixed forever). */
static const struct {
    const char *name;
    int16_t key;
} api_keys[] = {
    {"Produce", 0},          {"Fetch", 1},         {"ListOffsets", 2},
    {"Metadata", 3},         {"OffsetCommit", 8},  {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},    {"Heartbeat", 12},
    {"LeaveGroup", 13},      {"SyncGroup", 14},    {"InitProducerId", 22},
};

static int parse_api(const char *text, int16_t *key, struct pw_err *err)
{
    for (size_t i = 0; i < sizeof api_keys / sizeof api_keys[0]; i++)
        if (strcmp(api_keys[i].name, text) == 0) {
            *key = api_keys[i].key;
            return 0;
        }
    return pw_err_set(err, "unknown API '%s' (Produce, Fetch, ListOffsets, "
                      "Metadata, OffsetCommit, OffsetFetch, FindCoordinator, "
                      "JoinGroup, Heartbeat, LeaveGroup, SyncGroup, "
                      "InitProducerId)", text);
}

/* An error by librdkafka's name (rd_kafka_err2name: the enum sans prefix)
 * or by number. */
static int parse_error(const char *text, rd_kafka_resp_err_t *out,
                       struct pw_err *err)
{
    const struct rd_kafka_err_desc *descs;
    size_t cnt;
    rd_kafka_get_err_descs(&descs, &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (descs[i].name && strcmp(descs[i].name, text) == 0) {
            *out = descs[i].code;
            return 0;
        }
    int n;
    struct pw_err ignored;
    if (parse_int(text, -200, 1000, &n, &ignored) == 0) {
        for (size_t i = 0; i < cnt; i++)
            if (descs[i].name && descs[i].code == n) {
                *out = descs[i].code;
                return 0;
            }
    }
    return pw_err_set(err, "unknown error '%s' (use librdkafka's name, e.g. "
                      "NOT_LEADER_FOR_PARTITION, or its number)", text);
}

static int parse_broker_id(const struct broker *b, const char *text,
                           int32_t *id, struct pw_err *err)
{
    int n;
    if (parse_int(text, 1, b->broker_cnt, &n, err) < 0)
        return pw_err_prefix(err, "broker id");
    *id = n;
    return 0;
}

static int mock_result(rd_kafka_resp_err_t e, struct pw_err *err)
{
    if (e)
        return pw_err_set(err, "the mock cluster refused it: %s",
                          rd_kafka_err2str(e));
    return 0;
}

/* argc must be from min to max (max 0: no upper bound). */
static int want_words(int argc, int min, int max, const char *shape,
                      struct pw_err *err)
{
    if (argc < min || (max > 0 && argc > max))
        return pw_err_set(err, "expected '%s'", shape);
    return 0;
}

static int cmd_errors(struct broker *b, int argc, char **argv,
                      struct pw_err *err)
{
    rd_kafka_resp_err_t errs[MAX_CONTROL_WORDS];
    int16_t key = 0;
    if (want_words(argc, 3, 0, "errors API ERR [ERR...]", err) < 0 ||
        parse_api(argv[1], &key, err) < 0)
        return -1;
    for (int i = 2; i < argc; i++)
        if (parse_error(argv[i], &errs[i - 2], err) < 0)
            return -1;
    rd_kafka_mock_push_request_errors_array(b->mcluster, key,
                                            (size_t)(argc - 2), errs);
    return 0;
}

static int cmd_clear(struct broker *b, int argc, char **argv,
                     struct pw_err *err)
{
    int16_t key = 0;
    if (want_words(argc, 2, 2, "clear API", err) < 0 ||
        parse_api(argv[1], &key, err) < 0)
        return -1;
    rd_kafka_mock_clear_request_errors(b->mcluster, key);
    return 0;
}

static int cmd_leader(struct broker *b, int argc, char **argv,
                      struct pw_err *err)
{
    int32_t id = 0;
    int first = 0, last = 0;
    if (want_words(argc, 4, 4, "leader TOPIC PARTITION|* BROKER", err) < 0 ||
        parse_broker_id(b, argv[3], &id, err) < 0)
        return -1;
    if (strcmp(argv[2], "*") == 0) {
        first = 0;
        last = b->partitions - 1;
    } else if (parse_int(argv[2], 0, MAX_PARTITIONS - 1, &first, err) < 0) {
        return pw_err_prefix(err, "partition");
    } else {
        last = first;
    }
    for (int p = first; p <= last; p++)
        if (mock_result(rd_kafka_mock_partition_set_leader(
                            b->mcluster, argv[1], p, id), err) < 0)
            return pw_err_prefix(err, "partition %d", p);
    return 0;
}

static int cmd_coordinator(struct broker *b, int argc, char **argv,
                           struct pw_err *err)
{
    int32_t id = 0;
    if (want_words(argc, 4, 4, "coordinator group|transaction KEY BROKER",
                   err) < 0 ||
        parse_broker_id(b, argv[3], &id, err) < 0)
        return -1;
    if (strcmp(argv[1], "group") != 0 && strcmp(argv[1], "transaction") != 0)
        return pw_err_set(err, "coordinator type '%s' is neither 'group' "
                          "nor 'transaction'", argv[1]);
    return mock_result(rd_kafka_mock_coordinator_set(b->mcluster, argv[1],
                                                      argv[2], id), err);
}

static int cmd_down_up(struct broker *b, int argc, char **argv,
                       struct pw_err *err)
{
    bool down = strcmp(argv[0], "down") == 0;
    int32_t id = 0;
    if (want_words(argc, 2, 2, down ? "down BROKER" : "up BROKER", err) < 0 ||
        parse_broker_id(b, argv[1], &id, err) < 0)
        return -1;
    if (mock_result(down ? rd_kafka_mock_broker_set_down(b->mcluster, id)
                         : rd_kafka_mock_broker_set_up(b->mcluster, id),
                    err) < 0)
        return -1;
    b->down[id] = down;
    return 0;
}

static int cmd_rtt(struct broker *b, int argc, char **argv, struct pw_err *err)
{
    int32_t id = 0;
    int ms = 0;
    if (want_words(argc, 3, 3, "rtt BROKER MS", err) < 0 ||
        parse_broker_id(b, argv[1], &id, err) < 0)
        return -1;
    if (parse_int(argv[2], 0, 600000, &ms, err) < 0)
        return pw_err_prefix(err, "rtt");
    return mock_result(rd_kafka_mock_broker_set_rtt(b->mcluster, id, ms), err);
}

static const struct {
    const char *name;
    int (*run)(struct broker *b, int argc, char **argv, struct pw_err *err);
} commands[] = {
    {"errors", cmd_errors}, {"clear", cmd_clear}, {"leader", cmd_leader},
    {"coordinator", cmd_coordinator}, {"down", cmd_down_up},
    {"up", cmd_down_up},    {"rtt", cmd_rtt},
};

/* Splits line (in place) at blanks into argv; returns the word count, or -1
 * when there are more than MAX_CONTROL_WORDS. */
static int split_words(char *line, char **argv)
{
    int argc = 0;
    for (char *p = line;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return argc;
        if (argc == MAX_CONTROL_WORDS)
            return -1;
        argv[argc++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int run_control_line(struct broker *b, char *line, struct pw_err *err)
{
    char *argv[MAX_CONTROL_WORDS];
    int argc = split_words(line, argv);
    if (argc < 0)
        return pw_err_set(err, "more than %d words", MAX_CONTROL_WORDS);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, argv[0]) == 0)
            return commands[i].run(b, argc, argv, err);
    return pw_err_set(err, "unknown command '%s' (errors, clear, leader, "
                      "coordinator, down, up, rtt)", argv[0]);
}

/* Applies every line of path in order; a bad line is logged with path:line
 * and skipped, the rest still apply. */
static void apply_control_file(struct broker *b, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        pw_log(PW_ERROR, "SIGHUP: cannot open the control file '%s': %s",
               path, strerror(errno));
        return;
    }
    char line[MAX_CONTROL_LINE], shown[MAX_CONTROL_LINE];
    int lineno = 0, applied = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        } else if (!feof(f)) {
            pw_log(PW_ERROR, "%s:%d: line longer than %d bytes; skipped",
                   path, lineno, MAX_CONTROL_LINE - 2);
            bad++;
            int c;
            while ((c = fgetc(f)) != EOF && c != '\n')
                ;
            continue;
        }
        char *text = line + strspn(line, " \t\r");
        if (*text == '\0' || *text == '#')
            continue;
        snprintf(shown, sizeof shown, "%s", text);
        shown[strcspn(shown, "\r")] = '\0';
        struct pw_err err = {{0}};
        if (run_control_line(b, text, &err) < 0) {
            pw_log(PW_ERROR, "%s:%d: '%s': %s; line skipped", path, lineno,
                   shown, err.msg);
            bad++;
            continue;
        }
        pw_log(PW_INFO, "applied: %s", shown);
        applied++;
    }
    if (ferror(f))
        pw_log(PW_ERROR, "cannot read the control file '%s'", path);
    fclose(f);
    pw_log(PW_INFO, "control file %s: %d line(s) applied, %d skipped", path,
           applied, bad);
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes line + "\n" to path via path.tmp and rename(2), so that a reader
 * sees either no file or the whole line. */
static int write_bootstrap_file(const char *path, const char *line,
                                struct pw_err *err)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return pw_err_set(err, "bootstrap file name '%s' is too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return pw_err_set(err, "cannot create '%s': %s", tmp,
                          strerror(errno));
    int rc = write_all(fd, line, strlen(line)) < 0 ||
             write_all(fd, "\n", 1) < 0;
    int saved = errno;
    if (close(fd) < 0 && !rc) {
        rc = 1;
        saved = errno;
    }
    if (rc) {
        unlink(tmp);
        return pw_err_set(err, "cannot write '%s': %s", tmp,
                          strerror(saved));
    }
    if (rename(tmp, path) < 0) {
        saved = errno;
        unlink(tmp);
        return pw_err_set(err, "cannot rename '%s' to '%s': %s", tmp, path,
                          strerror(saved));
    }
    return 0;
}

/* Takes the blocked signals one at a time until SIGINT or SIGTERM. */
static void run_until_stopped(struct broker *b, const sigset_t *sigs,
                              const char *control_file)
{
    for (;;) {
        siginfo_t si;
        int sig = sigwaitinfo(sigs, &si);
        if (sig < 0) {
            if (errno != EINTR)
                pw_log(PW_ERROR, "sigwaitinfo: %s", strerror(errno));
            continue;
        }
        switch (sig) {
        case SIGUSR1:
            broker_set_all(b, true);
            break;
        case SIGUSR2:
            broker_set_all(b, false);
            break;
        case SIGHUP:
            if (control_file)
                apply_control_file(b, control_file);
            else
                pw_log(PW_WARN, "SIGHUP without --control: nothing to do");
            break;
        default:
            pw_log(PW_INFO, "%s from pid %ld: shutting down",
                   strsignal(sig), (long)si.si_pid);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    pw_log_init(PROGRAM, PW_INFO);

    struct options opt = {0};
    struct pw_err err = {{0}};
    int rc = parse_options(argc, argv, &opt, &err);
    if (rc != 0) {
        free(opt.topics_buf);
        if (rc > 0)
            return fflush(stdout) == 0 ? 0 : 1;
        fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n",
                err.msg);
        return EXIT_USAGE;
    }

    /* Block before librdkafka creates threads, so they inherit the mask and
     * only sigwaitinfo() below ever receives these signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGUSR2);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    struct broker b = {0};
    int status = 1;
    if (broker_start(&opt, &b, &err) < 0) {
        pw_log(PW_ERROR, "%s", err.msg);
        goto out;
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(b.mcluster);
    if (opt.bootstrap_file &&
        write_bootstrap_file(opt.bootstrap_file, bootstraps, &err) < 0) {
        pw_log(PW_ERROR, "%s", err.msg);
        goto out;
    }
    printf("%s\n", bootstraps);
    if (fflush(stdout) != 0)
        pw_log(PW_WARN, "cannot write the bootstrap list to stdout: %s",
               strerror(errno));
    pw_log(PW_INFO, "%d broker(s) on %s; %d topic(s) x %d partition(s); "
           "in memory only, for development and tests",
           opt.brokers, bootstraps, opt.topic_cnt, opt.partitions);

    run_until_stopped(&b, &sigs, opt.control_file);
    status = 0;
out:
    if (opt.bootstrap_file && status == 0 &&
        unlink(opt.bootstrap_file) < 0 && errno != ENOENT)
        pw_log(PW_WARN, "cannot remove '%s': %s", opt.bootstrap_file,
               strerror(errno));
    broker_stop(&b);
    free(opt.topics_buf);
    return status;
}
