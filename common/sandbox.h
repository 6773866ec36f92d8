/*
 * sandbox.h - the bubblewrap sandbox a /v1/claude-code run lives in.
 *
 * The Claude Code CLI runs tools the model asks for (Read, Grep, ...), so it
 * must not see what the worker can read: the master and data keys, the
 * configuration, the database. A run sees a fresh working directory, a
 * read-only minimal system: /usr, the library links, a few /etc files; the
 * CLI's own directory read-only, a private /tmp, /proc of its own PID
 * namespace only, and nothing else. It shares the network namespace, so it
 * still reaches maskgate on loopback. When the sandbox cannot be set up here
 * (bubblewrap missing, user namespaces disabled) there is no fallback: the
 * endpoint refuses.
 */
#ifndef MG_SANDBOX_H
#define MG_SANDBOX_H

#include "arena.h"
#include "cfg.h"

/* The only PATH programs are looked up on, and the PATH a run gets. */
#define SANDBOX_SAFE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The identity a run has inside its user namespace (nobody/nogroup). */
#define SANDBOX_UID "65534"

/*
 * The path of program: name as given when it contains '/', else searched
 * on SANDBOX_SAFE_PATH (never the worker's PATH). Returns arena memory, or
 * NULL when no executable is found.
 */
const char *sandbox_find_program(const char *name, struct arena *a);

/*
 * Whether runs can be sandboxed here. The first call in a process finds
 * MASKGATE_CLAUDE_BWRAP and proves it works by running a sandbox that must
 * not see the database; later calls (and forked children) reuse the
 * verdict. Returns NULL when ready, with *bwrap (when not NULL) set to the
 * program's path; else a reason for the admin. Both point to static storage.
 */
const char *sandbox_check(const struct cfg *c, const char **bwrap);

/*
 * The argv that runs inner (NULL-terminated, inner[0] an absolute path) in
 * the sandbox: workdir (may be NULL) bound read-write and made the current
 * directory, exec_dir (may be NULL) bound read-only. Every file the
 * configuration came from and the database directory are hidden even when
 * they lie under a bound tree. Returns a NULL-terminated array in arena
 * memory, or NULL when out of memory.
 */
const char **sandbox_argv(const struct cfg *c, const char *bwrap, const char *workdir,
    const char *exec_dir, const char *const *inner, struct arena *a);

#endif
