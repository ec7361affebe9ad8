// Mounts an EROFS image file file-backed with mount(2) itself, and unmounts it: busybox `mount`
// would set up a loop device, whose reads bypass the fanotify pre-content hook.
//   erofs-mount mount IMAGE_FILE DIR      mount(IMAGE_FILE, DIR, "erofs", MS_RDONLY, NULL)
//   erofs-mount umount DIR [--lazy]       umount2(DIR, 0 or MNT_DETACH)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "mount")) {
        if (mount(argv[2], argv[3], "erofs", MS_RDONLY, NULL) < 0) {
            fprintf(stderr, "erofs-mount: mount %s on %s: %s\n", argv[2], argv[3], strerror(errno));
            return 1;
        }
        return 0;
    }
    if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "--lazy"))) && !strcmp(argv[1], "umount")) {
        if (umount2(argv[2], argc == 4 ? MNT_DETACH : 0) < 0) {
            fprintf(stderr, "erofs-mount: umount %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: erofs-mount mount IMAGE_FILE DIR | erofs-mount umount DIR [--lazy]\n");
    return 2;
}
