// A small fanotify pre-content daemon for the 7.3 VM test: it stands in for a foreign daemon
// (erofs-utils' mount.erofs, Nydus v3) filling a sparse EROFS image file on demand. It writes no
// trace markers; what it did is only in its own log, which vm/check-fanotify holds the report to.
// Written from the fanotify(7)/fanotify_init(2)/fanotify_mark(2) pages and the 6.14+ uapi.
//
//   fanotify-daemon [--delay N,MS] [--deny N,ERRNO] [--never N] [--threads T] SPARSE SOURCE READY LOG
//
// SPARSE is the image file to mark (sparse, on ext4/xfs/btrfs); SOURCE the full image it is filled
// from; READY is created once the mark is placed (mount after that); LOG gets one line per event.
// Faults, counted over events in the order the daemon read them (seq, from 1):
//   --delay N,MS    every Nth event is answered MS milliseconds late (after its range is written)
//   --deny N,ERRNO  every Nth event is answered FAN_DENY with ERRNO (a number or EIO, EPERM,
//                   EBUSY, EAGAIN, ENOSPC, EDQUOT, ETXTBSY), nothing written
//   --never N       the Nth event is never answered (its fd is held open until the daemon exits)
//   --threads T     T threads read the group's fd (default 1)
// SIGTERM/SIGINT stop it; closing the group lets the kernel allow what is still pending.
//
// Log format (LOG, appended; one write(2) per line, so threads do not interleave):
//   # ...                               comments: start (pid, image dev/ino/size, options), stop
//   event seq=S pid=P offset=O count=C recv_ns=R answer_ns=A response=RESP errno=E wrote=W
// S: the event's order of reading (1-based); P: fanotify's `pid` (the reader's tgid);
// O, C: the FAN_EVENT_INFO_TYPE_RANGE record (offset=-1 count=0 if an event had none);
// R: CLOCK_MONOTONIC ns when the daemon read the event; A: CLOCK_MONOTONIC ns when its answer was
// written (- for never); RESP: allow (the range was written, then FAN_ALLOW), present (the range
// was already data, per SEEK_DATA/SEEK_HOLE: FAN_ALLOW at once, nothing written), deny (FAN_DENY
// with errno E), never (held, no answer); E: the deny errno, 0 otherwise; W: bytes pwritten.
// Lines are written when the answer is (never: when held), so they are not sorted by seq.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

// Debian 12's linux-libc-dev (6.1) predates pre-content events (6.14): the uapi values, here.
#ifndef FAN_PRE_ACCESS
#define FAN_PRE_ACCESS 0x00100000
#endif
#ifndef FAN_EVENT_INFO_TYPE_RANGE
#define FAN_EVENT_INFO_TYPE_RANGE 6
#endif
#ifndef FAN_DENY_ERRNO
#define FAN_DENY_ERRNO(err) (FAN_DENY | ((((uint32_t)(err)) & 0xff) << 24))
#endif
struct range_info {   // struct fanotify_event_info_range
    struct fanotify_event_info_header hdr;
    uint32_t pad;
    uint64_t offset;
    uint64_t count;
};

#define BUF_SIZE (1 << 20)
#define MAX_THREADS 16

static int group = -1, source = -1, logfd = -1;
static off_t source_size;
static long delay_every, delay_ms, deny_every, deny_errno, never_nth;
static atomic_long seq_counter, n_events, n_allow, n_present, n_deny, n_never, n_bytes;
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void log_line(const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2) n = sizeof line - 2;
    line[n++] = '\n';
    if (write(logfd, line, n) != n) perror("fanotify-daemon: log");
}

static int parse_errno(const char *s) {
    static const struct { const char *name; int value; } names[] = {
        {"EIO", EIO}, {"EPERM", EPERM}, {"EBUSY", EBUSY}, {"EAGAIN", EAGAIN},
        {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"ETXTBSY", ETXTBSY}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) return names[i].value;
    char *end;
    long v = strtol(s, &end, 10);
    return (*s && !*end && v > 0 && v < 256) ? (int)v : -1;
}

// True when [off, off+count) (clipped to the file) is all data already: nothing to fetch.
static int range_present(int fd, uint64_t off, uint64_t count) {
    struct stat st;
    if (fstat(fd, &st) < 0 || (off_t)off >= st.st_size) return 0;
    uint64_t end = off + count < (uint64_t)st.st_size ? off + count : (uint64_t)st.st_size;
    off_t data = lseek(fd, off, SEEK_DATA);
    if (data != (off_t)off) return 0;
    off_t hole = lseek(fd, off, SEEK_HOLE);
    return hole >= (off_t)end;
}

// Copies [off, off+count) from SOURCE into the event's fd (I/O through it raises no events).
static long long fill(int fd, uint64_t off, uint64_t count, char *buf) {
    long long wrote = 0;
    while (count > 0 && (off_t)off < source_size) {
        size_t chunk = count < BUF_SIZE ? count : BUF_SIZE;
        if ((off_t)(off + chunk) > source_size) chunk = source_size - off;
        ssize_t got = pread(source, buf, chunk, off);
        if (got <= 0) { fprintf(stderr, "fanotify-daemon: pread source at %llu: %s\n", (unsigned long long)off, got < 0 ? strerror(errno) : "EOF"); break; }
        ssize_t put = pwrite(fd, buf, got, off);
        if (put != got) { fprintf(stderr, "fanotify-daemon: pwrite at %llu: %s\n", (unsigned long long)off, put < 0 ? strerror(errno) : "short"); if (put > 0) wrote += put; break; }
        wrote += put;
        off += put;
        count -= put;
    }
    return wrote;
}

static int answer(int fd, uint32_t response) {
    struct fanotify_response r = { .fd = fd, .response = response };
    if (write(group, &r, sizeof r) != sizeof r) {
        fprintf(stderr, "fanotify-daemon: answer fd %d (0x%x): %s\n", fd, response, strerror(errno));
        return -1;
    }
    return 0;
}

static void handle(const struct fanotify_event_metadata *meta, char *buf) {
    long long recv = now_ns();
    if (meta->mask & FAN_Q_OVERFLOW) { log_line("# overflow: events were lost"); return; }
    long seq = atomic_fetch_add(&seq_counter, 1) + 1;
    atomic_fetch_add(&n_events, 1);
    long long off = -1;
    unsigned long long count = 0;
    for (size_t pos = meta->metadata_len; pos + sizeof(struct fanotify_event_info_header) <= meta->event_len;) {
        const struct fanotify_event_info_header *hdr = (const void *)((const char *)meta + pos);
        if (hdr->len == 0) break;
        if (hdr->info_type == FAN_EVENT_INFO_TYPE_RANGE && hdr->len >= sizeof(struct range_info)) {
            const struct range_info *r = (const void *)hdr;
            off = (long long)r->offset;
            count = r->count;
        }
        pos += hdr->len;
    }
    int fd = meta->fd;
    const char *resp = "allow";
    int err = 0;
    long long wrote = 0;
    if (never_nth && seq == never_nth) {
        // Held: the fd stays open (a closed fd's number could be reused by a later event, whose
        // answer would then find this one) and no answer is ever written.
        atomic_fetch_add(&n_never, 1);
        log_line("event seq=%ld pid=%d offset=%lld count=%llu recv_ns=%lld answer_ns=- response=never errno=0 wrote=0",
                 seq, meta->pid, off, count, recv);
        return;
    }
    if (deny_every && seq % deny_every == 0) {
        resp = "deny";
        err = (int)deny_errno;
    } else if (off >= 0 && range_present(fd, off, count)) {
        resp = "present";
    } else if (off >= 0) {
        wrote = fill(fd, off, count, buf);
    }
    if (delay_every && seq % delay_every == 0) {
        struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    }
    uint32_t response = err ? FAN_DENY_ERRNO(err) : FAN_ALLOW;
    if (answer(fd, response) < 0 && err) {
        // A kernel without FAN_DENY_ERRNO refuses the errno: a plain deny (EPERM) then.
        err = EPERM;
        answer(fd, FAN_DENY);
    }
    long long answered = now_ns();
    close(fd);
    if (err) atomic_fetch_add(&n_deny, 1);
    else if (!strcmp(resp, "present")) atomic_fetch_add(&n_present, 1);
    else atomic_fetch_add(&n_allow, 1);
    atomic_fetch_add(&n_bytes, wrote);
    log_line("event seq=%ld pid=%d offset=%lld count=%llu recv_ns=%lld answer_ns=%lld response=%s errno=%d wrote=%lld",
             seq, meta->pid, off, count, recv, answered, resp, err, wrote);
}

static void *reader(void *arg) {
    (void)arg;
    static _Thread_local char events[65536] __attribute__((aligned(8)));
    char *buf = malloc(BUF_SIZE);
    if (!buf) { perror("fanotify-daemon: malloc"); return NULL; }
    while (!stop) {
        struct pollfd pfd = { .fd = group, .events = POLLIN };
        int p = poll(&pfd, 1, 200);   // wakes now and then to see `stop`
        if (p < 0 && errno != EINTR) { perror("fanotify-daemon: poll"); break; }
        if (p <= 0) continue;
        ssize_t n = read(group, events, sizeof events);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;   // another thread took it
            perror("fanotify-daemon: read");
            break;
        }
        const struct fanotify_event_metadata *meta = (const void *)events;
        for (; FAN_EVENT_OK(meta, n); meta = FAN_EVENT_NEXT(meta, n)) {
            if (meta->vers != FANOTIFY_METADATA_VERSION) { fprintf(stderr, "fanotify-daemon: metadata version %d\n", meta->vers); continue; }
            handle(meta, buf);
        }
    }
    free(buf);
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: fanotify-daemon [--delay N,MS] [--deny N,ERRNO] [--never N] [--threads T] SPARSE SOURCE READY LOG\n");
    exit(2);
}

int main(int argc, char **argv) {
    long threads = 1;
    int i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (i + 1 >= argc) usage();
        const char *opt = argv[i], *val = argv[i + 1];
        char *comma = strchr(val, ',');
        if (!strcmp(opt, "--delay") && comma) {
            delay_every = atol(val); delay_ms = atol(comma + 1);
            if (delay_every <= 0 || delay_ms < 0) { fprintf(stderr, "fanotify-daemon: bad --delay %s (N,MS)\n", val); return 2; }
        } else if (!strcmp(opt, "--deny") && comma) {
            deny_every = atol(val); deny_errno = parse_errno(comma + 1);
            if (deny_every <= 0 || deny_errno <= 0) { fprintf(stderr, "fanotify-daemon: bad --deny %s (N,ERRNO)\n", val); return 2; }
        } else if (!strcmp(opt, "--never")) {
            never_nth = atol(val);
            if (never_nth <= 0) { fprintf(stderr, "fanotify-daemon: bad --never %s\n", val); return 2; }
        } else if (!strcmp(opt, "--threads")) {
            threads = atol(val);
            if (threads < 1 || threads > MAX_THREADS) { fprintf(stderr, "fanotify-daemon: bad --threads %s (1-%d)\n", val, MAX_THREADS); return 2; }
        } else usage();
    }
    if (argc - i != 4) usage();
    const char *sparse = argv[i], *src = argv[i + 1], *ready = argv[i + 2], *log = argv[i + 3];
    source = open(src, O_RDONLY);
    if (source < 0) { fprintf(stderr, "fanotify-daemon: %s: %s\n", src, strerror(errno)); return 2; }
    struct stat st, sst;
    if (fstat(source, &sst) < 0 || stat(sparse, &st) < 0) { fprintf(stderr, "fanotify-daemon: %s: %s\n", sparse, strerror(errno)); return 2; }
    source_size = sst.st_size;
    logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) { fprintf(stderr, "fanotify-daemon: %s: %s\n", log, strerror(errno)); return 2; }
    group = fanotify_init(FAN_CLASS_PRE_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDWR | O_LARGEFILE);
    if (group < 0) { fprintf(stderr, "fanotify-daemon: fanotify_init(FAN_CLASS_PRE_CONTENT): %s\n", strerror(errno)); return 2; }
    if (fanotify_mark(group, FAN_MARK_ADD, FAN_PRE_ACCESS, AT_FDCWD, sparse) < 0) {
        fprintf(stderr, "fanotify-daemon: fanotify_mark(FAN_PRE_ACCESS, %s): %s (pre-content events need Linux 6.14+ and ext4/xfs/btrfs)\n", sparse, strerror(errno));
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    log_line("# fanotify-daemon pid=%d image=%s dev=%u:%u ino=%llu size=%lld source_size=%lld threads=%ld delay=%ld,%ld deny=%ld,%ld never=%ld",
             getpid(), sparse, major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, (long long)st.st_size,
             (long long)source_size, threads, delay_every, delay_ms, deny_every, deny_errno, never_nth);
    int rfd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (rfd < 0) { fprintf(stderr, "fanotify-daemon: %s: %s\n", ready, strerror(errno)); return 2; }
    close(rfd);
    pthread_t tids[MAX_THREADS];
    for (long t = 1; t < threads; t++)
        if (pthread_create(&tids[t], NULL, reader, NULL)) { fprintf(stderr, "fanotify-daemon: pthread_create failed\n"); return 2; }
    reader(NULL);
    for (long t = 1; t < threads; t++) pthread_join(tids[t], NULL);
    log_line("# stopped events=%ld allow=%ld present=%ld deny=%ld never=%ld bytes=%ld",
             (long)n_events, (long)n_allow, (long)n_present, (long)n_deny, (long)n_never, (long)n_bytes);
    return 0;
}
