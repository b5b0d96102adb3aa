/* tests/unit/test_lineproto.c — Influx line protocol writer and parser. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/testing.h"
#include "common/lineproto.h"

/* ---- helpers ----------------------------------------------------------- */

static bool str_is(struct pw_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define ck_assert_str_is(s, want)                                            \
    ck_assert_msg(str_is((s), (want)), "got \"%.*s\", want \"%s\"",         \
                  (int)(s).len, (s).ptr, (want))

static bool same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Parses `text` into a new batch and checks the point count. */
static struct pw_lp_batch *parse_ok(const char *text, int want, int64_t dflt)
{
    struct pw_lp_batch *b = pw_lp_batch_new();
    ck_assert_ptr_nonnull(b);
    struct pw_err err = {{0}};
    int n = pw_lp_parse(text, strlen(text), dflt, b, &err);
    ck_assert_msg(n == want, "parse of \"%s\" gave %d (want %d): %s", text, n,
                  want, err.msg);
    ck_assert_uint_eq(pw_lp_batch_len(b), (size_t)want);
    return b;
}

static const struct pw_lp_field *field(const struct pw_lp_point *p, size_t i)
{
    ck_assert_uint_lt(i, p->nfields);
    return &p->fields[i];
}

/* ---- writer: exact text ------------------------------------------------ */

START_TEST(test_writer_escapes_measurement_comma_and_space)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "my measurement,x");
    pw_lp_field_int(&w, "v", 1);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    ck_assert_str_eq(w.buf.data, "my\\ measurement\\,x v=1i\n");
    /* '=' is not special in a measurement; other backslashes stay as-is. */
    pw_lp_writer_reset(&w);
    pw_lp_begin(&w, "a=b\\c");
    pw_lp_field_int(&w, "v", 1);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    ck_assert_str_eq(w.buf.data, "a=b\\c v=1i\n");
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_docs_example_exact)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "weather");
    pw_lp_tag(&w, "location", "us-midwest");
    pw_lp_field_float(&w, "temperature", 82.0);
    ck_assert_int_eq(pw_lp_end(&w, INT64_C(1465839830100400200)), 1);
    ck_assert_str_eq(w.buf.data,
                     "weather,location=us-midwest temperature=82 1465839830100400200\n");
    ck_assert_uint_eq(w.points, 1);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_escapes_keys_tag_values_and_strings)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "m");
    pw_lp_tag(&w, "tag key,=x", "va lue=,");
    pw_lp_field_string(&w, "f k=", "say \"hi\" \\ bye", strlen("say \"hi\" \\ bye"));
    ck_assert_int_eq(pw_lp_end(&w, 7), 1);
    ck_assert_str_eq(w.buf.data,
                     "m,tag\\ key\\,\\=x=va\\ lue\\=\\, f\\ k\\==\"say \\\"hi\\\" \\\\ bye\" 7\n");
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_every_field_type_exact)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "t");
    pw_lp_field_float(&w, "f", 1.5);
    pw_lp_field_int(&w, "i", -3);
    pw_lp_field_int(&w, "imin", INT64_MIN);
    pw_lp_field_uint(&w, "u", UINT64_MAX);
    pw_lp_field_bool(&w, "b", true);
    pw_lp_field_bool(&w, "nb", false);
    pw_lp_field_string(&w, "s", "", 0);
    ck_assert_int_eq(pw_lp_end(&w, 0), 1);
    ck_assert_str_eq(w.buf.data,
                     "t f=1.5,i=-3i,imin=-9223372036854775808i,"
                     "u=18446744073709551615u,b=true,nb=false,s=\"\" 0\n");
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_floats_are_shortest_round_trip)
{
    static const struct {
        double v;
        const char *text;
    } cases[] = {
        {1.0, "1"},
        {-2.0, "-2"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1.0 / 3.0, "0.3333333333333333"},
        {1e300, "1e+300"},
        {-0.0, "-0"},
        {5e-324, "4.94065645841247e-324"}, /* 15 digits suffice */
        {1e15, "1e+15"},
        {123456.789, "123456.789"},
    };
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pw_lp_writer_reset(&w);
        pw_lp_begin(&w, "m");
        pw_lp_field_float(&w, "v", cases[i].v);
        ck_assert_int_eq(pw_lp_end(&w, -1), 1);
        char want[64];
        snprintf(want, sizeof want, "m v=%s\n", cases[i].text);
        ck_assert_str_eq(w.buf.data, want);
        /* and it parses back to the very same double */
        struct pw_lp_batch *b = parse_ok(w.buf.data, 1, -1);
        const struct pw_lp_field *f = field(pw_lp_batch_get(b, 0), 0);
        ck_assert_int_eq(f->type, PW_FIELD_FLOAT);
        ck_assert_msg(same_bits(f->v.f, cases[i].v), "%s read back as %.17g",
                      cases[i].text, f->v.f);
        pw_lp_batch_free(b);
    }
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_skips_nonfinite_and_rolls_back_empty_line)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "ok");
    pw_lp_field_int(&w, "v", 1);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);

    pw_lp_begin(&w, "bad");
    pw_lp_tag(&w, "host", "a");
    pw_lp_field_float(&w, "nan", NAN);
    pw_lp_field_float(&w, "inf", INFINITY);
    pw_lp_field_float(&w, "ninf", -INFINITY);
    ck_assert_int_eq(pw_lp_end(&w, 5), 0);
    ck_assert_str_eq(w.buf.data, "ok v=1i\n");
    ck_assert_uint_eq(w.skipped_nonfinite, 3);
    ck_assert_uint_eq(w.points, 1);

    pw_lp_begin(&w, "mixed");
    pw_lp_field_float(&w, "nan", NAN);
    pw_lp_field_float(&w, "x", 2.5);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    ck_assert_str_eq(w.buf.data, "ok v=1i\nmixed x=2.5\n");
    ck_assert_uint_eq(w.skipped_nonfinite, 4);
    ck_assert_uint_eq(w.points, 2);

    /* reset keeps the storage and clears the counters */
    char *storage = w.buf.data;
    pw_lp_writer_reset(&w);
    ck_assert_uint_eq(w.buf.len, 0);
    ck_assert_ptr_eq(w.buf.data, storage);
    ck_assert_uint_eq(w.points, 0);
    ck_assert_uint_eq(w.skipped_nonfinite, 0);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_skips_what_line_protocol_cannot_carry)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "m");
    pw_lp_tag(&w, "", "x");        /* empty key */
    pw_lp_tag(&w, "k", "");        /* empty value */
    pw_lp_tag(&w, "k\\", "x");     /* trailing backslash */
    pw_lp_tag(&w, "k", "x\\");
    pw_lp_tag(&w, "ok", "a\\b");   /* inner backslash is fine */
    pw_lp_field_int(&w, "", 1);    /* empty field key */
    pw_lp_field_int(&w, "f\\", 2); /* trailing backslash */
    pw_lp_field_int(&w, "g", 3);
    pw_lp_tag(&w, "late", "tag");  /* after a field: ignored */
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    ck_assert_str_eq(w.buf.data, "m,ok=a\\b g=3i\n");

    /* measurements that cannot be written roll the whole line back */
    const char *bad[] = {"", "#comment", "trailing\\", NULL};
    for (int i = 0; i < 4; i++) {
        pw_lp_begin(&w, bad[i]);
        pw_lp_field_int(&w, "v", 1);
        ck_assert_int_eq(pw_lp_end(&w, -1), 0);
    }
    ck_assert_str_eq(w.buf.data, "m,ok=a\\b g=3i\n");
    ck_assert_uint_eq(w.points, 1);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_writes_newline_in_names_as_backslash_n)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "a\nb");
    pw_lp_tag(&w, "k\n", "v\nw");
    pw_lp_field_string(&w, "f\n", "line1\nline2", 11);
    ck_assert_int_eq(pw_lp_end(&w, 1), 1);
    ck_assert_str_eq(w.buf.data, "a\\nb,k\\n=v\\nw f\\n=\"line1\nline2\" 1\n");
    /* reads back as one point: names with a literal backslash-n, the
     * string value with its real newline */
    struct pw_lp_batch *b = parse_ok(w.buf.data, 1, -1);
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    ck_assert_str_is(p->measurement, "a\\nb");
    ck_assert_str_is(p->tags[0].key, "k\\n");
    ck_assert_str_is(p->tags[0].value, "v\\nw");
    ck_assert_str_is(p->fields[0].key, "f\\n");
    ck_assert_str_is(p->fields[0].v.s, "line1\nline2");
    ck_assert_int_eq(p->ts_ns, 1);
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_timestamp_only_when_nonnegative)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "m");
    pw_lp_field_bool(&w, "b", true);
    pw_lp_end(&w, -1);
    pw_lp_begin(&w, "m");
    pw_lp_field_bool(&w, "b", false);
    pw_lp_end(&w, 0);
    ck_assert_str_eq(w.buf.data, "m b=true\nm b=false 0\n");
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_begin_twice_drops_unfinished_line)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "lost");
    pw_lp_field_int(&w, "v", 1);
    pw_lp_begin(&w, "kept");
    pw_lp_field_int(&w, "v", 2);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    ck_assert_str_eq(w.buf.data, "kept v=2i\n");
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_writer_rolls_back_lines_the_parser_would_refuse)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    /* more than 1024 fields */
    pw_lp_begin(&w, "m");
    char key[16];
    for (int i = 0; i < 1025; i++) {
        snprintf(key, sizeof key, "f%d", i);
        pw_lp_field_int(&w, key, i);
    }
    ck_assert_int_eq(pw_lp_end(&w, -1), 0);
    ck_assert_uint_eq(w.buf.len, 0);
    /* more than 1024 tags */
    pw_lp_begin(&w, "m");
    for (int i = 0; i < 1025; i++) {
        snprintf(key, sizeof key, "t%04d", i);
        pw_lp_tag(&w, key, "v");
    }
    pw_lp_field_int(&w, "v", 1);
    ck_assert_int_eq(pw_lp_end(&w, -1), 0);
    ck_assert_uint_eq(w.buf.len, 0);
    /* exactly 1024 tags is fine */
    pw_lp_begin(&w, "m");
    for (int i = 0; i < 1024; i++) {
        snprintf(key, sizeof key, "t%04d", i);
        pw_lp_tag(&w, key, "v");
    }
    pw_lp_field_int(&w, "v", 1);
    ck_assert_int_eq(pw_lp_end(&w, -1), 1);
    struct pw_lp_batch *b = parse_ok(w.buf.data, 1, -1);
    ck_assert_uint_eq(pw_lp_batch_get(b, 0)->ntags, 1024);
    pw_lp_batch_free(b);
    /* a line longer than 65535 bytes */
    pw_lp_writer_reset(&w);
    char *big = malloc(70000);
    memset(big, 'x', 70000);
    pw_lp_begin(&w, "m");
    pw_lp_field_string(&w, "s", big, 70000);
    ck_assert_int_eq(pw_lp_end(&w, -1), 0);
    ck_assert_uint_eq(w.buf.len, 0);
    free(big);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_write_point_keeps_explicit_and_defaulted_timestamps)
{
    struct pw_lp_batch *b =
        parse_ok("a v=1i -5\nb v=2i 7\nc v=3i\n", 3, 1000);
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(pw_lp_write_point(&w, pw_lp_batch_get(b, i)), 1);
    /* explicit negative kept; missing one written as the default */
    ck_assert_str_eq(w.buf.data, "a v=1i -5\nb v=2i 7\nc v=3i 1000\n");
    pw_lp_batch_free(b);

    /* with a negative default a missing timestamp stays missing */
    b = parse_ok("c v=3i\n", 1, -1);
    pw_lp_writer_reset(&w);
    ck_assert_int_eq(pw_lp_write_point(&w, pw_lp_batch_get(b, 0)), 1);
    ck_assert_str_eq(w.buf.data, "c v=3i\n");
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

/* ---- parser: known lines ----------------------------------------------- */

START_TEST(test_parse_docs_examples)
{
    struct pw_lp_batch *b = parse_ok(
        "weather,location=us-midwest temperature=82 1465839830100400200\n"
        "myMeasurement,tag1=value1,tag2=value2 fieldKey=\"fieldValue\" 1556813561098000000\n",
        2, 0);
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    ck_assert_str_is(p->measurement, "weather");
    ck_assert_uint_eq(p->ntags, 1);
    ck_assert_str_is(p->tags[0].key, "location");
    ck_assert_str_is(p->tags[0].value, "us-midwest");
    ck_assert_uint_eq(p->nfields, 1);
    ck_assert_str_is(p->fields[0].key, "temperature");
    ck_assert_int_eq(p->fields[0].type, PW_FIELD_FLOAT);
    ck_assert(p->fields[0].v.f == 82.0);
    ck_assert(p->has_ts);
    ck_assert_int_eq(p->ts_ns, INT64_C(1465839830100400200));

    p = pw_lp_batch_get(b, 1);
    ck_assert_str_is(p->measurement, "myMeasurement");
    ck_assert_uint_eq(p->ntags, 2);
    ck_assert_str_is(p->tags[1].key, "tag2");
    ck_assert_str_is(p->tags[1].value, "value2");
    ck_assert_int_eq(p->fields[0].type, PW_FIELD_STRING);
    ck_assert_str_is(p->fields[0].v.s, "fieldValue");
    ck_assert_int_eq(p->ts_ns, INT64_C(1556813561098000000));
    ck_assert_ptr_null(pw_lp_batch_get(b, 2));
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_docs_escaping_examples)
{
    static const struct {
        const char *line;
        const char *measurement, *tag_key, *tag_value, *field_key, *string;
    } cases[] = {
        {"weather,location=us\\,midwest temperature=82", "weather", "location",
         "us,midwest", "temperature", NULL},
        {"weather,location=us-midwest temp\\=rature=82", "weather", "location",
         "us-midwest", "temp=rature", NULL},
        {"weather,location\\ place=us-midwest temperature=82", "weather",
         "location place", "us-midwest", "temperature", NULL},
        {"wea\\,ther,location=us-midwest temperature=82", "wea,ther", "location",
         "us-midwest", "temperature", NULL},
        {"wea\\ ther,location=us-midwest temperature=82", "wea ther", "location",
         "us-midwest", "temperature", NULL},
        {"my\\ Measurement,tag\\ Key1=tag\\ Value1 fieldKey=100", "my Measurement",
         "tag Key1", "tag Value1", "fieldKey", NULL},
        {"weather,location=us-midwest temperature=\"too\\\"hot\\\"\"", "weather",
         "location", "us-midwest", "temperature", "too\"hot\""},
        {"weather,location=us-midwest temperature_str=\"too hot/cold\"",
         "weather", "location", "us-midwest", "temperature_str", "too hot/cold"},
        /* the backslash table of the InfluxDB docs */
        {"w,l=x s=\"too hot\\cold\"", "w", "l", "x", "s", "too hot\\cold"},
        {"w,l=x s=\"too hot\\\\cold\"", "w", "l", "x", "s", "too hot\\cold"},
        {"w,l=x s=\"too hot\\\\\\cold\"", "w", "l", "x", "s", "too hot\\\\cold"},
        {"w,l=x s=\"too hot\\\\\\\\cold\"", "w", "l", "x", "s", "too hot\\\\cold"},
        {"w,l=x s=\"too hot\\\\\\\\\\cold\"", "w", "l", "x", "s", "too hot\\\\\\cold"},
        /* a backslash before an ordinary character stays, in names too */
        {"a\\b,c\\d=e\\f g\\h=1", "a\\b", "c\\d", "e\\f", "g\\h", NULL},
        /* "\\," in a tag value: literal backslash, then an escaped comma */
        {"m,k=a\\\\,b f=1", "m", "k", "a\\,b", "f", NULL},
        /* '=' needs no escape in a measurement; quotes are plain in names */
        {"a=b\"c,k=\"v\" \"f\"=1", "a=b\"c", "k", "\"v\"", "\"f\"", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pw_lp_batch *b = parse_ok(cases[i].line, 1, 0);
        const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
        ck_assert_str_is(p->measurement, cases[i].measurement);
        ck_assert_uint_eq(p->ntags, 1);
        ck_assert_str_is(p->tags[0].key, cases[i].tag_key);
        ck_assert_str_is(p->tags[0].value, cases[i].tag_value);
        ck_assert_str_is(p->fields[0].key, cases[i].field_key);
        if (cases[i].string) {
            ck_assert_int_eq(p->fields[0].type, PW_FIELD_STRING);
            ck_assert_str_is(p->fields[0].v.s, cases[i].string);
        }
        pw_lp_batch_free(b);
    }
}
END_TEST

START_TEST(test_parse_every_field_type)
{
    struct pw_lp_batch *b = parse_ok(
        "m f1=1,f2=-1.5,f3=1e3,f4=.5,f5=5.,f6=1E-3,f7=-0,f8=1e-400,"
        "i1=9223372036854775807i,i2=-9223372036854775808i,i3=-0i,i4=007i,"
        "u1=18446744073709551615u,u2=0u,"
        "b1=t,b2=T,b3=true,b4=True,b5=TRUE,b6=f,b7=F,b8=false,b9=False,b10=FALSE,"
        "s1=\"\",s2=\"a,b c=d\"",
        1, 0);
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    ck_assert_uint_eq(p->nfields, 26);
    static const double floats[] = {1, -1.5, 1000, 0.5, 5, 0.001, -0.0, 0};
    for (size_t i = 0; i < 8; i++) {
        ck_assert_int_eq(field(p, i)->type, PW_FIELD_FLOAT);
        ck_assert_msg(same_bits(field(p, i)->v.f, floats[i]), "f%zu = %.17g",
                      i + 1, field(p, i)->v.f);
    }
    ck_assert_int_eq(field(p, 8)->type, PW_FIELD_INT);
    ck_assert_int_eq(field(p, 8)->v.i, INT64_MAX);
    ck_assert_int_eq(field(p, 9)->v.i, INT64_MIN);
    ck_assert_int_eq(field(p, 10)->v.i, 0);
    ck_assert_int_eq(field(p, 11)->v.i, 7);
    ck_assert_int_eq(field(p, 12)->type, PW_FIELD_UINT);
    ck_assert_uint_eq(field(p, 12)->v.u, UINT64_MAX);
    ck_assert_uint_eq(field(p, 13)->v.u, 0);
    for (size_t i = 14; i < 24; i++) {
        ck_assert_int_eq(field(p, i)->type, PW_FIELD_BOOL);
        ck_assert_int_eq(field(p, i)->v.b, i < 19);
    }
    ck_assert_int_eq(field(p, 24)->type, PW_FIELD_STRING);
    ck_assert_uint_eq(field(p, 24)->v.s.len, 0);
    ck_assert_str_is(field(p, 25)->v.s, "a,b c=d");
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_multiline_with_comments_blank_lines_and_crlf)
{
    const char *msg =
        "# a comment, ignored\n"
        "\n"
        "cpu,host=a usage=1.5 100\r\n"
        "   \n"
        "   # an indented comment\n"
        "\r\n"
        "  mem,host=b used=2i 200\r\n"
        "disk free=3u\r\n"
        "net up=true";
    struct pw_lp_batch *b = parse_ok(msg, 4, 42);
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    ck_assert_str_is(p->measurement, "cpu");
    ck_assert_int_eq(p->ts_ns, 100);
    p = pw_lp_batch_get(b, 1);
    ck_assert_str_is(p->measurement, "mem");
    ck_assert_str_is(p->tags[0].value, "b");
    ck_assert_int_eq(p->fields[0].v.i, 2);
    ck_assert_int_eq(p->ts_ns, 200);
    p = pw_lp_batch_get(b, 2);
    ck_assert_str_is(p->measurement, "disk");
    ck_assert_int_eq(p->fields[0].type, PW_FIELD_UINT);
    ck_assert(!p->has_ts);
    ck_assert_int_eq(p->ts_ns, 42);
    p = pw_lp_batch_get(b, 3);
    ck_assert_str_is(p->measurement, "net");
    ck_assert_int_eq(p->fields[0].v.b, true);
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_tolerates_extra_spaces_between_sections)
{
    struct pw_lp_batch *b =
        parse_ok("m,t=1   v=1i   123   \nn v=2i  \r\no v=3i 8\r", 3, 9);
    ck_assert_int_eq(pw_lp_batch_get(b, 0)->ts_ns, 123);
    ck_assert_int_eq(pw_lp_batch_get(b, 1)->ts_ns, 9);
    ck_assert_int_eq(pw_lp_batch_get(b, 2)->ts_ns, 8); /* '\r' at the very end */
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_default_timestamp_when_missing)
{
    struct pw_lp_batch *b = parse_ok("a v=1\nb v=1 5\nc v=1 -7\n", 3,
                                     INT64_C(1700000000000000000));
    const struct pw_lp_point *p = pw_lp_batch_get(b, 0);
    ck_assert(!p->has_ts);
    ck_assert_int_eq(p->ts_ns, INT64_C(1700000000000000000));
    p = pw_lp_batch_get(b, 1);
    ck_assert(p->has_ts);
    ck_assert_int_eq(p->ts_ns, 5);
    p = pw_lp_batch_get(b, 2);
    ck_assert(p->has_ts);
    ck_assert_int_eq(p->ts_ns, -7);
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_string_may_span_lines)
{
    struct pw_lp_batch *b = parse_ok("m s=\"a\nb,c d=e\" 1\nn v=1 2\n", 2, 0);
    ck_assert_str_is(pw_lp_batch_get(b, 0)->fields[0].v.s, "a\nb,c d=e");
    ck_assert_str_is(pw_lp_batch_get(b, 1)->measurement, "n");
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_empty_input_gives_no_points)
{
    struct pw_lp_batch *b = pw_lp_batch_new();
    struct pw_err err = {{0}};
    ck_assert_int_eq(pw_lp_parse("", 0, 0, b, &err), 0);
    ck_assert_int_eq(pw_lp_parse(NULL, 0, 0, b, &err), 0);
    ck_assert_int_eq(pw_lp_parse("\n\n# only a comment\n  \r\n",
                                 strlen("\n\n# only a comment\n  \r\n"), 0, b, &err), 0);
    ck_assert_uint_eq(pw_lp_batch_len(b), 0);
    pw_lp_batch_free(b);
}
END_TEST

/* ---- parser: malformed input ------------------------------------------- */

static const struct bad_case {
    const char *input;
    int line, column;
    const char *what;
} bad_cases[] = {
    {"cpu", 1, 4, "missing fields"},
    {"cpu,host=a", 1, 11, "missing fields"},
    {"cpu \n", 1, 5, "missing fields"},
    {"cpu\r\n", 1, 5, "missing fields"}, /* the \r is part of the name */
    {"cpu =1", 1, 5, "empty field key"},
    {"cpu v=1,", 1, 9, "empty field key"},
    {"cpu v=", 1, 7, "field with no value"},
    {"cpu v= 1", 1, 7, "field with no value"},
    {"cpu v", 1, 6, "field with no value"},
    {"cpu v=1,w", 1, 10, "field with no value"},
    {"cpu,host v=1", 1, 9, "tag without '='"},
    {"cpu,host=a,b v=1", 1, 13, "tag without '='"},
    {"cpu,=a v=1", 1, 5, "empty tag key"},
    {"cpu,a= v=1", 1, 7, "empty tag value"},
    {"cpu,a=b=c v=1", 1, 8, "unescaped '='"},
    {"cpu s=\"abc", 1, 7, "unterminated string"},
    {"cpu s=\"abc\\\"", 1, 7, "unterminated string"},
    {"cpu s=\"a\"x", 1, 10, "unexpected character after field value"},
    {"cpu v=1 123 x", 1, 13, "unexpected text after timestamp"},
    {"cpu v=1 123 456", 1, 13, "unexpected text after timestamp"},
    {"cpu v=1 12a", 1, 9, "invalid timestamp"},
    {"cpu v=1 1.5", 1, 9, "invalid timestamp"},
    {"cpu v=1 123\r456", 1, 9, "invalid timestamp"},
    {"cpu v=1 9223372036854775808", 1, 9, "timestamp out of range"},
    {"cpu v=1.2.3", 1, 7, "invalid number"},
    {"cpu v=1x", 1, 7, "invalid number"},
    {"cpu v=-", 1, 7, "invalid number"},
    {"cpu v=.", 1, 7, "invalid number"},
    {"cpu v=-inf", 1, 7, "invalid number"},
    {"cpu v=0x10", 1, 7, "invalid number"},
    {"cpu v=0x1p3", 1, 7, "invalid number"},
    {"cpu v=1e", 1, 7, "invalid number"},
    {"cpu v=1e+", 1, 7, "invalid number"},
    {"cpu v=nan", 1, 7, "invalid field value"},
    {"cpu v=inf", 1, 7, "invalid field value"},
    {"cpu v=+1", 1, 7, "invalid field value"},
    {"cpu v=1e999", 1, 7, "float out of range"},
    {"cpu v=-1e999", 1, 7, "float out of range"},
    {"cpu v=9223372036854775808i", 1, 7, "integer out of range"},
    {"cpu v=-9223372036854775809i", 1, 7, "integer out of range"},
    {"cpu v=99999999999999999999999i", 1, 7, "integer out of range"},
    {"cpu v=1.5i", 1, 7, "invalid integer"},
    {"cpu v=-i", 1, 7, "invalid integer"},
    {"cpu v=-1u", 1, 7, "invalid unsigned"},
    {"cpu v=18446744073709551616u", 1, 7, "unsigned integer out of range"},
    {"cpu v=tru", 1, 7, "invalid boolean"},
    {"cpu v=TRue", 1, 7, "invalid boolean"},
    {",host=a v=1", 1, 1, "empty measurement"},
    {"cpu v=1\nmem x=1,y= 5\n", 2, 11, "field with no value"},
    {"cpu v=1\n\n# c\nbad\n", 4, 4, "missing fields"},
    {"cpu s=\"a\nb\" x\n", 2, 4, "invalid timestamp"},
    {"ok v=1\r\nok v=2\r\nbroken,t v=3\r\n", 3, 9, "tag without '='"},
};

START_TEST(test_parse_malformed_is_rejected_and_leaves_batch_unchanged)
{
    const struct bad_case *c = &bad_cases[_i];
    struct pw_lp_batch *b = parse_ok("keep,t=v f=1i 5\n", 1, 0);
    const struct pw_lp_point *before = pw_lp_batch_get(b, 0);
    struct pw_err err = {{0}};
    int n = pw_lp_parse(c->input, strlen(c->input), 0, b, &err);
    ck_assert_msg(n == -1, "\"%s\" parsed to %d points", c->input, n);
    char want[64];
    snprintf(want, sizeof want, "line %d, column %d: ", c->line, c->column);
    ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0,
                  "\"%s\": got \"%s\", want prefix \"%s\"", c->input, err.msg, want);
    ck_assert_msg(strstr(err.msg, c->what) != NULL, "\"%s\": got \"%s\", want \"%s\"",
                  c->input, err.msg, c->what);
    /* nothing from the failed call, the earlier point intact */
    ck_assert_uint_eq(pw_lp_batch_len(b), 1);
    ck_assert_ptr_eq(pw_lp_batch_get(b, 0), before);
    ck_assert_str_is(before->measurement, "keep");
    ck_assert_str_is(before->tags[0].value, "v");
    ck_assert_int_eq(before->fields[0].v.i, 1);
    /* and the batch still works */
    struct pw_err err2;
    ck_assert_int_eq(pw_lp_parse("next v=2i", 9, 0, b, &err2), 1);
    ck_assert_str_is(pw_lp_batch_get(b, 1)->measurement, "next");
    pw_lp_batch_free(b);
}
END_TEST

START_TEST(test_parse_too_many_tags_or_fields)
{
    struct pw_buf line;
    pw_buf_init(&line);
    struct pw_err err;
    struct pw_lp_batch *b = pw_lp_batch_new();

    pw_buf_puts(&line, "m");
    for (int i = 0; i < 1024; i++)
        pw_buf_printf(&line, ",t%d=v", i);
    pw_buf_puts(&line, " v=1");
    ck_assert_int_eq(pw_lp_parse(line.data, line.len, 0, b, &err), 1);
    ck_assert_uint_eq(pw_lp_batch_get(b, 0)->ntags, 1024);

    pw_buf_reset(&line);
    pw_buf_puts(&line, "m");
    for (int i = 0; i < 1025; i++)
        pw_buf_printf(&line, ",t%d=v", i);
    pw_buf_puts(&line, " v=1");
    ck_assert_int_eq(pw_lp_parse(line.data, line.len, 0, b, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 1024 tags"));

    pw_buf_reset(&line);
    pw_buf_puts(&line, "m ");
    for (int i = 0; i < 1024; i++)
        pw_buf_printf(&line, "%sf%d=%di", i ? "," : "", i, i);
    ck_assert_int_eq(pw_lp_parse(line.data, line.len, 0, b, &err), 1);
    ck_assert_uint_eq(pw_lp_batch_get(b, 1)->nfields, 1024);
    ck_assert_int_eq(pw_lp_batch_get(b, 1)->fields[1023].v.i, 1023);

    pw_buf_puts(&line, ",one=1i");
    ck_assert_int_eq(pw_lp_parse(line.data, line.len, 0, b, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "more than 1024 fields"));
    ck_assert_uint_eq(pw_lp_batch_len(b), 2);

    pw_lp_batch_free(b);
    pw_buf_release(&line);
}
END_TEST

/* "m s=\"xxx...\"" padded to exactly `n` bytes, plus `tail`. */
static char *line_of(size_t n, const char *tail)
{
    size_t tl = strlen(tail);
    char *s = malloc(n + tl + 1);
    memcpy(s, "m s=\"", 5);
    memset(s + 5, 'x', n - 6);
    s[n - 1] = '"';
    memcpy(s + n, tail, tl + 1);
    return s;
}

START_TEST(test_parse_line_length_limit)
{
    struct pw_lp_batch *b = pw_lp_batch_new();
    struct pw_err err;
    static const char *const tails[] = {"", "\n", "\r\n", "\nn v=1\n"};
    for (size_t t = 0; t < 4; t++) {
        char *ok = line_of(65535, tails[t]);
        ck_assert_int_eq(pw_lp_parse(ok, strlen(ok), 0, b, &err), t == 3 ? 2 : 1);
        ck_assert_uint_eq(pw_lp_batch_get(b, 0)->fields[0].v.s.len, 65535 - 6);
        pw_lp_batch_reset(b);
        free(ok);

        char *bad = line_of(65536, tails[t]);
        ck_assert_int_eq(pw_lp_parse(bad, strlen(bad), 0, b, &err), -1);
        ck_assert_str_eq(err.msg, "line 1, column 65536: line longer than 65535 bytes");
        ck_assert_uint_eq(pw_lp_batch_len(b), 0);
        free(bad);
    }
    /* the limit is per line: on the second line, and for a broken line */
    char *two = malloc(70000);
    strcpy(two, "a v=1\nm ");
    size_t n = strlen(two);
    memset(two + n, 'k', 66000);
    strcpy(two + n + 66000, "=1");
    ck_assert_int_eq(pw_lp_parse(two, strlen(two), 0, b, &err), -1);
    ck_assert_str_eq(err.msg, "line 2, column 65536: line longer than 65535 bytes");
    two[n + 66000] = '\0'; /* no '=': broken past the limit, still "too long" */
    ck_assert_int_eq(pw_lp_parse(two, strlen(two), 0, b, &err), -1);
    ck_assert_str_eq(err.msg, "line 2, column 65536: line longer than 65535 bytes");
    two[n + 10] = '\0'; /* broken before the limit: the real error */
    ck_assert_int_eq(pw_lp_parse(two, strlen(two), 0, b, &err), -1);
    ck_assert_str_eq(err.msg, "line 2, column 13: field with no value (expected key=value)");
    ck_assert_uint_eq(pw_lp_batch_len(b), 0);
    free(two);
    pw_lp_batch_free(b);
}
END_TEST

/* ---- batch storage ----------------------------------------------------- */

START_TEST(test_batch_appends_and_earlier_slices_stay_valid)
{
    struct pw_lp_batch *b = parse_ok("first,host=h0 s=\"zero\" 1", 1, 0);
    const struct pw_lp_point *first = pw_lp_batch_get(b, 0);
    const char *mptr = first->measurement.ptr;
    struct pw_err err;
    char line[256];
    /* enough messages to need many arena chunks */
    for (int i = 1; i <= 3000; i++) {
        snprintf(line, sizeof line,
                 "m%d,host=h%d,pad=%0100d s=\"%d\",i=%di %d\nx y=1", i, i, 0, i,
                 i, i);
        ck_assert_int_eq(pw_lp_parse(line, strlen(line), 0, b, &err), 2);
    }
    ck_assert_uint_eq(pw_lp_batch_len(b), 6001);
    ck_assert_ptr_eq(pw_lp_batch_get(b, 0), first);
    ck_assert_ptr_eq(first->measurement.ptr, mptr);
    ck_assert_str_is(first->measurement, "first");
    ck_assert_str_is(first->tags[0].value, "h0");
    ck_assert_str_is(first->fields[0].v.s, "zero");
    const struct pw_lp_point *p = pw_lp_batch_get(b, 2 * 1234 - 1);
    ck_assert_str_is(p->measurement, "m1234");
    ck_assert_str_is(p->fields[0].v.s, "1234");
    ck_assert_int_eq(p->fields[1].v.i, 1234);

    pw_lp_batch_reset(b);
    ck_assert_uint_eq(pw_lp_batch_len(b), 0);
    ck_assert_ptr_null(pw_lp_batch_get(b, 0));
    ck_assert_int_eq(pw_lp_parse("again v=1", 9, 0, b, &err), 1);
    ck_assert_str_is(pw_lp_batch_get(b, 0)->measurement, "again");
    pw_lp_batch_free(b);
    pw_lp_batch_free(NULL);
}
END_TEST

/* ---- round trips ------------------------------------------------------- */

START_TEST(test_round_trip_every_escape_and_type)
{
    static const char *const names[] = {
        "plain", "with space", "with,comma", "with=equals", "with\"quote",
        "back\\slash", "\\leading", "a\\,b", "a\\ b", "a\\=b", "a\\\\b",
        "\\\\x", " lead", "trail ", "=", ",", "\t\r\x01\x7f\xff", "in#ner",
    };
    static const char *const strings[] = {
        "", "\"", "\\", "\\\"", "a\\b", "x\ny\r\nz", "\"quoted\"", "end\\",
        "comma, space = equals",
    };
    size_t nn = sizeof names / sizeof names[0];
    size_t ns = sizeof strings / sizeof strings[0];
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (size_t i = 0; i < nn; i++) {
        const char *n = names[i], *o = names[(i + 1) % nn];
        const char *s = strings[i % ns];
        pw_lp_begin(&w, n);
        pw_lp_tag(&w, n, o);
        pw_lp_field_float(&w, n, -0.1);
        pw_lp_field_int(&w, o, INT64_MIN);
        pw_lp_field_uint(&w, "u", UINT64_MAX);
        pw_lp_field_bool(&w, "b", i % 2);
        pw_lp_field_string(&w, "s", s, strlen(s));
        ck_assert_int_eq(pw_lp_end(&w, (int64_t)i), 1);
    }
    struct pw_lp_batch *b = parse_ok(w.buf.data, (int)nn, -1);
    for (size_t i = 0; i < nn; i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(b, i);
        const char *n = names[i], *o = names[(i + 1) % nn];
        ck_assert_str_is(p->measurement, n);
        ck_assert_uint_eq(p->ntags, 1);
        ck_assert_str_is(p->tags[0].key, n);
        ck_assert_str_is(p->tags[0].value, o);
        ck_assert_uint_eq(p->nfields, 5);
        ck_assert_str_is(p->fields[0].key, n);
        ck_assert(same_bits(p->fields[0].v.f, -0.1));
        ck_assert_str_is(p->fields[1].key, o);
        ck_assert_int_eq(p->fields[1].v.i, INT64_MIN);
        ck_assert_uint_eq(p->fields[2].v.u, UINT64_MAX);
        ck_assert_int_eq(p->fields[3].v.b, (bool)(i % 2));
        ck_assert_int_eq(p->fields[4].type, PW_FIELD_STRING);
        ck_assert_str_is(p->fields[4].v.s, strings[i % ns]);
        ck_assert(p->has_ts);
        ck_assert_int_eq(p->ts_ns, (int64_t)i);
    }
    /* re-encoding the parsed points gives the same text */
    struct pw_lp_writer w2;
    pw_lp_writer_init(&w2);
    for (size_t i = 0; i < nn; i++)
        ck_assert_int_eq(pw_lp_write_point(&w2, pw_lp_batch_get(b, i)), 1);
    ck_assert_str_eq(w2.buf.data, w.buf.data);
    pw_lp_writer_release(&w2);
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

/* Randomized: 2000 points with random bytes (1..255 except '\n') in every
 * name, and any byte (NUL and '\n' included) in string values. What the
 * writer cannot carry is skipped by its documented rules; the test predicts
 * exactly that and checks the parse against the prediction. */

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void rand_name(char *out, size_t cap)
{
    static const char nasty[] = ",= \\\"#\r\t";
    size_t n = 1 + rnd() % (cap - 2);
    for (size_t i = 0; i < n; i++) {
        unsigned c;
        switch (rnd() % 3) {
        case 0: c = (unsigned char)nasty[rnd() % (sizeof nasty - 1)]; break;
        case 1: c = 'a' + rnd() % 26; break;
        default: c = 1 + rnd() % 255; break;
        }
        out[i] = (char)(c == '\n' ? 'n' : c);
    }
    out[n] = '\0';
}

static double rand_double(void)
{
    static const double special[] = {0.0, -0.0, 1.0, 0.1, 5e-324, 1e308, -2.5e-310};
    if (rnd() % 4 == 0)
        return special[rnd() % (sizeof special / sizeof special[0])];
    for (;;) {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isfinite(d))
            return d;
    }
}

#define NPOINTS 2000
#define NAME_CAP 14
#define SVAL_CAP 24

struct exp_field {
    char key[NAME_CAP];
    enum pw_field_type type;
    double f;
    int64_t i;
    uint64_t u;
    bool b;
    char s[SVAL_CAP];
    size_t slen;
};

struct exp_point {
    char m[NAME_CAP];
    size_t ntags, nfields;
    char tk[4][NAME_CAP], tv[4][NAME_CAP];
    struct exp_field fields[5];
    int64_t ts;
    bool has_ts;
};

static bool ends_backslash(const char *s) { return s[0] && s[strlen(s) - 1] == '\\'; }

START_TEST(test_round_trip_random_points)
{
    static struct exp_point want[NPOINTS];
    size_t nwant = 0;
    rng_state = 0x9E3779B97F4A7C15u;
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (int k = 0; k < NPOINTS; k++) {
        struct exp_point *e = &want[nwant];
        memset(e, 0, sizeof *e);
        rand_name(e->m, NAME_CAP);
        pw_lp_begin(&w, e->m);
        size_t ntags = rnd() % 5;
        for (size_t t = 0; t < ntags; t++) {
            char key[NAME_CAP], val[NAME_CAP];
            rand_name(key, NAME_CAP);
            rand_name(val, NAME_CAP);
            pw_lp_tag(&w, key, val);
            if (!ends_backslash(key) && !ends_backslash(val)) {
                strcpy(e->tk[e->ntags], key);
                strcpy(e->tv[e->ntags], val);
                e->ntags++;
            }
        }
        size_t nfields = 1 + rnd() % 5;
        for (size_t f = 0; f < nfields; f++) {
            struct exp_field *ef = &e->fields[e->nfields];
            rand_name(ef->key, NAME_CAP);
            bool kept = !ends_backslash(ef->key);
            ef->type = (enum pw_field_type)(rnd() % 5);
            switch (ef->type) {
            case PW_FIELD_FLOAT:
                ef->f = rand_double();
                pw_lp_field_float(&w, ef->key, ef->f);
                break;
            case PW_FIELD_INT:
                ef->i = (int64_t)rnd();
                pw_lp_field_int(&w, ef->key, ef->i);
                break;
            case PW_FIELD_UINT:
                ef->u = rnd();
                pw_lp_field_uint(&w, ef->key, ef->u);
                break;
            case PW_FIELD_BOOL:
                ef->b = rnd() % 2;
                pw_lp_field_bool(&w, ef->key, ef->b);
                break;
            case PW_FIELD_STRING:
                ef->slen = rnd() % SVAL_CAP;
                for (size_t j = 0; j < ef->slen; j++)
                    ef->s[j] = rnd() % 3 ? "\"\\\n\0 x"[rnd() % 6] : (char)rnd();
                pw_lp_field_string(&w, ef->key, ef->s, ef->slen);
                break;
            }
            if (kept)
                e->nfields++;
        }
        e->ts = rnd() % 3 ? (int64_t)(rnd() >> 1) : -(int64_t)(rnd() % 1000) - 1;
        e->has_ts = e->ts >= 0;
        bool written = e->m[0] != '#' && !ends_backslash(e->m) && e->nfields > 0;
        ck_assert_int_eq(pw_lp_end(&w, e->ts), written ? 1 : 0);
        if (written)
            nwant++;
    }
    ck_assert_uint_eq(w.points, nwant);
    ck_assert_uint_gt(nwant, NPOINTS / 2); /* the test tests something */

    struct pw_lp_batch *b = pw_lp_batch_new();
    struct pw_err err = {{0}};
    int n = pw_lp_parse(w.buf.data, w.buf.len, -1, b, &err);
    ck_assert_msg(n == (int)nwant, "parsed %d of %zu: %s", n, nwant, err.msg);
    for (size_t k = 0; k < nwant; k++) {
        const struct exp_point *e = &want[k];
        const struct pw_lp_point *p = pw_lp_batch_get(b, k);
        ck_assert_str_is(p->measurement, e->m);
        ck_assert_uint_eq(p->ntags, e->ntags);
        for (size_t t = 0; t < e->ntags; t++) {
            ck_assert_str_is(p->tags[t].key, e->tk[t]);
            ck_assert_str_is(p->tags[t].value, e->tv[t]);
        }
        ck_assert_uint_eq(p->nfields, e->nfields);
        for (size_t f = 0; f < e->nfields; f++) {
            const struct exp_field *ef = &e->fields[f];
            const struct pw_lp_field *pf = &p->fields[f];
            ck_assert_str_is(pf->key, ef->key);
            ck_assert_int_eq(pf->type, ef->type);
            switch (ef->type) {
            case PW_FIELD_FLOAT:
                ck_assert_msg(same_bits(pf->v.f, ef->f), "point %zu: %.17g != %.17g",
                              k, pf->v.f, ef->f);
                break;
            case PW_FIELD_INT: ck_assert_int_eq(pf->v.i, ef->i); break;
            case PW_FIELD_UINT: ck_assert_uint_eq(pf->v.u, ef->u); break;
            case PW_FIELD_BOOL: ck_assert_int_eq(pf->v.b, ef->b); break;
            case PW_FIELD_STRING:
                ck_assert_uint_eq(pf->v.s.len, ef->slen);
                ck_assert(memcmp(pf->v.s.ptr, ef->s, ef->slen) == 0);
                break;
            }
        }
        ck_assert_int_eq(p->has_ts, e->has_ts);
        ck_assert_int_eq(p->ts_ns, e->has_ts ? e->ts : -1);
    }
    /* canonical: re-encoding what was parsed gives the same bytes */
    struct pw_lp_writer w2;
    pw_lp_writer_init(&w2);
    for (size_t k = 0; k < nwant; k++)
        ck_assert_int_eq(pw_lp_write_point(&w2, pw_lp_batch_get(b, k)), 1);
    ck_assert_uint_eq(w2.buf.len, w.buf.len);
    ck_assert(memcmp(w2.buf.data, w.buf.data, w.buf.len) == 0);
    pw_lp_writer_release(&w2);
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_next_message_splits_at_lines_within_the_bound)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    for (int i = 0; i < 10; i++) {   /* ten lines of 12 bytes: "m v=10i 100\n" */
        pw_lp_begin(&w, "m");
        pw_lp_field_int(&w, "v", 10);
        pw_lp_end(&w, 100);
    }
    ck_assert_uint_eq(w.buf.len, 120);
    /* 30 bytes: two whole lines (24), never part of a third. */
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, w.buf.len, 30), 24);
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, w.buf.len, 24), 24);
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, w.buf.len, 1000), 120);
    /* A line longer than the bound goes alone. */
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, w.buf.len, 5), 12);
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, 0, 5), 0);
    pw_lp_writer_release(&w);
}
END_TEST

START_TEST(test_next_message_keeps_newlines_inside_strings)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "log\"x");   /* a quote in the measurement is literal */
    pw_lp_tag(&w, "k", "a=\"b");
    pw_lp_field_string(&w, "msg", "line one\nline \"two\"\n", 20);
    pw_lp_end(&w, 1);
    size_t first = w.buf.len;
    pw_lp_begin(&w, "m");
    pw_lp_field_int(&w, "v", 1);
    pw_lp_end(&w, 2);
    ck_assert_uint_eq(pw_lp_next_message(w.buf.data, w.buf.len, 1), first);
    struct pw_lp_batch *b = pw_lp_batch_new();
    struct pw_err err;
    ck_assert_int_eq(pw_lp_parse(w.buf.data, first, 0, b, &err), 1);
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

/* Found by the instrumented fuzzer: the splitter must read a backslash as
 * the parser does (an escape only before what it may escape), or it starts
 * a string where there is none and cuts a line in two. */
START_TEST(test_next_message_reads_backslashes_as_the_parser_does)
{
    struct pw_lp_writer w;
    pw_lp_writer_init(&w);
    pw_lp_begin(&w, "\"h\\ bm");                 /* "h\ bm: literal '\', escaped ' ' */
    pw_lp_field_string(&w, "s", "a\nb", 3);
    pw_lp_end(&w, 1);
    pw_lp_begin(&w, "m");
    pw_lp_field_int(&w, "g=\"h", 1);                /* key g="h: "\=" then a quote */
    pw_lp_end(&w, 2);
    pw_lp_begin(&w, "m");
    pw_lp_field_string(&w, "s", "x\ny", 3);
    pw_lp_end(&w, 3);
    struct pw_lp_batch *b = pw_lp_batch_new();
    struct pw_err err;
    size_t off = 0;
    int lines = 0;
    while (off < w.buf.len) {
        size_t len = pw_lp_next_message(w.buf.data + off, w.buf.len - off, 1);
        ck_assert_msg(pw_lp_parse(w.buf.data + off, len, 0, b, &err) == 1,
                      "message %d: %s", lines, err.msg);
        pw_lp_batch_reset(b);
        off += len;
        lines++;
    }
    ck_assert_int_eq(lines, 3);
    pw_lp_batch_free(b);
    pw_lp_writer_release(&w);
}
END_TEST

static Suite *lineproto_suite(void)
{
    Suite *s = suite_create("lineproto");
    TCase *tw = tcase_create("writer");
    tcase_add_test(tw, test_writer_escapes_measurement_comma_and_space);
    tcase_add_test(tw, test_next_message_reads_backslashes_as_the_parser_does);
    tcase_add_test(tw, test_writer_docs_example_exact);
    tcase_add_test(tw, test_writer_escapes_keys_tag_values_and_strings);
    tcase_add_test(tw, test_writer_every_field_type_exact);
    tcase_add_test(tw, test_writer_floats_are_shortest_round_trip);
    tcase_add_test(tw, test_writer_skips_nonfinite_and_rolls_back_empty_line);
    tcase_add_test(tw, test_writer_skips_what_line_protocol_cannot_carry);
    tcase_add_test(tw, test_writer_writes_newline_in_names_as_backslash_n);
    tcase_add_test(tw, test_writer_timestamp_only_when_nonnegative);
    tcase_add_test(tw, test_writer_begin_twice_drops_unfinished_line);
    tcase_add_test(tw, test_writer_rolls_back_lines_the_parser_would_refuse);
    tcase_add_test(tw, test_write_point_keeps_explicit_and_defaulted_timestamps);
    tcase_add_test(tw, test_next_message_splits_at_lines_within_the_bound);
    tcase_add_test(tw, test_next_message_keeps_newlines_inside_strings);
    suite_add_tcase(s, tw);

    TCase *tp = tcase_create("parser");
    tcase_add_test(tp, test_parse_docs_examples);
    tcase_add_test(tp, test_parse_docs_escaping_examples);
    tcase_add_test(tp, test_parse_every_field_type);
    tcase_add_test(tp, test_parse_multiline_with_comments_blank_lines_and_crlf);
    tcase_add_test(tp, test_parse_tolerates_extra_spaces_between_sections);
    tcase_add_test(tp, test_parse_default_timestamp_when_missing);
    tcase_add_test(tp, test_parse_string_may_span_lines);
    tcase_add_test(tp, test_parse_empty_input_gives_no_points);
    tcase_add_loop_test(tp, test_parse_malformed_is_rejected_and_leaves_batch_unchanged,
                        0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tp, test_parse_too_many_tags_or_fields);
    tcase_add_test(tp, test_parse_line_length_limit);
    tcase_add_test(tp, test_batch_appends_and_earlier_slices_stay_valid);
    suite_add_tcase(s, tp);

    TCase *tr = tcase_create("round_trip");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, test_round_trip_every_escape_and_type);
    tcase_add_test(tr, test_round_trip_random_points);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    return pw_run_suite(lineproto_suite());
}
