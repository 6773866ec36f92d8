/*
 * main.c - bin/maskgate.fcgi: the program the web server runs.
 *
 * Three modes, chosen at start:
 *   --listen SPEC   our own pre-fork pool on a Unix or TCP socket;
 *   fd 0 a socket   spawned by mod_fcgid, lighttpd bin-path or spawn-fcgi;
 *   otherwise       plain CGI, one request per process (shared hosting).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "cfg.h"
#include "log.h"
#include "pool.h"
#include "sandbox.h"
#include "worker.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: maskgate.fcgi [--listen unix:PATH|HOST:PORT] [--workers N]\n"
	    "       maskgate.fcgi --check\n"
	    "\n"
	    "Masking gateway for the Anthropic API, run by a web server.\n"
	    "\n"
	    "  (no options)     FastCGI on fd 0 when spawned by a web server or\n"
	    "                   spawn-fcgi; plain CGI otherwise\n"
	    "  --listen SPEC    run a pre-fork pool on a 0660 Unix socket or TCP\n"
	    "  --workers N      pool size (default MASKGATE_WORKERS, 4)\n"
	    "  --check          validate the configuration and exit\n"
	    "  --help           this text\n"
	    "\n"
	    "Configuration comes from MASKGATE_* environment variables (each also\n"
	    "as NAME_FILE) and the env file named by MASKGATE_CONFIG; see README.md.\n");
}

/* CGI has no log the admin reads first: answer in the envelope as well. */
static void
cgi_startup_error(const char *msg)
{
	printf("Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n"
	    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
	    "\"message\":\"maskgate is misconfigured; see the server error log\"}}");
	log_error("%s", msg);
}

/*
 * /v1/claude-code runs only in a sandbox: find out once, at start (the
 * verdict is inherited by forked workers), and say so in the log.
 */
static void
check_claude_sandbox(const struct cfg *c, int check)
{
	const char *bwrap = NULL, *why;

	if (c->claude_max_runs == 0)
		return;
	why = sandbox_check(c, &bwrap);
	if (why != NULL)
		log_warn("/v1/claude-code will answer 503: %s", why);
	else
		log_info("/v1/claude-code runs are sandboxed with %s", bwrap);
	if (check && why != NULL)
		printf("warning: /v1/claude-code will answer 503: %s\n", why);
}

int
main(int argc, char **argv)
{
	const char *listen_spec = NULL;
	long workers = -1;
	int check = 0, i, is_cgi, status;
	struct cfg cfg;
	struct worker w;
	char err[512];

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			listen_spec = argv[++i];
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			workers = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || workers < 1 || workers > 256) {
				fprintf(stderr, "maskgate.fcgi: --workers must be 1 to 256\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--check") == 0) {
			check = 1;
		} else {
			fprintf(stderr, "maskgate.fcgi: unknown argument %s (try --help)\n", argv[i]);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	is_cgi = listen_spec == NULL && !check && FCGX_IsCGI();

	if (cfg_load(&cfg, CFG_NEED_MASTER_KEY | CFG_NEED_DATA_KEY, err, sizeof(err)) != MG_OK) {
		if (is_cgi)
			cgi_startup_error(err);
		else
			fprintf(stderr, "maskgate: %s\n", err);
		return 1;
	}
	if (check || listen_spec != NULL) {
		/* validate store and rules in this process, then let go of them */
		if (worker_init(&w, &cfg, err, sizeof(err)) != MG_OK) {
			fprintf(stderr, "maskgate: %s\n", err);
			cfg_free(&cfg);
			return 1;
		}
		worker_fini(&w);
		check_claude_sandbox(&cfg, check);
		if (check) {
			printf("configuration ok (%s)\n", cfg_env_name(cfg.env));
			cfg_free(&cfg);
			return 0;
		}
		status = pool_run(&cfg, listen_spec, workers > 0 ? workers : cfg.workers);
		cfg_free(&cfg);
		return status;
	}
	if (worker_init(&w, &cfg, err, sizeof(err)) != MG_OK) {
		if (is_cgi)
			cgi_startup_error(err);
		else
			fprintf(stderr, "maskgate: %s\n", err);
		cfg_free(&cfg);
		return 1;
	}
	/* CGI: one request per process; the endpoint checks when it is asked */
	if (!is_cgi)
		check_claude_sandbox(&cfg, 0);
	status = is_cgi ? worker_serve_cgi(&w) : worker_serve_fcgi(&w, 0, 0);
	worker_fini(&w);
	cfg_free(&cfg);
	return status;
}
