/* ctl/main.c — pipewatch-ctl: silences and alerts from the command line.
 *
 * A client of the analyzer's status port, which serves Alertmanager's API
 * v2 paths for silences and alerts, so this does what `amtool silence`
 * and `amtool alert` do against Alertmanager (and amtool itself works
 * against the analyzer for these calls):
 *
 *   pipewatch-ctl [--url URL] silence add [--duration 2h | --end TIME]
 *                 [--start TIME] --author NAME --comment TEXT MATCHER...
 *   pipewatch-ctl [--url URL] silence list [--json]
 *   pipewatch-ctl [--url URL] silence expire ID...
 *   pipewatch-ctl [--url URL] alerts [--json]
 *
 * MATCHER is name=value, name!=value, name=~regex or name!~regex (the
 * value may be double-quoted). TIME is RFC 3339 (2026-12-04T15:00:00Z).
 * URL defaults to $PIPEWATCH_URL, else http://127.0.0.1:9466; a bearer
 * token comes from $PIPEWATCH_TOKEN (never from the command line, where
 * it would show in ps).
 *
 * Exit status: 0 done, 1 the server refused or could not be reached (its
 * answer is printed), 2 a usage error. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/config.h"

static const char *base_url = "http://127.0.0.1:9466";

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "pipewatch-ctl: %s\n", why);
    fprintf(stderr,
            "usage: pipewatch-ctl [--url URL] silence add [--duration D | --end TIME]\n"
            "                     [--start TIME] --author NAME --comment TEXT MATCHER...\n"
            "       pipewatch-ctl [--url URL] silence list [--json]\n"
            "       pipewatch-ctl [--url URL] silence expire ID...\n"
            "       pipewatch-ctl [--url URL] alerts [--json]\n"
            "MATCHER: name=value, name!=value, name=~regex, name!~regex\n"
            "TIME: RFC 3339, e.g. 2026-12-04T15:00:00Z; D: 30m, 2h, 1d\n"
            "URL: default $PIPEWATCH_URL, else http://127.0.0.1:9466; "
            "token: $PIPEWATCH_TOKEN\n");
    return 2;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    pw_buf_append(arg, data, size * n);
    return size * n;
}

/* One request; the response body in *out. Returns the HTTP status, or -1
 * (unreachable: message printed). */
static long request(const char *method, const char *path, const char *body,
                    struct pw_buf *out)
{
    CURL *c = curl_easy_init();
    if (!c) {
        fprintf(stderr, "pipewatch-ctl: cannot start libcurl\n");
        return -1;
    }
    char url[2048];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    const char *token = getenv("PIPEWATCH_TOKEN");
    if (token && *token) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        headers = curl_slist_append(headers, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    long status = -1;
    if (rc != CURLE_OK)
        fprintf(stderr, "pipewatch-ctl: %s %s: %s\n", method, url, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    pw_buf_putc(out, '\0');
    out->len--;
    return status;
}

static int refused(long status, const struct pw_buf *body)
{
    if (status < 0)
        return 1;
    fprintf(stderr, "pipewatch-ctl: the analyzer answered %ld: %s\n", status,
            body->len ? body->data : "(no body)");
    return 1;
}

static void format_time(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* RFC 3339 with Z or an offset; fractions ignored. */
static int parse_time(const char *text, time_t *out)
{
    struct tm tm = {0};
    const char *rest = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        return -1;
    if (*rest == '.')
        while (*++rest >= '0' && *rest <= '9')
            ;
    long offset = 0;
    if (*rest == 'Z' || *rest == 'z') {
        rest++;
    } else if (*rest == '+' || *rest == '-') {
        int hh, mm;
        if (sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2)
            return -1;
        offset = (hh * 3600L + mm * 60L) * (*rest == '-' ? -1 : 1);
        rest += 6;
    } else {
        return -1;
    }
    if (*rest)
        return -1;
    *out = timegm(&tm) - offset;
    return 0;
}

/* name=value, name!=value, name=~re, name!~re; value optionally quoted. */
static json_t *parse_matcher(const char *text)
{
    size_t n = strcspn(text, "=!");
    if (n == 0 || !text[n])
        return NULL;
    const char *op = text + n;
    bool equal = true, regex = false;
    size_t oplen;
    if (!strncmp(op, "=~", 2)) {
        regex = true;
        oplen = 2;
    } else if (!strncmp(op, "!~", 2)) {
        regex = true;
        equal = false;
        oplen = 2;
    } else if (!strncmp(op, "!=", 2)) {
        equal = false;
        oplen = 2;
    } else if (*op == '=') {
        oplen = 1;
    } else {
        return NULL;
    }
    const char *v = op + oplen;
    size_t vlen = strlen(v);
    if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
        v++;
        vlen -= 2;
    }
    return json_pack("{s:s%,s:s%,s:b,s:b}", "name", text, n, "value", v, vlen,
                     "isRegex", regex, "isEqual", equal);
}

static int silence_add(int argc, char **argv)
{
    const char *author = NULL, *comment = NULL, *start = NULL, *end = NULL;
    int64_t duration_ms = 3600 * 1000;
    json_t *matchers = json_array();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--author") && v) {
            author = v;
            i++;
        } else if (!strcmp(a, "--comment") && v) {
            comment = v;
            i++;
        } else if (!strcmp(a, "--start") && v) {
            start = v;
            i++;
        } else if (!strcmp(a, "--end") && v) {
            end = v;
            i++;
        } else if (!strcmp(a, "--duration") && v) {
            struct pw_err err = {{0}};
            if (pw_parse_duration_ms(v, &duration_ms, &err) < 0 || duration_ms <= 0) {
                json_decref(matchers);
                return usage("--duration: expected a duration such as 2h");
            }
            i++;
        } else if (a[0] == '-') {
            json_decref(matchers);
            fprintf(stderr, "pipewatch-ctl: silence add: unknown option %s\n", a);
            return usage(NULL);
        } else {
            json_t *m = parse_matcher(a);
            if (!m) {
                json_decref(matchers);
                fprintf(stderr, "pipewatch-ctl: bad matcher \"%s\"\n", a);
                return usage(NULL);
            }
            json_array_append_new(matchers, m);
        }
    }
    if (!author || !comment || json_array_size(matchers) == 0) {
        json_decref(matchers);
        return usage("silence add needs --author, --comment and at least one matcher");
    }
    time_t t_start = time(NULL), t_end;
    if (start && parse_time(start, &t_start) < 0) {
        json_decref(matchers);
        return usage("--start: expected RFC 3339 time such as 2026-12-04T15:00:00Z");
    }
    if (end) {
        if (parse_time(end, &t_end) < 0) {
            json_decref(matchers);
            return usage("--end: expected RFC 3339 time such as 2026-12-04T17:00:00Z");
        }
    } else {
        t_end = t_start + (time_t)(duration_ms / 1000);
    }
    char s1[32], s2[32];
    format_time(t_start, s1, sizeof s1);
    format_time(t_end, s2, sizeof s2);
    json_t *body = json_pack("{s:o,s:s,s:s,s:s,s:s}", "matchers", matchers, "startsAt", s1,
                             "endsAt", s2, "createdBy", author, "comment", comment);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    struct pw_buf out;
    pw_buf_init(&out);
    long status = request("POST", "/api/v2/silences", text, &out);
    free(text);
    int rc = 0;
    if (status != 200) {
        rc = refused(status, &out);
    } else {
        json_t *j = json_loads(out.data, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "silenceID"));
        printf("%s\n", id ? id : out.data);
        json_decref(j);
    }
    pw_buf_release(&out);
    return rc;
}

static void print_matchers(json_t *ms)
{
    size_t i;
    json_t *m;
    json_array_foreach(ms, i, m) {
        bool eq = json_is_true(json_object_get(m, "isEqual")) ||
                  !json_object_get(m, "isEqual");
        bool re = json_is_true(json_object_get(m, "isRegex"));
        printf("%s%s%s\"%s\"", i ? " " : "",
               json_string_value(json_object_get(m, "name")),
               re ? (eq ? "=~" : "!~") : (eq ? "=" : "!="),
               json_string_value(json_object_get(m, "value")));
    }
}

static int list(const char *path, bool as_json, bool silences)
{
    struct pw_buf out;
    pw_buf_init(&out);
    long status = request("GET", path, NULL, &out);
    int rc = 0;
    if (status != 200) {
        rc = refused(status, &out);
    } else if (as_json) {
        printf("%s\n", out.data);
    } else {
        json_error_t jerr;
        json_t *arr = json_loads(out.data, 0, &jerr);
        if (!json_is_array(arr)) {
            fprintf(stderr, "pipewatch-ctl: the answer is not a JSON list: %s\n", jerr.text);
            rc = 1;
        } else if (silences) {
            printf("%-36s %-8s %-20s %-20s %-12s %s\n", "ID", "STATE", "ENDS", "CREATED BY",
                   "COMMENT", "MATCHERS");
            size_t i;
            json_t *s;
            json_array_foreach(arr, i, s) {
                printf("%-36s %-8s %-20s %-20s %-12s ",
                       json_string_value(json_object_get(s, "id")),
                       json_string_value(json_object_get(json_object_get(s, "status"), "state")),
                       json_string_value(json_object_get(s, "endsAt")),
                       json_string_value(json_object_get(s, "createdBy")),
                       json_string_value(json_object_get(s, "comment")));
                print_matchers(json_object_get(s, "matchers"));
                printf("\n");
            }
        } else {
            printf("%-24s %-20s %-10s %-21s %s\n", "ALERT", "ENTITY", "STATE", "STARTS",
                   "SUMMARY");
            size_t i;
            json_t *a;
            json_array_foreach(arr, i, a) {
                json_t *l = json_object_get(a, "labels");
                json_t *an = json_object_get(a, "annotations");
                const char *state =
                    json_string_value(json_object_get(json_object_get(a, "status"), "state"));
                const char *summary = json_string_value(json_object_get(an, "summary"));
                const char *entity = json_string_value(json_object_get(l, "entity"));
                printf("%-24s %-20s %-10s %-21s %s\n",
                       json_string_value(json_object_get(l, "alertname")),
                       entity ? entity : "-", state ? state : "-",
                       json_string_value(json_object_get(a, "startsAt")),
                       summary ? summary : "");
            }
        }
        json_decref(arr);
    }
    pw_buf_release(&out);
    return rc;
}

static int silence_expire(int argc, char **argv)
{
    if (argc < 1)
        return usage("silence expire needs at least one silence ID");
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        char path[512];
        snprintf(path, sizeof path, "/api/v2/silence/%s", argv[i]);
        struct pw_buf out;
        pw_buf_init(&out);
        long status = request("DELETE", path, NULL, &out);
        if (status != 200)
            rc = refused(status, &out);
        pw_buf_release(&out);
    }
    return rc;
}

int main(int argc, char **argv)
{
    const char *env = getenv("PIPEWATCH_URL");
    if (env && *env)
        base_url = env;
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (!strcmp(argv[i], "--url") && i + 1 < argc) {
            base_url = argv[i + 1];
            i += 2;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(NULL);
            return 0;
        } else {
            fprintf(stderr, "pipewatch-ctl: unknown option %s\n", argv[i]);
            return usage(NULL);
        }
    }
    if (i >= argc)
        return usage("no command");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc;
    const char *cmd = argv[i];
    const char *sub = i + 1 < argc ? argv[i + 1] : "";
    bool as_json = i + 2 < argc && !strcmp(argv[argc - 1], "--json");
    if (!strcmp(cmd, "silence") && !strcmp(sub, "add"))
        rc = silence_add(argc - i - 2, argv + i + 2);
    else if (!strcmp(cmd, "silence") && (!strcmp(sub, "list") || !strcmp(sub, "query")))
        rc = list("/api/v2/silences", as_json, true);
    else if (!strcmp(cmd, "silence") && !strcmp(sub, "expire"))
        rc = silence_expire(argc - i - 2, argv + i + 2);
    else if (!strcmp(cmd, "alerts"))
        rc = list("/api/v2/alerts", !strcmp(argv[argc - 1], "--json"), false);
    else
        rc = usage("unknown command");
    curl_global_cleanup();
    return rc;
}
