// A minimal single-threaded cachefiles on-demand daemon, written from
// Documentation/filesystems/caching/cachefiles.rst and include/uapi/linux/cachefiles.h for the
// benchmark only: the baseline `ondemand-trace daemon` is compared with (vm/bench/run).
//   minimal-daemon CACHE_DIR SOURCE_DIR READY_FILE
// Serves the blob SOURCE_DIR/<cookie key> for each OPEN; no key checks, no faults, no markers.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/cachefiles.h>

#define MAX_OBJECTS 4096
#define BUF_SIZE (1 << 20)

static int anon_fd[MAX_OBJECTS], blob_fd[MAX_OBJECTS];
static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int command(int dev, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (write(dev, line, n) != n) { fprintf(stderr, "minimal-daemon: '%s': %s\n", line, strerror(errno)); return -1; }
    return 0;
}

static void handle_open(int dev, struct cachefiles_msg *msg, int source) {
    struct cachefiles_open *open_msg = (void *)msg->data;
    char name[256];
    uint32_t n = open_msg->cookie_key_size < sizeof name - 1 ? open_msg->cookie_key_size : sizeof name - 1;
    memcpy(name, open_msg->data + open_msg->volume_key_size, n);
    name[n] = 0;
    int blob = openat(source, name, O_RDONLY);
    struct stat st;
    if (blob < 0 || fstat(blob, &st) < 0 || msg->object_id >= MAX_OBJECTS) {
        command(dev, "copen %u,-%d", msg->msg_id, ENOENT);
        close(open_msg->fd);
        if (blob >= 0) close(blob);
        return;
    }
    anon_fd[msg->object_id] = open_msg->fd;
    blob_fd[msg->object_id] = blob;
    command(dev, "copen %u,%llu", msg->msg_id, (unsigned long long)st.st_size);
}

static void handle_read(struct cachefiles_msg *msg, char *buf) {
    struct cachefiles_read *read_msg = (void *)msg->data;
    uint32_t id = msg->object_id;
    if (id >= MAX_OBJECTS || anon_fd[id] < 0) return;
    uint64_t done = 0;
    while (done < read_msg->len) {
        size_t chunk = read_msg->len - done < BUF_SIZE ? read_msg->len - done : BUF_SIZE;
        ssize_t got = pread(blob_fd[id], buf, chunk, read_msg->off + done);
        if (got < 0) got = 0;
        if ((size_t)got < chunk) memset(buf + got, 0, chunk - got);
        if (pwrite(anon_fd[id], buf, chunk, read_msg->off + done) != (ssize_t)chunk) {
            fprintf(stderr, "minimal-daemon: pwrite: %s\n", strerror(errno));
            break;
        }
        done += chunk;
    }
    if (ioctl(anon_fd[id], CACHEFILES_IOC_READ_COMPLETE, msg->msg_id) < 0)
        fprintf(stderr, "minimal-daemon: READ_COMPLETE: %s\n", strerror(errno));
}

static void handle_close(struct cachefiles_msg *msg) {
    uint32_t id = msg->object_id;
    if (id >= MAX_OBJECTS || anon_fd[id] < 0) return;
    close(anon_fd[id]);
    close(blob_fd[id]);
    anon_fd[id] = blob_fd[id] = -1;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: minimal-daemon CACHE_DIR SOURCE_DIR READY_FILE\n"); return 2; }
    for (int i = 0; i < MAX_OBJECTS; i++) anon_fd[i] = blob_fd[i] = -1;
    int source = open(argv[2], O_RDONLY | O_DIRECTORY);
    int dev = open("/dev/cachefiles", O_RDWR);
    if (source < 0 || dev < 0) { perror("minimal-daemon: open"); return 2; }
    if (command(dev, "dir %s", argv[1]) || command(dev, "tag minimal") || command(dev, "bind ondemand")) return 2;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    close(open(argv[3], O_WRONLY | O_CREAT, 0644));
    static char msgbuf[65536];
    char *buf;
    if (posix_memalign((void **)&buf, 4096, BUF_SIZE)) return 2;
    unsigned long reads = 0, opens = 0, closes = 0;
    while (!stop) {
        struct pollfd pfd = { .fd = dev, .events = POLLIN };
        if (poll(&pfd, 1, -1) < 0) { if (errno == EINTR) continue; perror("poll"); break; }
        ssize_t n = read(dev, msgbuf, sizeof msgbuf);
        if (n <= 0) continue;
        struct cachefiles_msg *msg = (void *)msgbuf;
        switch (msg->opcode) {
        case CACHEFILES_OP_OPEN: opens++; handle_open(dev, msg, source); break;
        case CACHEFILES_OP_READ: reads++; handle_read(msg, buf); break;
        case CACHEFILES_OP_CLOSE: closes++; handle_close(msg); break;
        }
    }
    printf("minimal-daemon: stopped: %lu OPEN, %lu READ, %lu CLOSE\n", opens, reads, closes);
    return 0;
}
