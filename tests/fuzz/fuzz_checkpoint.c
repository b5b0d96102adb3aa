/* tests/fuzz/fuzz_checkpoint.c — entity checkpoints (the values of the
 * pipewatch.state topic, read back on every partition assignment) on any
 * bytes.
 *
 * The bytes go to pw_state_decode_entity on a state configured with a
 * rule of each kind and two features, twice: into an empty state and into
 * one that already holds the entity. Checks:
 *  - refused bytes say why and leave the state as it was (no entity
 *    appears, none changes count);
 *  - taken bytes re-encode, and that encoding decodes into a fresh state
 *    and encodes again to the same bytes (a checkpoint survives any number
 *    of moves between analyzers);
 *  - the restored entity takes samples and log lines afterwards.
 *
 * With FUZZ_CHECKPOINT_SEEDS=DIR set, the replay driver's first call
 * writes real checkpoints to DIR instead (how the seed corpus was made). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/engine.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pw_engine_rule rules[3];
static const char *const features[2] = {"cpu.usage", "net.errors"};

static void nothing(const struct pw_prediction *p, void *arg) { (void)p; (void)arg; }

static struct pw_engine *engine(void)
{
    static const char *const exprs[3] = {
        "disk.used_percent{path=\"/\"} > 95 within 6h",
        "anomaly > 0.7",
        "log category out_of_memory > 3 per 5m",
    };
    static const char *const names[3] = {"disk_full", "unusual", "oom"};
    static int parsed;
    struct pw_err err = {{0}};
    if (!parsed) {
        for (int i = 0; i < 3; i++) {
            CHECK(pw_rule_parse(exprs[i], &rules[i].rule, &err) == 0);
            rules[i].name = names[i];
            rules[i].severity = "warning";
            rules[i].clear_for_ms = 60000;
        }
        parsed = 1;
    }
    struct pw_engine_config c = {
        .rules = rules, .nrules = 3, .features = features, .nfeatures = 2,
        .eval_interval_ms = 10000, .refresh_ms = 3600000, .trend_capacity = 32,
    };
    pw_hw_model_default(&c.default_model, 0, 10, false);
    struct pw_engine *e = pw_engine_new(&c, NULL, nothing, NULL, &err);
    CHECK(e != NULL);
    return e;
}

static void sample(struct pw_engine *e, const char *entity, const char *series, double v,
                   int64_t ts)
{
    struct pw_sample s;
    s.entity = (struct pw_str){entity, strlen(entity)};
    s.series = (struct pw_str){series, strlen(series)};
    s.measurement = (struct pw_str){series, strcspn(series, ", ")};
    const char *field = strrchr(series, ' ') + 1;
    s.field = (struct pw_str){field, strlen(field)};
    s.value = v;
    s.ts_ns = ts;
    pw_engine_sample(e, &s, 0);
}

static void log_line(struct pw_engine *e, const char *entity, const char *line, int64_t ts)
{
    struct pw_log_record r = {
        .entity = {entity, strlen(entity)}, .source = {"app.log", 7},
        .line = {line, strlen(line)}, .ts_ns = ts,
    };
    pw_engine_log(e, &r, 0);
}

/* Feeds an entity a little of everything. */
static void feed(struct pw_engine *e, const char *entity, int n)
{
    int64_t t0 = 1700000000000000000LL;
    for (int i = 0; i < n; i++) {
        int64_t ts = t0 + (int64_t)i * 10000000000LL;
        sample(e, entity, "disk,path=/ used_percent", 50 + 0.1 * i, ts);
        sample(e, entity, "cpu,cpu=total usage", 20 + i % 7, ts);
        sample(e, entity, "net,if=eth0 errors", i % 3, ts);
        if (i % 5 == 0)
            log_line(e, entity, "java.lang.OutOfMemoryError: Java heap space", ts);
    }
    pw_engine_tick(e, 0);
}

static void write_seeds(const char *dir)
{
    struct pw_engine *e = engine();
    feed(e, "host-a", 40);
    feed(e, "host-b", 3);
    struct pw_state *st = pw_engine_state(e);
    struct pw_buf b;
    pw_buf_init(&b);
    struct pw_err err = {{0}};
    for (uint32_t i = 0; i < pw_state_entities(st); i++) {
        b.len = 0;
        CHECK(pw_state_encode_entity(st, i, &b, &err) == 0);
        char path[4096];
        snprintf(path, sizeof path, "%s/entity%u", dir, (unsigned)i);
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(b.data, 1, b.len, f) == b.len);
        fclose(f);
    }
    pw_buf_release(&b);
    pw_engine_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int seeded;
    const char *seeds = getenv("FUZZ_CHECKPOINT_SEEDS");
    if (seeds && !seeded++)
        write_seeds(seeds);

    struct pw_err err = {{0}};
    struct pw_engine *e = engine();
    struct pw_state *st = pw_engine_state(e);
    uint32_t idx = pw_state_decode_entity(st, data, size, 2, &err);
    if (idx == PW_NONE) {
        CHECK(err.msg[0] != '\0');
        CHECK(pw_state_entities(st) == 0);
        pw_engine_free(e);
        return 0;
    }
    CHECK(pw_state_entities(st) == 1);
    struct pw_buf once, twice;
    pw_buf_init(&once);
    pw_buf_init(&twice);
    CHECK(pw_state_encode_entity(st, idx, &once, &err) == 0);

    struct pw_engine *e2 = engine();
    struct pw_state *st2 = pw_engine_state(e2);
    uint32_t idx2 = pw_state_decode_entity(st2, once.data, once.len, 5, &err);
    if (idx2 == PW_NONE)
        fprintf(stderr, "re-encoded checkpoint refused: %s\n", err.msg);
    CHECK(idx2 != PW_NONE);
    CHECK(pw_state_encode_entity(st2, idx2, &twice, &err) == 0);
    CHECK(once.len == twice.len && memcmp(once.data, twice.data, once.len) == 0);

    /* Into a state that already has the entity (a second restore). */
    size_t before = pw_state_entities(st2);
    (void)pw_state_decode_entity(st2, data, size, 5, &err);
    CHECK(pw_state_entities(st2) == before);

    const struct pw_entity *ent = pw_state_entity_at(st2, idx2);
    char name[256];
    snprintf(name, sizeof name, "%s", ent->name);
    feed(e2, name, 4);

    pw_buf_release(&once);
    pw_buf_release(&twice);
    pw_engine_free(e2);
    pw_engine_free(e);
    return 0;
}
