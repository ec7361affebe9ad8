/* The baseline for `report`: the least a libtracecmd reader can do — open a trace.dat and
 * iterate every record in time order across CPUs, reading each record's event id, nothing else.
 * Built by bench/report-bench.sh:  gcc -O2 iterate-records.c $(pkg-config --cflags --libs libtracecmd) */
#include <stdio.h>
#include <stdlib.h>
#include <trace-cmd.h>

struct counts { unsigned long long records, id_sum; };

static int count_record(struct tracecmd_input *handle, struct tep_record *record, int cpu, void *data)
{
	struct counts *c = data;
	(void)handle; (void)cpu;
	c->records++;
	if (record->size >= 2)
		c->id_sum += *(unsigned short *)record->data; /* common_type: touch the payload */
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s trace.dat\n", argv[0]);
		return 2;
	}
	struct tracecmd_input *handle = tracecmd_open(argv[1], TRACECMD_FL_LOAD_NO_PLUGINS | TRACECMD_FL_LOAD_NO_SYSTEM_PLUGINS);
	if (!handle) {
		fprintf(stderr, "%s: cannot open\n", argv[1]);
		return 2;
	}
	struct counts c = { 0, 0 };
	if (tracecmd_iterate_events(handle, NULL, 0, count_record, &c) < 0) {
		fprintf(stderr, "%s: iteration failed\n", argv[1]);
		return 2;
	}
	printf("%llu records (id checksum %llu)\n", c.records, c.id_sum);
	tracecmd_close(handle);
	return 0;
}
