/* Load for bench/record-bench.sh: writes `rate` trace_marker lines per second for `seconds`,
 * split over one thread per CPU (each pinned), in 1 ms batches. Prints the lines written and
 * the rate achieved: a write costs a syscall, so very high rates may not be reached. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *marker;
static double rate_per_thread;
static double seconds;
static long written[256];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run(void *arg) {
    long cpu = (long)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    int fd = open(marker, O_WRONLY | O_CLOEXEC);
    if (fd < 0) { perror(marker); exit(2); }
    char line[128];
    double start = now(), end = start + seconds;
    long n = 0;
    for (;;) {
        double t = now();
        if (t >= end) break;
        long due = (long)((t - start) * rate_per_thread);
        /* When writes cannot keep up, stop at the end time anyway: the rate reached is the answer. */
        while (n < due && (n % 1024 != 0 || now() < end)) {
            int len = snprintf(line, sizeof line, "odt1 pickup read msg=%ld oid=%ld off=0 len=4096\n", n, cpu);
            if (write(fd, line, len) != len) { perror("write"); exit(2); }
            n++;
        }
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    close(fd);
    written[cpu] = n;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s trace_marker events-per-second seconds\n", argv[0]); return 2; }
    marker = argv[1];
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus > 256) cpus = 256;
    rate_per_thread = atof(argv[2]) / cpus;
    seconds = atof(argv[3]);
    pthread_t threads[256];
    double start = now();
    for (long c = 0; c < cpus; c++) pthread_create(&threads[c], NULL, run, (void *)c);
    long total = 0;
    for (long c = 0; c < cpus; c++) { pthread_join(threads[c], NULL); total += written[c]; }
    printf("%ld %.0f\n", total, total / (now() - start));
    return 0;
}
