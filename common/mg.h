/*
 * mg.h - shared error codes and invariant checks.
 *
 * Every fallible function in maskgate returns enum mg_err; MG_OK is zero so
 * `if (rc != MG_OK) goto out;` reads naturally.
 */
#ifndef MG_H
#define MG_H

#include <stddef.h>

/* Shown by the console's health page and `maskgate --version`-like output. */
#define MG_VERSION "0.9.0"

enum mg_err {
	MG_OK = 0,
	MG_ENOMEM,	/* allocation failed */
	MG_EINVAL,	/* bad input from the caller or the client */
	MG_ETOOBIG,	/* input over a configured limit */
	MG_ESTORE,	/* database error */
	MG_EBUSY,	/* database locked past busy_timeout */
	MG_ERULES,	/* rule engine failure */
	MG_EBLOCKED,	/* a `block` rule matched */
	MG_EUPSTREAM,	/* upstream unreachable or broken */
	MG_ETIMEOUT,	/* upstream or child timed out */
	MG_EIO,		/* client or file I/O failed */
	MG_ENOTFOUND,	/* no such object */
	MG_ERR__MAX
};

/* Short human name of an error code, for logs. */
const char *mg_strerror(enum mg_err rc);

/* vsnprintf into a caller's error buffer; err may be NULL. */
void mg_errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Milliseconds on the monotonic clock. */
double mg_now_ms(void);

/* Invariant check that survives NDEBUG: logs and aborts. */
#define MG_ASSERT(cond) \
	do { if (!(cond)) mg_assert_fail(#cond, __FILE__, __LINE__); } while (0)

void mg_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn));

#define MG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

#endif
