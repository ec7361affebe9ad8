/// Format files of the on-demand events, the two error events and the three the report ties
/// objects with (`cachefiles_ref`, `cachefiles_prep_read`, `cachefiles_read`), as Linux 6.12.117 prints them
/// (`/sys/kernel/tracing/events/cachefiles/*/format`). Text input carries no format files: these
/// say which `label=` is which field unless the user gives the trace's own (`--formats DIR`).
public enum DefaultFormats {
    public static let kernelRelease = "6.12.117"

    /// The format file of event `name` (e.g. "cachefiles_ondemand_read"), nil when not built in.
    public static func format(named name: String) -> String? {
        cachefiles.first { $0.hasPrefix("name: \(name)\n") }
    }

    public static let cachefiles: [String] = [
        #"""
        name: cachefiles_ondemand_open
        ID: 496
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int msg_id;	offset:12;	size:4;	signed:0;
        	field:unsigned int object_id;	offset:16;	size:4;	signed:0;
        	field:unsigned int fd;	offset:20;	size:4;	signed:0;
        	field:unsigned int flags;	offset:24;	size:4;	signed:0;
        
        print fmt: "o=%08x mid=%x oid=%x fd=%d f=%x", REC->obj, REC->msg_id, REC->object_id, REC->fd, REC->flags
        """#,
        #"""
        name: cachefiles_ondemand_copen
        ID: 495
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int msg_id;	offset:12;	size:4;	signed:0;
        	field:long len;	offset:16;	size:8;	signed:1;
        
        print fmt: "o=%08x mid=%x l=%lx", REC->obj, REC->msg_id, REC->len
        """#,
        #"""
        name: cachefiles_ondemand_close
        ID: 494
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int msg_id;	offset:12;	size:4;	signed:0;
        	field:unsigned int object_id;	offset:16;	size:4;	signed:0;
        
        print fmt: "o=%08x mid=%x oid=%x", REC->obj, REC->msg_id, REC->object_id
        """#,
        #"""
        name: cachefiles_ondemand_read
        ID: 493
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int msg_id;	offset:12;	size:4;	signed:0;
        	field:unsigned int object_id;	offset:16;	size:4;	signed:0;
        	field:loff_t start;	offset:24;	size:8;	signed:1;
        	field:size_t len;	offset:32;	size:8;	signed:0;
        
        print fmt: "o=%08x mid=%x oid=%x s=%llx l=%zx", REC->obj, REC->msg_id, REC->object_id, REC->start, REC->len
        """#,
        #"""
        name: cachefiles_ondemand_cread
        ID: 492
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int msg_id;	offset:12;	size:4;	signed:0;
        
        print fmt: "o=%08x mid=%x", REC->obj, REC->msg_id
        """#,
        #"""
        name: cachefiles_ondemand_fd_write
        ID: 491
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int backer;	offset:12;	size:4;	signed:0;
        	field:loff_t start;	offset:16;	size:8;	signed:1;
        	field:size_t len;	offset:24;	size:8;	signed:0;
        
        print fmt: "o=%08x iB=%x s=%llx l=%zx", REC->obj, REC->backer, REC->start, REC->len
        """#,
        #"""
        name: cachefiles_ondemand_fd_release
        ID: 490
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int object_id;	offset:12;	size:4;	signed:0;
        
        print fmt: "o=%08x oid=%x", REC->obj, REC->object_id
        """#,
        #"""
        name: cachefiles_io_error
        ID: 497
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int backer;	offset:12;	size:4;	signed:0;
        	field:enum cachefiles_error_trace where;	offset:16;	size:4;	signed:0;
        	field:short error;	offset:20;	size:2;	signed:1;
        
        print fmt: "o=%08x B=%x %s e=%d", REC->obj, REC->backer, __print_symbolic(REC->where, { 0, "fallocate" }, { 1, "getxattr" }, { 2, "link" }, { 3, "lookup" }, { 4, "mkdir" }, { 5, "notify_change" }, { 6, "open" }, { 7, "read" }, { 8, "remxattr" }, { 9, "rename" }, { 10, "seek" }, { 11, "setxattr" }, { 12, "statfs" }, { 13, "tmpfile" }, { 14, "trunc" }, { 15, "unlink" }, { 16, "write" }), REC->error
        """#,
        #"""
        name: cachefiles_vfs_error
        ID: 498
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int backer;	offset:12;	size:4;	signed:0;
        	field:enum cachefiles_error_trace where;	offset:16;	size:4;	signed:0;
        	field:short error;	offset:20;	size:2;	signed:1;
        
        print fmt: "o=%08x B=%x %s e=%d", REC->obj, REC->backer, __print_symbolic(REC->where, { 0, "fallocate" }, { 1, "getxattr" }, { 2, "link" }, { 3, "lookup" }, { 4, "mkdir" }, { 5, "notify_change" }, { 6, "open" }, { 7, "read" }, { 8, "remxattr" }, { 9, "rename" }, { 10, "seek" }, { 11, "setxattr" }, { 12, "statfs" }, { 13, "tmpfile" }, { 14, "trunc" }, { 15, "unlink" }, { 16, "write" }), REC->error
        """#,
        #"""
        name: cachefiles_ref
        ID: 514
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int cookie;	offset:12;	size:4;	signed:0;
        	field:enum cachefiles_obj_ref_trace why;	offset:16;	size:4;	signed:0;
        	field:int usage;	offset:20;	size:4;	signed:1;
        
        print fmt: "c=%08x o=%08x u=%d %s", REC->cookie, REC->obj, REC->usage, __print_symbolic(REC->why, { 0, "GET ioreq" }, { 1, "NEW obj" }, { 2, "PUT alloc_fail" }, { 3, "PUT detach" }, { 4, "PUT ioreq" }, { 5, "SEE clean_commit" }, { 6, "SEE clean_delete" }, { 7, "SEE clean_drop_tmp" }, { 8, "SEE lookup_cookie" }, { 9, "SEE lookup_failed" }, { 10, "SEE withdraw_cookie" }, { 11, "SEE withdrawal" }, { 12, "GET ondemand_fd" }, { 13, "PUT ondemand_fd" }, { 14, "GET read_req" }, { 15, "PUT read_req" })
        """#,
        #"""
        name: cachefiles_prep_read
        ID: 505
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned short flags;	offset:12;	size:2;	signed:0;
        	field:enum netfs_io_source source;	offset:14;	size:1;	signed:0;
        	field:enum cachefiles_prepare_read_trace why;	offset:16;	size:4;	signed:0;
        	field:size_t len;	offset:24;	size:8;	signed:0;
        	field:loff_t start;	offset:32;	size:8;	signed:1;
        	field:unsigned int netfs_inode;	offset:40;	size:4;	signed:0;
        	field:unsigned int cache_inode;	offset:44;	size:4;	signed:0;
        
        print fmt: "o=%08x %s %s f=%02x s=%llx %zx ni=%x B=%x", REC->obj, __print_symbolic(REC->source, { NETFS_SOURCE_UNKNOWN, "----" }, { NETFS_FILL_WITH_ZEROES, "ZERO" }, { NETFS_DOWNLOAD_FROM_SERVER, "DOWN" }, { NETFS_READ_FROM_CACHE, "READ" }, { NETFS_INVALID_READ, "INVL" }, { NETFS_UPLOAD_TO_SERVER, "UPLD" }, { NETFS_WRITE_TO_CACHE, "WRIT" }, { NETFS_INVALID_WRITE, "INVL" }), __print_symbolic(REC->why, { 0, "after-eof " }, { 1, "found-hole" }, { 2, "found-part" }, { 3, "have-data " }, { 4, "no-data   " }, { 5, "no-file   " }, { 6, "seek-error" }, { 7, "seek-enxio" }), REC->flags, REC->start, REC->len, REC->netfs_inode, REC->cache_inode
        """#,
        #"""
        name: cachefiles_read
        ID: 504
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;
        
        	field:unsigned int obj;	offset:8;	size:4;	signed:0;
        	field:unsigned int backer;	offset:12;	size:4;	signed:0;
        	field:size_t len;	offset:16;	size:8;	signed:0;
        	field:loff_t start;	offset:24;	size:8;	signed:1;
        
        print fmt: "o=%08x B=%x s=%llx l=%zx", REC->obj, REC->backer, REC->start, REC->len
        """#,
    ]

    /// `events/ftrace/print/format` on x86_64: what a `trace_marker` write records.
    public static let ftracePrint = #"""
        name: print
        ID: 5
        format:
        	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
        	field:unsigned char common_flags;	offset:2;	size:1;	signed:0;
        	field:unsigned char common_preempt_count;	offset:3;	size:1;	signed:0;
        	field:int common_pid;	offset:4;	size:4;	signed:1;

        	field:unsigned long ip;	offset:8;	size:8;	signed:0;
        	field:char buf[];	offset:16;	size:0;	signed:1;

        print fmt: "%ps: %s", (void *)REC->ip, REC->buf
        """#

    public static var layouts: [EventLayout] {
        cachefiles.compactMap { try? FormatFileParser.parse($0, system: "cachefiles") }
            + [try? FormatFileParser.parse(ftracePrint, system: "ftrace")].compactMap { $0 }
    }
}
