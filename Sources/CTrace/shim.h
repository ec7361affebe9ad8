#ifndef ONDEMAND_TRACE_CTRACE_SHIM_H
#define ONDEMAND_TRACE_CTRACE_SHIM_H
#include <sched.h>
#include <traceevent/event-parse.h>
#include <traceevent/kbuffer.h>
#include <tracefs/tracefs.h>
#include <trace-cmd/trace-cmd.h>

/* Starts loading the cache line at `p` (the trace.dat page walker asks for the bytes a few records
   ahead while it decodes these: the report waited on memory at nearly every page otherwise). */
static inline void odt_prefetch(const void *p) { __builtin_prefetch(p, 0, 0); }
#endif
