/* collectors/host.c — host metrics through libstatgrab.
 *
 * Measurements and field names follow Telegraf's inputs (cpu, system, mem,
 * swap, disk, diskio, net, processes), so that dashboards and queries people
 * already have keep working. Counters (bytes, packets, errors) are sent
 * cumulative, as Telegraf and Prometheus do; rates are the consumer's job and
 * survive a lost message. CPU percentages need two readings, so the first
 * tick sends no cpu point.
 *
 * libstatgrab has no CPU steal time and no per-interface drop counters; on
 * Linux they are read from /proc/stat and /proc/net/dev (left out elsewhere).
 * Process counts on Linux come from /proc/PID/stat directly (see
 * count_processes_proc for why).
 * The _r (reentrant) calls are used so that no state hides in the library. */
#include "collectors/host.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <statgrab.h>

struct host_config {
    struct pw_collector_common common;
    bool cpu, load, memory, disk, diskio, net, processes;
    struct pw_str_list ignore_fs_types;
    struct pw_str_list ignore_mounts;
    struct pw_str_list ignore_disks;
    struct pw_str_list ignore_interfaces;
};

static const struct pw_option host_options[] = {
    PW_COLLECTOR_COMMON_OPTIONS(struct host_config, "true", "10s"),
    {"cpu", PW_OPT_BOOL, offsetof(struct host_config, cpu), "true", false, 0, 0,
     NULL, "CPU time shares of the whole host (user, system, nice, iowait, steal, idle)."},
    {"load", PW_OPT_BOOL, offsetof(struct host_config, load), "true", false, 0, 0,
     NULL, "Load averages over 1, 5 and 15 minutes."},
    {"memory", PW_OPT_BOOL, offsetof(struct host_config, memory), "true", false, 0,
     0, NULL, "Memory and swap use."},
    {"disk", PW_OPT_BOOL, offsetof(struct host_config, disk), "true", false, 0, 0,
     NULL, "Per-filesystem space and inodes."},
    {"diskio", PW_OPT_BOOL, offsetof(struct host_config, diskio), "true", false, 0,
     0, NULL, "Per-disk bytes read and written."},
    {"net", PW_OPT_BOOL, offsetof(struct host_config, net), "true", false, 0, 0,
     NULL, "Per-interface bytes, packets, errors and drops."},
    {"processes", PW_OPT_BOOL, offsetof(struct host_config, processes), "true",
     false, 0, 0, NULL, "Process counts by state."},
    {"ignore_fs_types", PW_OPT_STRING_LIST,
     offsetof(struct host_config, ignore_fs_types), NULL, false, 0, 0, NULL,
     "Filesystem types left out, in addition to pseudo filesystems (tmpfs, "
     "proc, sysfs, cgroup, overlay, squashfs, ...), which are always left out."},
    {"ignore_mounts", PW_OPT_STRING_LIST, offsetof(struct host_config, ignore_mounts),
     NULL, false, 0, 0, NULL, "Mount point patterns (fnmatch) left out."},
    {"ignore_disks", PW_OPT_STRING_LIST, offsetof(struct host_config, ignore_disks),
     NULL, false, 0, 0, NULL,
     "Disk name patterns (fnmatch) left out, in addition to loop*, ram* and zram*."},
    {"ignore_interfaces", PW_OPT_STRING_LIST,
     offsetof(struct host_config, ignore_interfaces), NULL, false, 0, 0, NULL,
     "Interface name patterns (fnmatch) left out, in addition to lo."},
    {0},
};

static const char *const pseudo_fs_types[] = {
    "tmpfs", "devtmpfs", "devfs", "devpts", "proc", "sysfs", "cgroup",
    "cgroup2", "overlay", "aufs", "squashfs", "iso9660", "securityfs",
    "debugfs", "tracefs", "pstore", "bpf", "autofs", "mqueue", "hugetlbfs",
    "fusectl", "configfs", "binfmt_misc", "nsfs", "ramfs", "rpc_pipefs", NULL,
};
static const char *const default_ignored_disks[] = {"loop*", "ram*", "zram*", NULL};
static const char *const default_ignored_ifaces[] = {"lo", NULL};

struct cpu_ticks {
    unsigned long long user, kernel, nice, idle, iowait, steal;
    bool valid;
};

struct host_state {
    struct cpu_ticks last;
};

static bool matches_any(const char *name, const char *const *defaults,
                        const struct pw_str_list *extra, bool glob)
{
    for (size_t i = 0; defaults && defaults[i]; i++)
        if (glob ? fnmatch(defaults[i], name, 0) == 0 : strcmp(defaults[i], name) == 0)
            return true;
    for (size_t i = 0; i < extra->len; i++)
        if (glob ? fnmatch(extra->items[i], name, 0) == 0
                 : strcmp(extra->items[i], name) == 0)
            return true;
    return false;
}

static int host_start(struct pw_collector *c, struct pw_err *err)
{
    /* sg_init is idempotent and cheap; ignore_init_errors=1 lets it start on
     * hosts where some component (e.g. utmp) is unreadable. */
    if (sg_init(1) != SG_ERROR_NONE)
        return pw_err_set(err, "host: libstatgrab failed to initialise: %s",
                          sg_str_error(sg_get_error()));
    /* Tell libstatgrab which filesystem types to look at, so that it does
     * not statfs every cgroup and proc mount only for us to drop them. */
    const struct host_config *cf = c->config;
    size_t n = 0;
    const char **valid = sg_get_valid_filesystems(&n);
    const char **keep = calloc(n + 1, sizeof *keep);
    if (!keep)
        return pw_err_set(err, "host: out of memory");
    size_t k = 0;
    for (size_t i = 0; valid && i < n; i++)
        if (!matches_any(valid[i], pseudo_fs_types, &cf->ignore_fs_types, false))
            keep[k++] = valid[i];
    keep[k] = NULL;
    if (k > 0)
        sg_set_valid_filesystems(keep);
    free(keep);

    struct host_state *st = calloc(1, sizeof *st);
    if (!st)
        return pw_err_set(err, "host: out of memory");
    c->state = st;
    return 0;
}

static void host_stop(struct pw_collector *c)
{
    free(c->state);
    c->state = NULL;
}

/* Steal ticks from the aggregate line of /proc/stat (8th value). */
static unsigned long long read_steal_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    return n == 8 ? v[7] : 0;
}

static double pct(unsigned long long part, unsigned long long whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static unsigned long long delta(unsigned long long now, unsigned long long then)
{
    return now >= then ? now - then : 0;   /* counters never go back; a reset reads as 0 */
}

static void collect_cpu(struct host_state *st, int64_t ts, struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_cpu_stats *cs = sg_get_cpu_stats_r(&n);
    if (!cs || n == 0)
        return;
    struct cpu_ticks now = {cs->user, cs->kernel, cs->nice, cs->idle, cs->iowait,
                            read_steal_ticks(), true};
    sg_free_stats_buf(cs);
    struct cpu_ticks last = st->last;
    st->last = now;
    if (!last.valid)
        return;
    /* The whole is the sum of the parts we report, as Telegraf computes it,
     * not libstatgrab's total: iowait may go backwards (proc(5)), and a part
     * clamped at 0 against a total that shrank would push the shares past
     * 100 %. */
    unsigned long long d_user = delta(now.user, last.user),
                       d_kernel = delta(now.kernel, last.kernel),
                       d_nice = delta(now.nice, last.nice),
                       d_iowait = delta(now.iowait, last.iowait),
                       d_steal = delta(now.steal, last.steal),
                       d_idle = delta(now.idle, last.idle);
    unsigned long long total = d_user + d_kernel + d_nice + d_iowait + d_steal + d_idle;
    if (total == 0)
        return;
    pw_lp_begin(w, "cpu");
    pw_lp_tag(w, "cpu", "cpu-total");
    pw_lp_field_float(w, "usage_user", pct(d_user, total));
    pw_lp_field_float(w, "usage_system", pct(d_kernel, total));
    pw_lp_field_float(w, "usage_nice", pct(d_nice, total));
    pw_lp_field_float(w, "usage_iowait", pct(d_iowait, total));
    pw_lp_field_float(w, "usage_steal", pct(d_steal, total));
    pw_lp_field_float(w, "usage_idle", pct(d_idle, total));
    pw_lp_end(w, ts);
}

static void collect_load(int64_t ts, struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_load_stats *ls = sg_get_load_stats_r(&n);
    if (!ls || n == 0)
        return;
    pw_lp_begin(w, "system");
    pw_lp_field_float(w, "load1", ls->min1);
    pw_lp_field_float(w, "load5", ls->min5);
    pw_lp_field_float(w, "load15", ls->min15);
    pw_lp_end(w, ts);
    sg_free_stats_buf(ls);
}

static void collect_memory(int64_t ts, struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_mem_stats *ms = sg_get_mem_stats_r(&n);
    if (ms && n > 0) {
        pw_lp_begin(w, "mem");
        pw_lp_field_uint(w, "total", ms->total);
        pw_lp_field_uint(w, "used", ms->used);
        pw_lp_field_uint(w, "free", ms->free);
        pw_lp_field_uint(w, "cached", ms->cache);
        pw_lp_field_float(w, "used_percent", pct(ms->used, ms->total));
        pw_lp_end(w, ts);
    }
    sg_free_stats_buf(ms);
    sg_swap_stats *ss = sg_get_swap_stats_r(&n);
    if (ss && n > 0) {
        pw_lp_begin(w, "swap");
        pw_lp_field_uint(w, "total", ss->total);
        pw_lp_field_uint(w, "used", ss->used);
        pw_lp_field_uint(w, "free", ss->free);
        pw_lp_field_float(w, "used_percent", pct(ss->used, ss->total));
        pw_lp_end(w, ts);
    }
    sg_free_stats_buf(ss);
}

static void collect_disk(const struct host_config *cf, int64_t ts,
                         struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_fs_stats *fs = sg_get_fs_stats_r(&n);
    if (!fs)
        return;
    for (size_t i = 0; i < n; i++) {
        const sg_fs_stats *f = &fs[i];
        if (f->size == 0 || !f->mnt_point || !f->fs_type ||
            matches_any(f->fs_type, pseudo_fs_types, &cf->ignore_fs_types, false) ||
            matches_any(f->mnt_point, NULL, &cf->ignore_mounts, true))
            continue;
        /* A mount point listed twice (bind mounts, mount namespaces) is
         * reported once. */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = fs[j].mnt_point && strcmp(fs[j].mnt_point, f->mnt_point) == 0 &&
                   fs[j].size != 0;
        if (seen)
            continue;
        pw_lp_begin(w, "disk");
        pw_lp_tag(w, "device", f->device_name);
        pw_lp_tag(w, "fstype", f->fs_type);
        pw_lp_tag(w, "path", f->mnt_point);
        pw_lp_field_uint(w, "total", f->size);
        pw_lp_field_uint(w, "used", f->used);
        pw_lp_field_uint(w, "free", f->avail);
        /* As df and Telegraf: the share of what non-root users can fill. */
        pw_lp_field_float(w, "used_percent", pct(f->used, f->used + f->avail));
        pw_lp_field_uint(w, "inodes_total", f->total_inodes);
        pw_lp_field_uint(w, "inodes_used", f->used_inodes);
        pw_lp_field_uint(w, "inodes_free", f->free_inodes);
        pw_lp_end(w, ts);
    }
    sg_free_stats_buf(fs);
}

static void collect_diskio(const struct host_config *cf, int64_t ts,
                           struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_disk_io_stats *ds = sg_get_disk_io_stats_r(&n);
    if (!ds)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!ds[i].disk_name ||
            matches_any(ds[i].disk_name, default_ignored_disks, &cf->ignore_disks, true))
            continue;
        pw_lp_begin(w, "diskio");
        pw_lp_tag(w, "name", ds[i].disk_name);
        pw_lp_field_uint(w, "read_bytes", ds[i].read_bytes);
        pw_lp_field_uint(w, "write_bytes", ds[i].write_bytes);
        pw_lp_end(w, ts);
    }
    sg_free_stats_buf(ds);
}

/* Drops per interface from /proc/net/dev: receive drop is the 4th value
 * after the name, transmit drop the 12th. Returns false when unknown. */
static bool read_drops(const char *iface, unsigned long long *in,
                       unsigned long long *out)
{
    FILE *f = fopen("/proc/net/dev", "r");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        char *name = line;
        while (*name == ' ')
            name++;
        if (strcmp(name, iface) != 0)
            continue;
        unsigned long long v[12];
        if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
                   &v[9], &v[10], &v[11]) == 12) {
            *in = v[3];
            *out = v[11];
            found = true;
        }
    }
    fclose(f);
    return found;
}

static void collect_net(const struct host_config *cf, int64_t ts,
                        struct pw_lp_writer *w)
{
    size_t n = 0;
    sg_network_io_stats *ns = sg_get_network_io_stats_r(&n);
    if (!ns)
        return;
    for (size_t i = 0; i < n; i++) {
        const sg_network_io_stats *s = &ns[i];
        if (!s->interface_name ||
            matches_any(s->interface_name, default_ignored_ifaces,
                        &cf->ignore_interfaces, true))
            continue;
        pw_lp_begin(w, "net");
        pw_lp_tag(w, "interface", s->interface_name);
        pw_lp_field_uint(w, "bytes_sent", s->tx);
        pw_lp_field_uint(w, "bytes_recv", s->rx);
        pw_lp_field_uint(w, "packets_sent", s->opackets);
        pw_lp_field_uint(w, "packets_recv", s->ipackets);
        pw_lp_field_uint(w, "err_in", s->ierrors);
        pw_lp_field_uint(w, "err_out", s->oerrors);
        unsigned long long din, dout;
        if (read_drops(s->interface_name, &din, &dout)) {
            pw_lp_field_uint(w, "drop_in", din);
            pw_lp_field_uint(w, "drop_out", dout);
        }
        pw_lp_end(w, ts);
    }
    sg_free_stats_buf(ns);
}

struct proc_counts {
    unsigned long long total, running, sleeping, blocked, stopped, zombies,
        idle, unknown;
};

/* On Linux, the state letter of /proc/PID/stat is all we need; libstatgrab's
 * process walk reads several files per process for data we throw away and
 * costs ten times as much (measured with bench/bench-collector). Returns
 * false where /proc is not there, and the caller falls back to libstatgrab. */
static bool count_processes_proc(struct proc_counts *pc)
{
    DIR *d = opendir("/proc");
    if (!d)
        return false;
    memset(pc, 0, sizeof *pc);
    struct dirent *e;
    char path[300], buf[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;   /* it exited meanwhile */
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        /* "pid (comm) S ...": comm may hold spaces and parentheses, so the
         * state follows the last ')'. */
        const char *rp = strrchr(buf, ')');
        char st = rp && rp[1] == ' ' ? rp[2] : '?';
        pc->total++;
        switch (st) {
        case 'R': pc->running++; break;
        case 'S': pc->sleeping++; break;
        case 'D': pc->blocked++; break;
        case 'T': case 't': pc->stopped++; break;
        case 'Z': pc->zombies++; break;
        case 'I': pc->idle++; break;
        default: pc->unknown++; break;
        }
    }
    closedir(d);
    return true;
}

static void collect_processes(int64_t ts, struct pw_lp_writer *w)
{
    struct proc_counts pc;
    if (!count_processes_proc(&pc)) {
        /* The buffer of sg_get_process_count_of belongs to libstatgrab. */
        sg_process_count *sg = sg_get_process_count_of(sg_entire_process_count);
        if (!sg)
            return;
        pc = (struct proc_counts){sg->total, sg->running, sg->sleeping, 0,
                                  sg->stopped, sg->zombie, 0, sg->unknown};
    }
    pw_lp_begin(w, "processes");
    pw_lp_field_uint(w, "total", pc.total);
    pw_lp_field_uint(w, "running", pc.running);
    pw_lp_field_uint(w, "sleeping", pc.sleeping);
    pw_lp_field_uint(w, "blocked", pc.blocked);
    pw_lp_field_uint(w, "stopped", pc.stopped);
    pw_lp_field_uint(w, "zombies", pc.zombies);
    pw_lp_field_uint(w, "idle", pc.idle);
    pw_lp_field_uint(w, "unknown", pc.unknown);
    pw_lp_end(w, ts);
}

static int host_collect(struct pw_collector *c, int64_t ts_ns,
                        struct pw_lp_writer *out, struct pw_err *err)
{
    const struct host_config *cf = c->config;
    struct host_state *st = c->state;
    size_t before = out->points;
    if (cf->cpu)
        collect_cpu(st, ts_ns, out);
    if (cf->load)
        collect_load(ts_ns, out);
    if (cf->memory)
        collect_memory(ts_ns, out);
    if (cf->disk)
        collect_disk(cf, ts_ns, out);
    if (cf->diskio)
        collect_diskio(cf, ts_ns, out);
    if (cf->net)
        collect_net(cf, ts_ns, out);
    if (cf->processes)
        collect_processes(ts_ns, out);
    if (out->buf.oom)
        return pw_err_set(err, "host: out of memory while encoding");
    if (out->points == before && (cf->load || cf->memory))
        return pw_err_set(err, "host: libstatgrab returned nothing: %s",
                          sg_str_error(sg_get_error()));
    return 0;
}

const struct pw_collector_ops pw_host_collector = {
    .name = "host",
    .options = host_options,
    .config_size = sizeof(struct host_config),
    .start = host_start,
    .collect = host_collect,
    .stop = host_stop,
};
