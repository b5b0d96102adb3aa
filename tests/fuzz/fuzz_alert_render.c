/* tests/fuzz/fuzz_alert_render.c — the alert renderers on any label and
 * annotation bytes: the webhook body and the Slack message must always be
 * valid JSON within Slack's limits, and the log text one clean line per
 * alert.
 *
 * Input: a flags byte, then NUL-separated pieces. Flags: bit 0
 * send_resolved, bit 1 odd alerts resolved, bits 2-3 max_alerts (0-3),
 * bits 4-6 the number of alerts minus one. The first three pieces are the
 * group key, the idempotency key and a generator URL; the rest are (name,
 * value) pairs dealt to the alerts in turn, alternately as labels and
 * annotations; a one-byte annotation name picks one the Slack renderer
 * reads (summary, eta_seconds, confidence, evidence, ...). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/render.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/unit/alerting_fixture.h"

#define MAX_PIECES 64

static void check_json(const char *text, bool slack)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fprintf(stderr, "invalid JSON: %s\n%s\n", e.text, text);
    CHECK(j != NULL);
    if (slack) {
        const char *fallback = json_string_value(json_object_get(j, "text"));
        CHECK(fallback && strlen(fallback) <= 3000);
        json_t *blocks = json_object_get(j, "blocks");
        CHECK(json_is_array(blocks));
        CHECK(json_array_size(blocks) <= 50);
        size_t i;
        json_t *b;
        json_array_foreach(blocks, i, b) {
            const char *t = json_string_value(
                json_object_get(json_object_get(b, "text"), "text"));
            const char *type = json_string_value(json_object_get(b, "type"));
            CHECK(type != NULL);
            if (!strcmp(type, "header"))
                CHECK(t && strlen(t) <= 150);
            if (!strcmp(type, "section"))
                CHECK(t && strlen(t) <= 3000);
        }
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    uint8_t flags = data[0];
    char *buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    /* NUL-separated pieces (the last one ends at the buffer's end). */
    const char *pieces[MAX_PIECES];
    size_t np = 0;
    for (size_t i = 0; i < size - 1 && np < MAX_PIECES;) {
        pieces[np++] = buf + i;
        i += strlen(buf + i) + 1;
    }
    static const char *const ann[] = {"summary", "eta_seconds", "confidence",
                                      "evidence", "description", "x"};
    size_t n_alerts = (size_t)((flags >> 4) & 7) + 1;
    struct pw_alert alerts[8];
    memset(alerts, 0, sizeof alerts);
    for (size_t i = 0; i < n_alerts; i++) {
        alerts[i].status = (flags & 2) && (i & 1) ? PW_ALERT_RESOLVED
                                                  : PW_ALERT_FIRING;
        alerts[i].starts_at_ns = (int64_t)i * 1000000007LL;
        alerts[i].ends_at_ns = alerts[i].status == PW_ALERT_RESOLVED
                                   ? (int64_t)i * 1000000009LL + 1 : 0;
        alerts[i].fingerprint = i * 0x9e3779b97f4a7c15ULL;
        alerts[i].generator_url = strdup(np > 2 ? pieces[2] : "");
    }
    size_t pair = 0;
    for (size_t p = 3; p + 1 < np; p += 2, pair++) {
        struct pw_alert *a = &alerts[pair % n_alerts];
        const char *name = pieces[p], *value = pieces[p + 1];
        if ((pair / n_alerts) & 1) {
            if (strlen(name) == 1)
                name = ann[(unsigned char)name[0] % 6];
            fx_set(&a->annotations, name, value);
        } else {
            fx_set(&a->labels, name, value);
        }
    }
    struct pw_labels group = {0};
    if (alerts[0].labels.n)
        fx_set(&group, alerts[0].labels.v[0].name, alerts[0].labels.v[0].value);
    struct pw_notification n = {
        .receiver = "fuzz",
        .group_key = np > 0 ? pieces[0] : "",
        .group_labels = &group,
        .alerts = alerts,
        .n_alerts = n_alerts,
        .idempotency_key = np > 1 ? pieces[1] : "k",
    };
    struct pw_render_opts o = {
        .external_url = np > 0 ? pieces[0] : NULL,
        .max_alerts = (flags >> 2) & 3,
        .send_resolved = flags & 1,
        .channel = np > 1 ? pieces[1] : NULL,
    };
    char *out = NULL;
    CHECK(pw_render_webhook(&n, &o, &out, NULL) == 0);
    if (out)
        check_json(out, false);
    free(out);
    CHECK(pw_render_slack(&n, &o, &out, NULL) == 0);
    if (out)
        check_json(out, true);
    free(out);
    CHECK(pw_render_log(&n, &o, &out, NULL) == 0);
    if (out) {
        size_t lines = 0;
        for (const char *p = out; *p; p++) {
            CHECK((unsigned char)*p >= 0x20 || *p == '\n');
            lines += *p == '\n';
        }
        CHECK(lines <= n_alerts);
    }
    free(out);
    for (size_t i = 0; i < n_alerts; i++)
        fx_alert_free(&alerts[i]);
    fx_labels_free(&group);
    free(buf);
    return 0;
}
