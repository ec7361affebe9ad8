#ifndef ONDEMAND_TRACE_DAEMON_SYS_H
#define ONDEMAND_TRACE_DAEMON_SYS_H
// Linux headers Swift's Glibc module leaves out, for the tests' host checks (statfs, mount,
// fanotify: TestSupport's HostFacts and the fanotify tests). The daemons call these through
// SystemCalls, not through this module.
#include <sys/vfs.h>
#include <sys/mount.h>
#include <sys/fanotify.h>

/// ioctl(fd, CACHEFILES_IOC_READ_COMPLETE, msg_id): the request the kernel's uapi header defines
/// as _IOW(0x98, 1, int), taking the msg_id by value. Returns -1 and sets errno on failure.
int daemon_sys_read_complete(int fd, unsigned int msg_id);
/// The calling thread's kernel id (as in /proc/PID/task/TID).
int daemon_sys_gettid(void);
#endif
