/* tests/unit/test_host.c — the host collector on this very host: what it
 * reports must parse as line protocol and make sense. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collectors/host.h"
#include "common/lineproto.h"

#include "tests/unit/collector_check.h"
#include "tests/unit/testing.h"

static void start(struct run *r, const char *yaml)
{
    run_start(r, &pw_host_collector, yaml);
}

/* Collects twice 200 ms apart (cpu needs two readings) and parses the
 * second collection. */
static void collect(struct run *r, int64_t ts)
{
    struct pw_err err;
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            nanosleep(&(struct timespec){0, 200000000}, NULL);
        pw_lp_writer_reset(&r->w);
        ck_assert_msg(r->c.ops->collect(&r->c, ts, &r->w, &err) == 0, "%s", err.msg);
    }
    pw_lp_batch_reset(r->batch);
    int n = pw_lp_parse(r->w.buf.data, r->w.buf.len, 0, r->batch, &err);
    ck_assert_msg(n > 0, "collector output does not parse: %s\n%s", err.msg,
                  r->w.buf.data);
    ck_assert_uint_eq((size_t)n, r->w.points);
}

static const struct pw_lp_point *find(struct run *r, const char *m)
{
    for (size_t i = 0; i < pw_lp_batch_len(r->batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r->batch, i);
        if (str_is(p->measurement, m))
            return p;
    }
    return NULL;
}

static double num(const struct pw_lp_field *f)
{
    ck_assert_ptr_nonnull(f);
    return f->type == PW_FIELD_FLOAT ? f->v.f : f->type == PW_FIELD_UINT ? (double)f->v.u : (double)f->v.i;
}

START_TEST(test_host_reports_cpu_load_memory_processes)
{
    struct run r;
    start(&r, "{}");
    collect(&r, 1700000000000000000LL);
    const struct pw_lp_point *cpu = find(&r, "cpu");
    ck_assert_ptr_nonnull(cpu);
    ck_assert_int_eq(cpu->ts_ns, 1700000000000000000LL);
    double sum = 0;
    const char *shares[] = {"usage_user", "usage_system", "usage_nice",
                            "usage_iowait", "usage_steal", "usage_idle"};
    for (int i = 0; i < 6; i++) {
        double v = num(field(cpu, shares[i]));
        ck_assert(v >= 0 && v <= 100);
        sum += v;
    }
    ck_assert_msg(fabs(sum - 100) < 1e-6, "cpu shares sum to %f", sum);
    ck_assert(num(field(find(&r, "system"), "load1")) >= 0);
    const struct pw_lp_point *mem = find(&r, "mem");
    ck_assert_ptr_nonnull(mem);
    ck_assert(num(field(mem, "total")) > 0);
    ck_assert(num(field(mem, "used")) <= num(field(mem, "total")));
    double up = num(field(mem, "used_percent"));
    ck_assert(up > 0 && up <= 100);
    const struct pw_lp_point *pr = find(&r, "processes");
    ck_assert_ptr_nonnull(pr);
    double total = num(field(pr, "total")), parts = 0;
    const char *states[] = {"running", "sleeping", "blocked", "stopped", "zombies", "idle", "unknown"};
    for (int i = 0; i < 7; i++)
        parts += num(field(pr, states[i]));
    ck_assert(total >= 1);   /* at least this test */
    ck_assert_msg(parts == total, "states sum to %f of %f", parts, total);
    finish(&r);
}
END_TEST

START_TEST(test_host_switches_and_ignore_patterns_apply)
{
    struct run r;
    start(&r, "{cpu: false, disk: false, diskio: false, processes: false, "
              "ignore_interfaces: ['*']}");
    collect(&r, 1);
    ck_assert_ptr_null(find(&r, "cpu"));
    ck_assert_ptr_null(find(&r, "disk"));
    ck_assert_ptr_null(find(&r, "diskio"));
    ck_assert_ptr_null(find(&r, "net"));
    ck_assert_ptr_null(find(&r, "processes"));
    ck_assert_ptr_nonnull(find(&r, "mem"));
    ck_assert_ptr_nonnull(find(&r, "system"));
    finish(&r);
}
END_TEST

START_TEST(test_host_disk_points_are_real_filesystems)
{
    struct run r;
    start(&r, "{}");
    collect(&r, 1);
    for (size_t i = 0; i < pw_lp_batch_len(r.batch); i++) {
        const struct pw_lp_point *p = pw_lp_batch_get(r.batch, i);
        if (p->measurement.len != 4 || memcmp(p->measurement.ptr, "disk", 4) != 0)
            continue;
        ck_assert_uint_eq(p->ntags, 3);   /* device, fstype, path */
        const struct pw_str *fstype = &p->tags[1].value;
        ck_assert_msg(!(fstype->len == 5 && memcmp(fstype->ptr, "tmpfs", 5) == 0) &&
                      !(fstype->len == 6 && memcmp(fstype->ptr, "cgroup", 6) == 0),
                      "pseudo filesystem reported");
        double used = num(field(p, "used_percent"));
        ck_assert(used >= 0 && used <= 100);
        ck_assert(num(field(p, "total")) > 0);
    }
    finish(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_host_reports_cpu_load_memory_processes);
    tcase_add_test(tc, test_host_switches_and_ignore_patterns_apply);
    tcase_add_test(tc, test_host_disk_points_are_real_filesystems);
    suite_add_tcase(s, tc);
    return pw_run_suite(s);
}
