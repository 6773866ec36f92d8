/*
 * log.c - stderr logging, one write(2) per line so lines from several
 * workers sharing one stderr never interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static enum log_level log_threshold = LOG_INFO;
static const char *const log_names[LOG__MAX] = { "debug", "info", "warn", "error" };

void
log_set_level(enum log_level level)
{
	log_threshold = level;
}

int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < LOG__MAX; i++)
		if (strcmp(s, log_names[i]) == 0)
			return (int)i;
	return -1;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n, m;

	if (level < log_threshold)
		return;
	n = snprintf(line, sizeof(line), "maskgate[%ld]: %s: ", (long)getpid(),
	    log_names[level]);
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* a short write to stderr is not worth more than a retry */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
