/*
 * cmd_admin.c - keygen and doctor.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "cfg.h"
#include "cli.h"
#include "crypto.h"
#include "db.h"
#include "sandbox.h"
#include "store.h"

int
cli_keygen(int argc, char **argv)
{
	unsigned char rnd[32];
	char hex[65];
	int data = argc > 1 && strcmp(argv[1], "--data") == 0;

	if (cli_wants_help(argc, argv) || (argc > 1 && !data)) {
		printf("usage: maskgate keygen [--data]\n\n"
		    "Prints a new master or virtual key (sk- + 64 hex) from the OS random\n"
		    "source; with --data, a MASKGATE_DATA_KEY (64 hex).\n");
		return argc > 1 && !data && !cli_wants_help(argc, argv) ? 2 : 0;
	}
	if (crypto_random(rnd, sizeof(rnd)) != MG_OK) {
		fprintf(stderr, "maskgate: the OS random source failed\n");
		return 1;
	}
	crypto_hex(hex, rnd, sizeof(rnd));
	printf("%s%s\n", data ? "" : "sk-", hex);
	explicit_bzero(rnd, sizeof(rnd));
	explicit_bzero(hex, sizeof(hex));
	return 0;
}

struct doctor {
	int errors, warnings;
};

static void __attribute__((format(printf, 3, 4)))
finding(struct doctor *d, const char *level, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s ", level);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (strcmp(level, "error") == 0)
		d->errors++;
	else if (strcmp(level, "warn") == 0)
		d->warnings++;
}

/* A secret or database file that group or others can read. */
static void
check_private(struct doctor *d, const char *path, const char *what)
{
	struct stat st;

	if (path == NULL || stat(path, &st) != 0)
		return;
	if (st.st_mode & 077) {
		finding(d, "warn", "%s %s is accessible by group or others (mode %o); chmod 600",
		    what, path, (unsigned)(st.st_mode & 0777));
	}
}

/* PostgreSQL: does it answer (described without its password)? */
static void
check_database(struct doctor *d, const struct cfg *c)
{
	char where[512], err[512];
	struct store *s = NULL;

	if (c->db_path == NULL || db_backend_of(c->db_path) != DB_PG)
		return;
	db_describe(c->db_path, where, sizeof(where));
	if (store_open(c, &s, err, sizeof(err)) != MG_OK) {
		finding(d, "error", "database %s: %s", where, err);
		return;
	}
	finding(d, "ok", "database %s answers (schema version %d)", where,
	    store_schema_version(s));
	store_close(s);
}

static void
check_secret_files(struct doctor *d)
{
	static const char *const names[] = {
		"MASKGATE_MASTER_KEY_FILE", "MASKGATE_DATA_KEY_FILE",
		"MASKGATE_UPSTREAM_API_KEY_FILE", "MASKGATE_JWT_SECRET_FILE", "MASKGATE_DB_FILE",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		check_private(d, getenv(names[i]), "secret file");
	check_private(d, getenv("MASKGATE_CONFIG"), "config file");
}

static void
check_jit(struct doctor *d)
{
	uint32_t jit = 0;
	int errcode;
	PCRE2_SIZE off;
	pcre2_code *re;

	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	if (!jit) {
		finding(d, "warn", "%s", "PCRE2 was built without JIT: masking runs on the interpreter");
		return;
	}
	re = pcre2_compile((PCRE2_SPTR) "i-[0-9a-f]{8}", PCRE2_ZERO_TERMINATED, 0, &errcode, &off, NULL);
	if (re == NULL || pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) != 0)
		finding(d, "warn", "%s", "PCRE2 JIT unavailable here (MemoryDenyWriteExecute?): "
		    "masking falls back to the slower interpreter");
	else
		finding(d, "ok", "%s", "PCRE2 JIT available");
	pcre2_code_free(re);
}

static size_t
header_probe(char *ptr, size_t size, size_t n, void *ud)
{
	if (size * n >= 22 && strncasecmp(ptr, "x-maskgate-request-id:", 22) == 0)
		*(int *)ud = 1;
	return size * n;
}

/* Asks the upstream URL whether it is a maskgate: the request-loop trap. */
static void
check_upstream_loop(struct doctor *d, const char *url)
{
	CURL *h = curl_easy_init();
	int is_maskgate = 0;

	if (h == NULL)
		return;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 3L);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_probe);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &is_maskgate);
	if (curl_easy_perform(h) != CURLE_OK)
		finding(d, "warn", "upstream %s did not answer a HEAD request within 3s", url);
	else if (is_maskgate)
		finding(d, "error", "MASKGATE_UPSTREAM_URL %s answers as maskgate itself: "
		    "requests would loop; point it at https://api.anthropic.com", url);
	else
		finding(d, "ok", "upstream %s reachable and not a maskgate", url);
	curl_easy_cleanup(h);
}

/* /v1/claude-code refuses to run the CLI without its sandbox: say whether it can. */
static void
check_sandbox(struct doctor *d, const struct cfg *c)
{
	const char *bwrap = NULL, *why;

	if (c->claude_max_runs == 0) {
		finding(d, "ok", "%s", "/v1/claude-code is off (MASKGATE_CLAUDE_MAX_RUNS=0)");
		return;
	}
	why = sandbox_check(c, &bwrap);
	if (why != NULL)
		finding(d, "warn", "/v1/claude-code will answer 503: %s "
		    "(or turn it off with MASKGATE_CLAUDE_MAX_RUNS=0)", why);
	else
		finding(d, "ok", "/v1/claude-code runs are sandboxed with %s", bwrap);
}

int
cli_doctor(int argc, char **argv)
{
	struct doctor d = { 0, 0 };
	struct cfg cfg;
	char err[512];
	const char *why, *base = getenv("ANTHROPIC_BASE_URL");
	int offline = argc > 1 && strcmp(argv[1], "--offline") == 0;

	if (cli_wants_help(argc, argv)) {
		printf("usage: maskgate doctor [--offline]\n\n"
		    "Checks the configuration in this environment: secrets present and\n"
		    "strong, secret and database files private, PCRE2 JIT, the sandbox\n"
		    "/v1/claude-code runs in, and the request-loop trap (upstream URL\n"
		    "answering as maskgate). --offline skips contacting the upstream.\n"
		    "Exit status 1 on any error.\n");
		return 0;
	}
	if (cfg_load(&cfg, 0, err, sizeof(err)) != MG_OK) {
		finding(&d, "error", "%s", err);
		goto out;
	}
	why = cfg.master_key != NULL ? cfg_weak_secret(cfg.master_key) : NULL;
	if (cfg.master_key == NULL)
		finding(&d, "error", "%s", "MASKGATE_MASTER_KEY is not set (bin/maskgate keygen)");
	else if (why != NULL)
		finding(&d, "error", "MASKGATE_MASTER_KEY is weak: the key %s", why);
	else
		finding(&d, "ok", "%s", "master key set and strong");
	if (!cfg.have_data_key)
		finding(&d, "error", "%s", "MASKGATE_DATA_KEY is not set (bin/maskgate keygen --data)");
	else
		finding(&d, "ok", "%s", "data key set");
	if (cfg.upstream_api_key == NULL)
		finding(&d, "warn", "%s", "MASKGATE_UPSTREAM_API_KEY is not set: upstream calls carry no key");
	check_secret_files(&d);
	check_private(&d, cfg.db_path, "database");
	check_database(&d, &cfg);
	check_jit(&d);
	check_sandbox(&d, &cfg);
	if (base != NULL)
		finding(&d, "info", "ANTHROPIC_BASE_URL=%s is set here; maskgate ignores it "
		    "(it is the client's setting), but make sure it is not also the upstream", base);
	if (base != NULL && strcmp(base, cfg.upstream_url) == 0)
		finding(&d, "error", "MASKGATE_UPSTREAM_URL equals ANTHROPIC_BASE_URL (%s): "
		    "maskgate would call itself", base);
	if (!offline) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		check_upstream_loop(&d, cfg.upstream_url);
		curl_global_cleanup();
	}
	cfg_free(&cfg);
out:
	printf("%d error(s), %d warning(s)\n", d.errors, d.warnings);
	return d.errors > 0;
}
