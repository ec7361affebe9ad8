#define _GNU_SOURCE
#include "daemon_sys.h"
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/ioctl.h>

// From include/uapi/linux/cachefiles.h (not shipped by every linux-libc-dev).
#define CACHEFILES_IOC_READ_COMPLETE _IOW(0x98, 1, int)

int daemon_sys_read_complete(int fd, unsigned int msg_id) {
    return ioctl(fd, CACHEFILES_IOC_READ_COMPLETE, msg_id);
}

int daemon_sys_gettid(void) {
    return (int)syscall(SYS_gettid);
}
