/*
 * mg.c - error names, the invariant check and the clock shared by all
 * modules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "mg.h"

static const char *const mg_err_names[MG_ERR__MAX] = {
	"ok", "out of memory", "invalid input", "too big", "store error",
	"store busy", "rules error", "blocked", "upstream error", "timeout",
	"i/o error", "not found",
};

const char *
mg_strerror(enum mg_err rc)
{
	if ((unsigned)rc >= MG_ERR__MAX)
		return "unknown error";
	return mg_err_names[rc];
}

void
mg_assert_fail(const char *expr, const char *file, int line)
{
	log_error("assertion failed: %s (%s:%d)", expr, file, line);
	abort();
}

double
mg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void
mg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
