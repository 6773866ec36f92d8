/*
 * test_cfg.c - the MASKGATE_CONFIG env file: read once per load, a long
 * line kept whole, an over-long line or a NUL byte refused with the file
 * and line named. cfg.c and cfg_file.c are included with fopen counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"

static const char *count_path;	/* count the opens of this file */
static int count_opens;

static FILE *
counting_fopen(const char *path, const char *mode)
{
	if (count_path != NULL && strcmp(path, count_path) == 0)
		count_opens++;
	return fopen(path, mode);
}

#define fopen counting_fopen
#include "../../common/cfg.c"
#include "../../common/cfg_file.c"
#undef fopen

static char dir[] = "/tmp/mg-test-cfg-XXXXXX";
static char path[64];

/* Writes the config file: a valid base, then extra (may be NULL), raw. */
static void
write_cfg(const char *extra, size_t extralen)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(f, "# test\n"
	    "export MASKGATE_MASTER_KEY=\"sk-Zq8vT3nLw0Pb5Yc7Hd2Kf9Rm4Xs6Ja1G\"\n"
	    "MASKGATE_DATA_KEY=%s\n"
	    "MASKGATE_DB='%s/cfg.db'\n",
	    "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a", dir);
	if (extra != NULL)
		fwrite(extra, 1, extralen, f);
	fclose(f);
}

/* A line of n bytes (newline included): NAME=aaa...tail\n. */
static char *
long_line(const char *name, size_t n, const char *tail)
{
	char *s = malloc(n + 1);
	size_t head = strlen(name) + 1, t = strlen(tail);

	if (s == NULL)
		exit(1);
	memcpy(s, name, head - 1);
	s[head - 1] = '=';
	memset(s + head, 'a', n - head - t - 1);
	memcpy(s + n - t - 1, tail, t);
	s[n - 1] = '\n';
	s[n] = '\0';
	return s;
}

int
main(void)
{
	struct cfg c;
	char err[512], **e, *line;
	const char *want;

	if (mkdtemp(dir) == NULL) {
		printf("not ok 1 - mkdtemp\n0 passed, 1 failed\n");
		return 1;
	}
	/* only the file configures: clear MASKGATE_* from the caller */
	for (e = environ; *e != NULL;) {
		if (strncmp(*e, "MASKGATE_", 9) == 0) {
			char name[256];
			snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
			unsetenv(name);
			continue;
		}
		e++;
	}
	log_set_level(LOG_ERROR + 1);
	snprintf(path, sizeof(path), "%s/maskgate.env", dir);
	setenv("MASKGATE_CONFIG", path, 1);
	count_path = path;

	write_cfg("MASKGATE_WORKERS=3\nMASKGATE_WORKERS=5\n", 38);
	count_opens = 0;
	err[0] = '\0';
	TH_OK(cfg_load(&c, CFG_NEED_MASTER_KEY | CFG_NEED_DATA_KEY, err, sizeof(err)) == MG_OK,
	    "valid file loads: %s", err);
	TH_OK(count_opens == 1, "the file is read once per load (%d opens)", count_opens);
	TH_OK(c.workers == 5, "the last line of a setting wins (%ld)", (long)c.workers);
	cfg_free(&c);

	/* fgets(8192) read 8191 bytes, then the tail as a setting of its own */
	line = long_line("MASKGATE_METRICS_ALLOW", 8191 + 19, "MASKGATE_WORKERS=7");
	write_cfg(line, strlen(line));
	err[0] = '\0';
	TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_OK, "an 8210-byte line loads: %s", err);
	TH_OK(c.workers == 4, "its tail is not a setting (workers %ld)", (long)c.workers);
	TH_OK(c.metrics_allow != NULL && strlen(c.metrics_allow) == 8210 - 24,
	    "the long value is kept whole (%zu bytes)",
	    c.metrics_allow != NULL ? strlen(c.metrics_allow) : 0);
	cfg_free(&c);
	free(line);

	line = long_line("MASKGATE_METRICS_ALLOW", CFG_MAX_LINE + 1, "x");
	write_cfg(line, strlen(line));
	err[0] = '\0';
	TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_EINVAL, "an over-long line is refused");
	want = "line 5: longer than 65536 bytes";
	TH_OK(strstr(err, path) != NULL && strstr(err, want) != NULL,
	    "the error names the file and the line: %s", err);
	free(line);

	write_cfg("MASKGATE_WORKERS=2\0MASKGATE_ENV=production\n", 43);
	err[0] = '\0';
	TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_EINVAL &&
	    strstr(err, "line 5: contains a NUL byte") != NULL, "a NUL byte is refused: %s", err);

	write_cfg("MASKGATE_WORKERS\n", 17);
	err[0] = '\0';
	TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_EINVAL &&
	    strstr(err, "line 5: expected NAME=VALUE") != NULL, "a line without = is refused: %s",
	    err);

	write_cfg("MASKGATE_RULES=/etc/maskgate/site.rules\n", 40);
	{
		int failed = 0;
		char *v = cfg_lookup("MASKGATE_RULES", err, sizeof(err), &failed);
		TH_OK(!failed && v != NULL && strcmp(v, "/etc/maskgate/site.rules") == 0,
		    "cfg_lookup reads one setting from the file");
		free(v);
	}

	/* the files values came from are recorded: the claude-code sandbox hides them */
	{
		char keyfile[96], upfile[96], line2[256];
		FILE *f;
		size_t i, seen = 0;

		snprintf(keyfile, sizeof(keyfile), "%s/jwt.secret", dir);
		snprintf(upfile, sizeof(upfile), "%s/upstream.key", dir);
		f = fopen(keyfile, "w");
		MG_ASSERT(f != NULL);
		fputs("Zq8vT3nLw0Pb5Yc7Hd2Kf9Rm4Xs6Ja1GqW\n", f);
		fclose(f);
		f = fopen(upfile, "w");
		MG_ASSERT(f != NULL);
		fputs("sk-ant-upstream\n", f);
		fclose(f);
		/* one NAME_FILE in the config file, one in the environment */
		snprintf(line2, sizeof(line2), "MASKGATE_JWT_SECRET_FILE=%s\n", keyfile);
		write_cfg(line2, strlen(line2));
		setenv("MASKGATE_UPSTREAM_API_KEY_FILE", upfile, 1);
		err[0] = '\0';
		TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_OK, "secrets from files load: %s", err);
		for (i = 0; i < c.nfiles; i++)
			seen |= (strcmp(c.files[i], path) == 0 ? 1u : 0u) |
			    (strcmp(c.files[i], keyfile) == 0 ? 2u : 0u) |
			    (strcmp(c.files[i], upfile) == 0 ? 4u : 0u);
		TH_OK(c.nfiles == 3 && seen == 7,
		    "the config file and both NAME_FILE files are recorded (%zu files)", c.nfiles);
		cfg_free(&c);
		unsetenv("MASKGATE_UPSTREAM_API_KEY_FILE");
		unlink(keyfile);
		unlink(upfile);
	}

	/* Bedrock and Vertex settings come in sets */
	{
		static const struct {
			const char *lines, *want;
		} cloud[] = {
			{ "MASKGATE_AWS_ACCESS_KEY_ID=AKIAEXAMPLE0000000001\n"
			  "MASKGATE_BEDROCK_REGION=us-east-1\n", "MASKGATE_AWS_SECRET_ACCESS_KEY" },
			{ "MASKGATE_AWS_SESSION_TOKEN=tok\nMASKGATE_BEDROCK_REGION=us-east-1\n",
			  "MASKGATE_AWS_SESSION_TOKEN" },
			{ "MASKGATE_BEDROCK_API_KEY=k\n", "MASKGATE_BEDROCK_REGION" },
			{ "MASKGATE_BEDROCK_API_KEY=k\nMASKGATE_BEDROCK_REGION=us-east-1\n"
			  "MASKGATE_AWS_ACCESS_KEY_ID=a\nMASKGATE_AWS_SECRET_ACCESS_KEY=s\n",
			  "not both" },
			{ "MASKGATE_BEDROCK_URL=http://127.0.0.1:9\nMASKGATE_BEDROCK_REGION=us/east\n",
			  "not a region" },
			{ "MASKGATE_VERTEX_REGION=US_EAST5\n", "MASKGATE_VERTEX_REGION" },
			{ "MASKGATE_UPSTREAM_FORMAT=openai\n", "MASKGATE_UPSTREAM_FORMAT" },
			{ "MASKGATE_UPSTREAM_FORMAT=bedrock\n", "bedrock needs" },
			{ "MASKGATE_UPSTREAM_FORMAT=vertex\nMASKGATE_VERTEX_SA_KEY={}\n", "vertex needs" },
		};
		size_t i;

		for (i = 0; i < MG_NELEM(cloud); i++) {
			write_cfg(cloud[i].lines, strlen(cloud[i].lines));
			err[0] = '\0';
			TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_EINVAL &&
			    strstr(err, cloud[i].want) != NULL, "cloud settings %zu refused: %s", i, err);
			cfg_free(&c);
		}
		want = "MASKGATE_AWS_ACCESS_KEY_ID=AKIAEXAMPLE0000000001\n"
		    "MASKGATE_AWS_SECRET_ACCESS_KEY=abc/def+ghi\nMASKGATE_AWS_SESSION_TOKEN=t0k\n"
		    "MASKGATE_BEDROCK_REGION=eu-central-1\n";
		write_cfg(want, strlen(want));
		err[0] = '\0';
		TH_OK(cfg_load(&c, 0, err, sizeof(err)) == MG_OK &&
		    strcmp(c.aws_secret_access_key, "abc/def+ghi") == 0 &&
		    strcmp(c.bedrock_region, "eu-central-1") == 0, "a full Bedrock set loads: %s", err);
		cfg_free(&c);
	}

	/* this host's lock files: the setting, else next to SQLite, else a fixed default */
	{
		static const struct {
			const char *db, *run_dir, *want;
		} rd[] = {
			{ "/srv/mg/store.db", NULL, "/srv/mg" },
			{ "store.db", NULL, "." },
			{ "/store.db", NULL, "/" },
			{ "/srv/mg/store.db", "/run/mg", "/run/mg" },
			{ "postgresql://u:p@db.example:5432/mg", NULL, CFG_RUN_DIR_PG },
			{ "host=/run/postgresql dbname=mg", "", CFG_RUN_DIR_PG },
			{ "postgres://u@h/mg", "/run/mg", "/run/mg" },
		};
		char buf[64], tiny[4];
		size_t i;
		const char *got;

		memset(&c, 0, sizeof(c));
		for (i = 0; i < MG_NELEM(rd); i++) {
			c.db_path = (char *)rd[i].db;
			c.run_dir = (char *)rd[i].run_dir;
			got = cfg_run_dir(&c, buf, sizeof(buf));
			TH_OK(got != NULL && strcmp(got, rd[i].want) == 0,
			    "run directory for %s (MASKGATE_RUN_DIR %s) is %s", rd[i].db,
			    rd[i].run_dir != NULL ? rd[i].run_dir : "unset", got != NULL ? got : "NULL");
		}
		c.db_path = (char *)"/srv/mg/store.db";
		c.run_dir = NULL;
		TH_OK(cfg_run_dir(&c, tiny, sizeof(tiny)) == NULL, "a run directory too long is NULL");
		memset(&c, 0, sizeof(c));
	}

	unlink(path);
	rmdir(dir);
	return th_done();
}
