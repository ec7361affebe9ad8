import Glibc

/// A glibc function whose header Swift's Glibc module leaves out (GNU and Linux extensions:
/// `statfs`, `signalfd`, `fanotify_init`...), found in the running process by name; nil when
/// this glibc has none. The one lookup of its kind: each caller names the function and its type.
func glibcFunction<Function>(_ name: String, as type: Function.Type) -> Function? {
    // RTLD_DEFAULT (a null handle): the process's own libraries, glibc among them.
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
}
