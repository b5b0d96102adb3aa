/* common/kafka.c — librdkafka handles built from configuration maps.
 *
 * The shape follows librdkafka's own examples (producer.c, consumer.c); what
 * we add is error messages that point at the configuration file. */
#include "common/kafka.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/buf.h"
#include "common/log.h"

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                    const struct pw_kv_list *from, int line, struct pw_err *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) ==
        RD_KAFKA_CONF_OK)
        return 0;
    if (from && from->file)
        return pw_err_set(err, "%s:%d: kafka.%s: %s", from->file, line, name,
                          errstr);
    return pw_err_set(err, "kafka.%s: %s", name, errstr);
}

/* librdkafka's log lines, through ours (called from its threads; pw_log
 * writes each line with one fwrite). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *buf)
{
    enum pw_log_level lv = level <= 3 ? PW_ERROR : level <= 5 ? PW_WARN
                         : level == 6 ? PW_INFO : PW_DEBUG;
    pw_log(lv, "kafka %s: %s: %s", rk ? rd_kafka_name(rk) : "", fac, buf);
}

#define SECRET_FILE_SUFFIX "_file"
#define SECRET_FILE_MAX 4096

/* "sasl.password_file": the name of the property it stands for
 * ("sasl.password"), or 0 when kv is an ordinary property. */
static size_t secret_file_prop(const struct pw_kv *kv)
{
    size_t n = strlen(kv->key), sl = sizeof SECRET_FILE_SUFFIX - 1;
    if (n > sl && strcmp(kv->key + n - sl, SECRET_FILE_SUFFIX) == 0)
        return n - sl;
    return 0;
}

/* Sets property `name_len` bytes of kv->key to the first line of the file
 * kv->value (surrounding white space removed). The value is wiped from
 * memory after librdkafka has its copy; messages name the file, never
 * what it holds. */
static int conf_set_from_file(rd_kafka_conf_t *conf, const struct pw_kv *kv,
                              size_t name_len, const struct pw_kv_list *from,
                              struct pw_err *err)
{
    const char *file = from && from->file ? from->file : "(config)";
    char name[256];
    if (name_len >= sizeof name)
        return pw_err_set(err, "%s:%d: kafka.%s: name too long", file,
                          kv->line, kv->key);
    memcpy(name, kv->key, name_len);
    name[name_len] = '\0';
    struct pw_buf b;
    pw_buf_init(&b);
    struct pw_err e = {{0}};
    if (pw_buf_read_file(&b, kv->value, SECRET_FILE_MAX, &e) < 0) {
        pw_buf_release(&b);
        return pw_err_set(err, "%s:%d: kafka.%s: %s", file, kv->line, kv->key,
                          e.msg);
    }
    char none[1] = "";   /* an empty file may leave b.data NULL */
    char *v = b.data ? b.data : none;
    v[strcspn(v, "\r\n")] = '\0';
    while (*v == ' ' || *v == '\t')
        v++;
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        v[--n] = '\0';
    int rc;
    char errstr[512];
    if (!n)
        rc = pw_err_set(err, "%s:%d: kafka.%s: the first line of %s is empty",
                        file, kv->line, kv->key, kv->value);
    else if (rd_kafka_conf_set(conf, name, v, errstr, sizeof errstr) !=
             RD_KAFKA_CONF_OK)
        /* librdkafka's message may quote the value: not repeated here. */
        rc = pw_err_set(err, "%s:%d: kafka.%s: librdkafka refused the value "
                        "read from %s for %s", file, kv->line, kv->key,
                        kv->value, name);
    else
        rc = 0;
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    pw_buf_release(&b);
    return rc;
}

/* Applies name, value pairs (NULL-terminated; may be NULL), then the
 * configuration map (may be NULL), to conf. */
static int conf_apply(rd_kafka_conf_t *conf, const char *const *defaults,
                      const struct pw_kv_list *props, struct pw_err *err)
{
    for (size_t i = 0; defaults && defaults[i]; i += 2)
        if (conf_set(conf, defaults[i], defaults[i + 1], NULL, 0, err) < 0)
            return -1;
    for (size_t i = 0; props && i < props->len; i++) {
        const struct pw_kv *kv = &props->items[i];
        size_t name_len = secret_file_prop(kv);
        int rc = name_len
                     ? conf_set_from_file(conf, kv, name_len, props, err)
                     : conf_set(conf, kv->key, kv->value, props, kv->line, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

rd_kafka_conf_t *pw_kafka_conf_new(const char *const *defaults,
                                   const struct pw_kv_list *props,
                                   struct pw_err *err)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (conf_apply(conf, defaults, props, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static const char *const producer_defaults[] = {
    "enable.idempotence", "true",
    "compression.type", "lz4",
    "linger.ms", "50",
    /* Java's default partitioner, so that other producers keyed by entity
     * put an entity on the same partition as we do. */
    "partitioner", "murmur2_random",
    "client.id", "pipewatch",
    NULL,
};

rd_kafka_t *pw_kafka_producer_new(
    const char *const *defaults, const struct pw_kv_list *props,
    void (*dr_cb)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque),
    void *opaque, struct pw_err *err)
{
    rd_kafka_conf_t *conf = pw_kafka_conf_new(producer_defaults, NULL, err);
    if (!conf)
        return NULL;
    if (conf_apply(conf, defaults, props, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (dr_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        pw_err_set(err, "cannot create Kafka producer: %s", errstr);
    }
    return rk;
}

rd_kafka_t *pw_kafka_group_consumer_new(
    const char *const *defaults, const struct pw_kv_list *props,
    const char *group_id,
    void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque),
    void *opaque, struct pw_err *err)
{
    const char *ours[] = {
        "auto.offset.reset", "earliest",
        "enable.auto.offset.store", "false",
        "client.id", "pipewatch",
        group_id ? "group.id" : NULL, group_id,
        NULL,
    };
    rd_kafka_conf_t *conf = pw_kafka_conf_new(ours, NULL, err);
    if (!conf)
        return NULL;
    if (conf_apply(conf, defaults, props, err) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char errstr[512];
    size_t len = sizeof errstr;
    if (rd_kafka_conf_get(conf, "group.id", errstr, &len) != RD_KAFKA_CONF_OK ||
        errstr[0] == '\0') {
        rd_kafka_conf_destroy(conf);
        pw_err_set(err, "a Kafka consumer needs a group.id");
        return NULL;
    }
    if (rebalance_cb)
        rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        pw_err_set(err, "cannot create Kafka consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *pw_kafka_consumer_new(const struct pw_kv_list *props,
                                  const char *group_id, struct pw_err *err)
{
    return pw_kafka_group_consumer_new(NULL, props, group_id, NULL, NULL, err);
}

int pw_kafka_subscribe(rd_kafka_t *rk, const char *const *topics, size_t n,
                       struct pw_err *err)
{
    rd_kafka_topic_partition_list_t *list =
        rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t rc = rd_kafka_subscribe(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (rc)
        return pw_err_set(err, "cannot subscribe: %s", rd_kafka_err2str(rc));
    return 0;
}

/* Properties naming a file that librdkafka reads only when a client is
 * created (so rd_kafka_conf_set accepts a path that does not exist). */
static const char *const file_props[] = {
    "ssl.ca.location", "ssl.certificate.location", "ssl.key.location",
    "ssl.crl.location", "ssl.keystore.location", "sasl.kerberos.keytab", NULL,
};

static int check_file_prop(const struct pw_kv_list *props,
                           const struct pw_kv *kv, struct pw_err *err)
{
    for (size_t i = 0; file_props[i]; i++) {
        if (strcmp(kv->key, file_props[i]) != 0)
            continue;
        /* "probe": librdkafka looks in the system's usual CA locations. */
        if (strcmp(kv->key, "ssl.ca.location") == 0 &&
            strcmp(kv->value, "probe") == 0)
            return 0;
        if (access(kv->value, R_OK) == 0)
            return 0;
        return pw_err_set(err, "%s:%d: kafka.%s: cannot read %s: %s",
                          props->file ? props->file : "(config)", kv->line,
                          kv->key, kv->value, strerror(errno));
    }
    return 0;
}

/* A SASL mechanism is checked by librdkafka only when a client is created;
 * we check it here against what this librdkafka was built with
 * (builtin.features), so that --check-config catches it. */
static int check_sasl(const struct pw_kv_list *props, const struct pw_kv *kv,
                      rd_kafka_conf_t *conf, struct pw_err *err)
{
    static const char *const mechs[][2] = {
        {"GSSAPI", "sasl_gssapi"}, {"PLAIN", "sasl_plain"},
        {"SCRAM-SHA-256", "sasl_scram"}, {"SCRAM-SHA-512", "sasl_scram"},
        {"OAUTHBEARER", "sasl_oauthbearer"},
    };
    if (strcmp(kv->key, "sasl.mechanisms") != 0 &&
        strcmp(kv->key, "sasl.mechanism") != 0)
        return 0;
    char features[512] = "";
    size_t len = sizeof features;
    if (rd_kafka_conf_get(conf, "builtin.features", features, &len) !=
        RD_KAFKA_CONF_OK)
        features[0] = '\0';
    const char *file = props->file ? props->file : "(config)";
    for (size_t i = 0; i < sizeof mechs / sizeof mechs[0]; i++) {
        if (strcmp(kv->value, mechs[i][0]) != 0)
            continue;
        /* builtin.features is a comma-separated list of words. */
        size_t flen = strlen(mechs[i][1]);
        for (const char *p = features; (p = strstr(p, mechs[i][1])); p += flen)
            if ((p == features || p[-1] == ',') &&
                (p[flen] == ',' || p[flen] == '\0'))
                return 0;
        return pw_err_set(err, "%s:%d: kafka.%s: this librdkafka (%s) was "
                          "built without %s support (builtin.features: %s)",
                          file, kv->line, kv->key, rd_kafka_version_str(),
                          kv->value, features);
    }
    return pw_err_set(err, "%s:%d: kafka.%s: unknown SASL mechanism \"%s\" "
                      "(expected GSSAPI, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or "
                      "OAUTHBEARER)", file, kv->line, kv->key, kv->value);
}

int pw_kafka_check_props(const struct pw_kv_list *props, struct pw_err *err)
{
    rd_kafka_conf_t *conf = pw_kafka_conf_new(NULL, props, err);
    if (!conf)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && props && i < props->len; i++)
        if (check_file_prop(props, &props->items[i], err) < 0 ||
            check_sasl(props, &props->items[i], conf, err) < 0)
            rc = -1;
    rd_kafka_conf_destroy(conf);
    return rc;
}
