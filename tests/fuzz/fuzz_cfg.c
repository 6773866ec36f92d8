/*
 * fuzz_cfg.c - libFuzzer harness for the configuration loader: the input
 * is the env file named by MASKGATE_CONFIG (cfg_load reads it by path, so
 * each input is written to a temporary file first). Properties: any file
 * either loads or is refused with a message; a loaded configuration holds
 * the invariants cfg_load promises (bounds, required keys, JWT settings);
 * nothing leaks (ASan's leak check) and no file is read past its limits.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"

extern char **environ;

static char path[64];

/* Only the env file may configure: drop MASKGATE_* from the caller. */
static void
init(void)
{
	char **e;
	int fd;

	for (e = environ; *e != NULL;) {
		if (strncmp(*e, "MASKGATE_", 9) == 0) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
			continue;
		}
		e++;
	}
	snprintf(path, sizeof(path), "/tmp/mg_fuzz_cfg_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	setenv("MASKGATE_CONFIG", path, 1);
	log_set_level(LOG_ERROR);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct cfg c;
	char err[512];
	FILE *f;
	enum mg_err rc;

	if (!ready) {
		init();
		ready = 1;
	}
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	err[0] = '\0';
	rc = cfg_load(&c, (size & 1) ? CFG_NEED_MASTER_KEY | CFG_NEED_DATA_KEY : 0, err,
	    sizeof(err));
	if (rc != MG_OK) {
		if (err[0] == '\0' && rc != MG_ENOMEM)
			abort();	/* a refusal always says why */
	} else {
		if (c.workers < 1 || c.workers > 256 || c.max_requests < 1 ||
		    c.busy_timeout_ms < 0 || c.busy_timeout_ms > 600000 ||
		    c.upstream_connect_timeout < 1 || c.upstream_timeout < 1 ||
		    c.upstream_url == NULL || c.db_path == NULL || c.max_body == 0)
			abort();
		if ((size & 1) && (c.master_key == NULL || cfg_weak_secret(c.master_key) != NULL ||
		    !c.have_data_key))
			abort();
		if (c.jwt_secret != NULL && (c.jwt_alg == NULL || strcmp(c.jwt_alg, "HS256") != 0))
			abort();
	}
	cfg_free(&c);
	log_set_level(LOG_ERROR);
	return 0;
}
