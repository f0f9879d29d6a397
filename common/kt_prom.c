#include "kt_prom.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

const double kt_hist_latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                         0.25,  0.5,    1,     2.5,  5,     10,   30};
const size_t kt_hist_latency_n = sizeof(kt_hist_latency_bounds) / sizeof(kt_hist_latency_bounds[0]);

void kt_prom_family(struct kt_buf *b, const char *name, const char *type, const char *help)
{
    kt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void kt_prom_u64(struct kt_buf *b, const char *name, const char *labels, uint64_t v)
{
    if (labels != NULL && labels[0] != '\0')
        kt_buf_printf(b, "%s{%s} %" PRIu64 "\n", name, labels, v);
    else
        kt_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

void kt_prom_f64(struct kt_buf *b, const char *name, const char *labels, double v)
{
    if (labels != NULL && labels[0] != '\0')
        kt_buf_printf(b, "%s{%s} %.17g\n", name, labels, v);
    else
        kt_buf_printf(b, "%s %.17g\n", name, v);
}

const char *kt_prom_label(const char *value, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = value; *p != '\0'; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = esc ? 2 : 1;
        if (o + need >= cap)
            break;
        if (esc) {
            memcpy(out + o, esc, 2);
        } else {
            out[o] = *p;
        }
        o += need;
    }
    out[o] = '\0';
    return out;
}

void kt_hist_init(struct kt_hist *h, const double *bounds, size_t n)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n < KT_HIST_BUCKETS_MAX ? n : KT_HIST_BUCKETS_MAX;
}

void kt_hist_observe(struct kt_hist *h, double v)
{
    size_t i = 0;
    while (i < h->n && v > h->bounds[i])
        i++;
    if (i < h->n)
        h->counts[i]++;
    else
        h->over++;
    h->sum += v;
}

void kt_prom_hist(struct kt_buf *b, const char *name, const char *labels, const struct kt_hist *h)
{
    const char *sep = labels != NULL && labels[0] != '\0' ? "," : "";
    const char *l = labels != NULL ? labels : "";
    uint64_t cum = 0;
    for (size_t i = 0; i < h->n; i++) {
        cum += h->counts[i];
        kt_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, l, sep, h->bounds[i], cum);
    }
    cum += h->over;
    kt_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, l, sep, cum);
    char n2[160];
    snprintf(n2, sizeof(n2), "%s_sum", name);
    kt_prom_f64(b, n2, labels, h->sum);
    snprintf(n2, sizeof(n2), "%s_count", name);
    kt_prom_u64(b, n2, labels, cum);
}

/* Fields 14, 15 (utime, stime, in clock ticks), 22 (starttime, ticks after boot) and 23
 * (vsize, bytes) of /proc/self/stat, after the command name, which may hold spaces and is
 * closed by the last ')'. */
static int read_stat(double *cpu_s, double *start_s, double *vsize)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -1;
    unsigned long long utime, stime, start, vs;
    /* After ")": state (3), then fields 4..13, utime (14), stime (15), 16..21, start (22),
     * vsize (23). */
    if (sscanf(p + 2,
               "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
               "%llu %llu",
               &utime, &stime, &start, &vs) != 4)
        return -1;
    double tick = (double)sysconf(_SC_CLK_TCK);
    *cpu_s = (double)(utime + stime) / tick;
    *vsize = (double)vs;
    /* starttime counts from boot; boot time is in /proc/stat's btime. */
    f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long btime = 0;
    char line[256];
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    *start_s = (double)btime + (double)start / tick;
    return 0;
}

double kt_prom_start_time(void)
{
    double cpu, start, vsize;
    return read_stat(&cpu, &start, &vsize) == 0 ? start : 0;
}

void kt_prom_process(struct kt_buf *b)
{
    double cpu, start, vsize;
    if (read_stat(&cpu, &start, &vsize) == 0) {
        kt_prom_family(b, "process_cpu_seconds_total", "counter",
                       "User and system CPU time spent, in seconds.");
        kt_prom_f64(b, "process_cpu_seconds_total", NULL, cpu);
        kt_prom_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
        kt_prom_f64(b, "process_virtual_memory_bytes", NULL, vsize);
        kt_prom_family(b, "process_start_time_seconds", "gauge",
                       "Start time of the process since the Unix epoch, in seconds.");
        kt_prom_f64(b, "process_start_time_seconds", NULL, start);
    }
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages_total, pages_rss;
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &pages_total, &pages_rss) == 2) {
            kt_prom_family(b, "process_resident_memory_bytes", "gauge",
                           "Resident memory size in bytes.");
            kt_prom_f64(b, "process_resident_memory_bytes", NULL,
                        (double)pages_rss * (double)sysconf(_SC_PAGESIZE));
        }
        fclose(f);
    }
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        uint64_t fds = 0;
        for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        /* The directory's own descriptor was open while counting. */
        kt_prom_family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
        kt_prom_u64(b, "process_open_fds", NULL, fds > 0 ? fds - 1 : 0);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        kt_prom_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        kt_prom_f64(b, "process_max_fds", NULL,
                    rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur);
    }
}
