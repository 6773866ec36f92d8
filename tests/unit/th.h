/*
 * th.h - tiny TAP test helper. Each check prints "ok N - name" or
 * "not ok N - name"; TH_SKIP prints "ok N - name # SKIP reason", counted as
 * skipped, never as passed. th_done() prints "N passed, N failed" (with
 * ", N skipped" when any was) as the last line and returns the exit status.
 */
#ifndef TH_H
#define TH_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int th_passed, th_failed, th_skipped;

#define TH_OK(cond, ...) th_ok_((cond) ? 1 : 0, __FILE__, __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
th_ok_(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n = th_passed + th_failed + th_skipped + 1;

	printf("%s %d - ", ok ? "ok" : "not ok", n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (!ok)
		printf(" (%s:%d)", file, line);
	printf("\n");
	fflush(stdout);
	if (ok)
		th_passed++;
	else
		th_failed++;
}

/* A check that could not run here: TAP "ok N - name # SKIP why". */
static inline void
th_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", th_passed + th_failed + th_skipped + 1, name, why);
	fflush(stdout);
	th_skipped++;
}

#define TH_STREQ(a, b, ...) TH_OK(((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0), __VA_ARGS__)

static int
th_done(void)
{
	if (th_skipped > 0)
		printf("%d passed, %d failed, %d skipped\n", th_passed, th_failed, th_skipped);
	else
		printf("%d passed, %d failed\n", th_passed, th_failed);
	return th_failed == 0 ? 0 : 1;
}

#endif
