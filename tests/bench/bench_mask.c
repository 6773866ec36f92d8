/*
 * bench_mask.c - masking throughput on ~1 MB of Claude-Code-shaped text
 * (system prompt and tool descriptions, prose, source code, AWS CLI JSON
 * tool results, shell output), next to a memchr pass over the same text.
 *
 *   scan        rules only (lead filter + regex + overlap resolution)
 *   all-known   a new request whose values are all in the store already
 *   all-new     a new tenant each round: every value is minted
 *
 * Output: markdown table rows "| name | value | ratio |" (ratio to memchr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "cfg.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"

static unsigned long rng = 88172645463325252UL;

static unsigned long
next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void
hex(char *out, int n)
{
	int i;

	for (i = 0; i < n; i++)
		out[i] = "0123456789abcdef"[next_rand() % 16];
	out[n] = '\0';
}

static const char *prose =
    "You are Claude Code, an interactive CLI tool that helps users with software engineering tasks. "
    "Use the instructions below and the tools available to you to assist the user. When the user asks "
    "about the deployment, check the current state first, explain what you found, and propose the "
    "smallest change that fixes the problem. Prefer editing existing files to creating new ones; keep "
    "the feedback loop short and run the tests after every change. The changelogs of the last release "
    "mention a regression in the k8s-cluster autoscaler; see the notes in docs/operations.md before "
    "touching the node groups. Version 2.1.4 of the client fixed the retry logic for 529 errors.\n";

static const char *code =
    "static int\nparse_header(const char *line, size_t len, struct header *h)\n{\n"
    "\tconst char *colon = memchr(line, ':', len);\n\tif (colon == NULL)\n\t\treturn -1;\n"
    "\th->name = line;\n\th->namelen = (size_t)(colon - line);\n\treturn 0;\n}\n"
    "def handler(event, context):\n    records = event.get('Records', [])\n"
    "    for r in records:\n        logger.info('processing %s', r['messageId'])\n    return {'ok': True}\n";

static size_t
gen_instance(char *o, size_t cap)
{
	char i17[18], vpc[18], sn[18], sg[18], ami[18], eni[18], vol[18];

	hex(i17, 17), hex(vpc, 17), hex(sn, 17), hex(sg, 17), hex(ami, 17), hex(eni, 17), hex(vol, 17);
	return (size_t)snprintf(o, cap,
	    "{\n  \"Reservations\": [{\n    \"OwnerId\": \"%012lu\",\n    \"Instances\": [{\n"
	    "      \"InstanceId\": \"i-%s\",\n      \"ImageId\": \"ami-%s\",\n      \"InstanceType\": \"t3.micro\",\n"
	    "      \"PrivateIpAddress\": \"10.0.%lu.%lu\",\n      \"PublicIpAddress\": \"54.%lu.%lu.%lu\",\n"
	    "      \"SubnetId\": \"subnet-%s\",\n      \"VpcId\": \"vpc-%s\",\n"
	    "      \"SecurityGroups\": [{\"GroupName\": \"web\", \"GroupId\": \"sg-%s\"}],\n"
	    "      \"NetworkInterfaces\": [{\"NetworkInterfaceId\": \"eni-%s\"}],\n"
	    "      \"BlockDeviceMappings\": [{\"DeviceName\": \"/dev/xvda\", \"Ebs\": {\"VolumeId\": \"vol-%s\"}}],\n"
	    "      \"IamInstanceProfile\": {\"Arn\": \"arn:aws:iam::%012lu:instance-profile/web-%lu\"},\n"
	    "      \"State\": {\"Code\": 16, \"Name\": \"running\"},\n      \"LaunchTime\": \"2024-05-01T10:00:00+00:00\"\n"
	    "    }]\n  }]\n}\n",
	    100000000000UL + next_rand() % 899999999999UL, i17, ami, next_rand() % 250, next_rand() % 250,
	    next_rand() % 250, next_rand() % 250, next_rand() % 250 + 1, sn, vpc, sg, eni, vol,
	    100000000000UL + next_rand() % 899999999999UL, next_rand() % 1000);
}

static size_t
gen_shell(char *o, size_t cap)
{
	char b[18];

	hex(b, 8);
	return (size_t)snprintf(o, cap,
	    "$ aws s3 ls s3://logs-%s/2024/05/\n2024-05-01 10:00:00     1234 app.log\n"
	    "$ git log --oneline -3\n9fceb02 Fix retry loop\n3f2504e Add tests\n0a1b2c3 Initial\n"
	    "$ curl -s https://%s%s.execute-api.us-east-1.amazonaws.com/prod/health\n{\"status\":\"ok\"}\n"
	    "$ ls -la /home/user/project/src\ntotal 12\n-rw-r--r-- 1 user user 2048 main.c\n", b, b, "ab");
}

static char *
make_text(size_t target, size_t *len)
{
	char *t = malloc(target + 8192);
	size_t n = 0;
	int k = 0;

	while (n < target) {
		switch (k++ % 6) {
		case 0:
		case 3:
			n += (size_t)snprintf(t + n, target + 8192 - n, "%s", prose);
			break;
		case 1:
			n += (size_t)snprintf(t + n, target + 8192 - n, "%s", code);
			break;
		case 2:
		case 4:
			n += gen_instance(t + n, target + 8192 - n);
			break;
		default:
			n += gen_shell(t + n, target + 8192 - n);
		}
	}
	*len = n;
	return t;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scan throughput in MB/s of the rule packs named by packs over text. */
static double
scan_packs(const char *packs, struct arena *a, const char *text, size_t len, size_t *nrules)
{
	struct rules *r;
	char err[512];
	double t0, rate;
	int k, rounds = 20;

	if (rules_load_packs(packs, NULL, &r, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "bench_mask: %s\n", err);
		return 0.0;
	}
	/* untimed: each rule is compiled to machine code at its first use */
	rules_jit_all(r);
	t0 = now();
	for (k = 0; k < rounds; k++) {
		struct rules_match *m;
		size_t n;
		rules_scan(r, a, text, len, &m, &n);
		arena_reset(a);
	}
	rate = (double)len * rounds / (now() - t0) / 1e6;
	*nrules = rules_count(r);
	rules_free(r);
	return rate;
}

int
main(void)
{
	char dir[] = "/tmp/mg_bench_XXXXXX", db[300], err[512], tenant[64];
	struct cfg c;
	struct rules *r;
	struct store *s;
	struct arena a;
	size_t len, i, total, nm = 0;
	char *text;
	double t0, base, scan, known, fresh, aws_only, four;
	size_t n_aws = 0, n_four = 0;
	volatile size_t sink = 0;
	int rounds, k;

	log_set_level(LOG_WARN);
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(db, sizeof(db), "%s/bench.db", dir);
	memset(&c, 0, sizeof(c));
	c.db_path = db;
	memset(c.data_key, 7, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 7 * 86400;
	c.busy_timeout_ms = 5000;
	if (rules_load(NULL, &r, err, sizeof(err)) != MG_OK || store_open(&c, &s, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "bench_mask: %s\n", err);
		return 1;
	}
	text = make_text(1 << 20, &len);
	arena_init(&a);

	/* baseline: one memchr pass (count newlines) */
	rounds = 200;
	t0 = now();
	for (k = 0; k < rounds; k++) {
		const char *p = text, *end = text + len;
		while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			sink++;
			p++;
		}
	}
	base = (double)len * rounds / (now() - t0) / 1e6;

	rounds = 20;
	rules_jit_all(r);	/* as in a worker that has scanned before */
	t0 = now();
	for (k = 0; k < rounds; k++) {
		struct rules_match *m;
		rules_scan(r, &a, text, len, &m, &nm);
		arena_reset(&a);
	}
	scan = (double)len * rounds / (now() - t0) / 1e6;
	/* the packs' cost: aws alone against aws,secrets,gcp,azure, same text */
	aws_only = scan_packs("aws", &a, text, len, &n_aws);
	four = scan_packs("aws,secrets,gcp,azure", &a, text, len, &n_four);

	/* warm the store, then time new requests whose values are all known */
	{
		struct mask_session *m = mask_session_new(&a, r, s, "bench");
		struct buf out;
		buf_init(&out, &a);
		if (mask_text(m, text, len, &out) != MG_OK) {
			fprintf(stderr, "bench_mask: mask failed\n");
			return 1;
		}
		arena_reset(&a);
	}
	rounds = 10;
	t0 = now();
	for (k = 0; k < rounds; k++) {
		struct mask_session *m = mask_session_new(&a, r, s, "bench");
		struct buf out;
		buf_init(&out, &a);
		mask_text(m, text, len, &out);
		sink += out.len;
		arena_reset(&a);
	}
	known = (double)len * rounds / (now() - t0) / 1e6;

	rounds = 3;
	t0 = now();
	for (k = 0; k < rounds; k++) {
		struct mask_session *m;
		struct buf out;
		snprintf(tenant, sizeof(tenant), "fresh-%d", k);
		m = mask_session_new(&a, r, s, tenant);
		buf_init(&out, &a);
		mask_text(m, text, len, &out);
		sink += out.len;
		arena_reset(&a);
	}
	fresh = (double)len * rounds / (now() - t0) / 1e6;

	total = len;
	printf("| text | %.2f MB, %zu spans masked | |\n", (double)total / 1e6, nm);
	printf("| memchr baseline | %.0f MB/s | 1.00 |\n", base);
	printf("| scan, default packs aws,secrets (%zu rules, %s) | %.0f MB/s | %.3f |\n", rules_count(r), rules_jit(r) ? "JIT" : "interpreter",
	    scan, scan / base);
	printf("| scan, packs aws (%zu rules) | %.0f MB/s | %.3f |\n", n_aws, aws_only, aws_only / base);
	printf("| scan, packs aws,secrets,gcp,azure (%zu rules) | %.0f MB/s | %.3f (%.2f of aws alone) |\n",
	    n_four, four, four / base, aws_only > 0 ? four / aws_only : 0.0);
	printf("| mask all-known | %.0f MB/s | %.3f |\n", known, known / base);
	printf("| mask all-new | %.1f MB/s | %.4f |\n", fresh, fresh / base);
	(void)sink;
	arena_free(&a);
	free(text);
	rules_free(r);
	store_close(s);
	for (i = 0; i < 3; i++) {
		static const char *const sfx[] = { "", "-wal", "-shm" };
		snprintf(db, sizeof(db), "%s/bench.db%s", dir, sfx[i]);
		unlink(db);
	}
	rmdir(dir);
	return 0;
}
