/*
 * pool.h - the self-managed pre-fork pool (bin/maskgate.fcgi --listen).
 */
#ifndef MG_POOL_H
#define MG_POOL_H

#include "cfg.h"

/*
 * Binds listen_spec ("unix:/path" -> 0660 socket, or "host:port"), keeps
 * `workers` children serving it, replaces any that die or retire, and on
 * SIGTERM/SIGINT drains: children finish their request (bounded by the
 * drain timeout) and the pool exits. Returns the process exit status.
 */
int pool_run(const struct cfg *c, const char *listen_spec, long workers);

#endif
