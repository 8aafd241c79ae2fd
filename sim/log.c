#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int sim_verbose;

void sim_log(const char *fmt, ...)
{
	if (!sim_verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("vigi-sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
