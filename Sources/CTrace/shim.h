#ifndef ONDEMAND_TRACE_CTRACE_SHIM_H
#define ONDEMAND_TRACE_CTRACE_SHIM_H
#include <sched.h>
#include <traceevent/event-parse.h>
#include <traceevent/kbuffer.h>
#include <tracefs/tracefs.h>
#include <trace-cmd/trace-cmd.h>
#endif
