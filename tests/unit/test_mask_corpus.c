/*
 * test_mask_corpus.c - accuracy of the default rules on realistic material
 * (tests/corpus/positive: AWS CLI JSON, Terraform state, CloudFormation,
 * IAM policies, CloudTrail, shell history, credentials files, each with a
 * hand-reviewed NAME.expect list; tests/corpus/negative: source code, git
 * logs, UUID JSON, prose, private network configs, version listings).
 *
 * Prints recall and false positives per type, then checks the engine on
 * every file: no expected value survives masking, unmask(mask(x)) == x,
 * mask(unmask(m)) == m, and masking is idempotent.
 */
#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"

#define MAX_TYPES 128
#define MAX_EXPECT 256

struct tally {
	char type[48];
	int expected, hit, fp;
};

static struct tally tallies[MAX_TYPES];
static int ntallies;
static struct rules *R;
static struct arena A;

static struct tally *
tally_of(const char *type)
{
	int i;

	for (i = 0; i < ntallies; i++)
		if (strcmp(tallies[i].type, type) == 0)
			return &tallies[i];
	if (ntallies == MAX_TYPES)
		return &tallies[0];
	snprintf(tallies[ntallies].type, sizeof(tallies[ntallies].type), "%s", type);
	return &tallies[ntallies++];
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *d;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	d = malloc((size_t)n + 1);
	if (d == NULL || fread(d, 1, (size_t)n, f) != (size_t)n) {
		free(d);
		fclose(f);
		return NULL;
	}
	fclose(f);
	d[n] = '\0';
	*len = (size_t)n;
	return d;
}

struct expect {
	char type[48];
	char *value;
	int found;
};

static int
load_expect(const char *path, struct expect *ex)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return 0;
	while (n < MAX_EXPECT && fgets(line, sizeof(line), f) != NULL) {
		char *tab = strchr(line, '\t'), *nl;
		if (line[0] == '#' || tab == NULL)
			continue;
		*tab = '\0';
		nl = strchr(tab + 1, '\n');
		if (nl != NULL)
			*nl = '\0';
		snprintf(ex[n].type, sizeof(ex[n].type), "%.47s", line);
		ex[n].value = strdup(tab + 1);
		ex[n].found = 0;
		n++;
	}
	fclose(f);
	return n;
}

static int wrong_type, neg_fp;

/* rules-level accuracy of one file */
static void
score(const char *path, const char *text, size_t len, struct expect *ex, int nex, int negative)
{
	struct rules_match *m;
	size_t n, i;
	int k;

	arena_reset(&A);
	if (rules_scan(R, &A, text, len, &m, &n) != MG_OK) {
		TH_OK(0, "scan %s", path);
		return;
	}
	for (i = 0; i < n; i++) {
		const char *type = rules_type(R, m[i].rule);
		size_t vlen = m[i].end - m[i].start;
		int matched = 0;
		if (m[i].action != RULES_MASK)
			continue;
		for (k = 0; k < nex; k++) {
			if (strlen(ex[k].value) == vlen && memcmp(ex[k].value, text + m[i].start, vlen) == 0) {
				if (strcmp(ex[k].type, type) == 0) {
					ex[k].found = 1;
					matched = 1;
				} else {
					wrong_type++;
				}
			}
		}
		if (!matched) {
			tally_of(type)->fp++;
			if (negative)
				neg_fp++;
			printf("# %s: unexpected %s: %.*s\n", path, type, (int)vlen, text + m[i].start);
		}
	}
	for (k = 0; k < nex; k++) {
		struct tally *t = tally_of(ex[k].type);
		t->expected++;
		t->hit += ex[k].found;
		if (!ex[k].found)
			printf("# %s: missed %s: %s\n", path, ex[k].type, ex[k].value);
	}
}

/* engine-level checks of one file with a real store */
static void
engine(struct store *s, const char *path, const char *text, size_t len, struct expect *ex, int nex)
{
	struct mask_session *m = mask_session_new(&A, R, s, "corpus");
	struct buf masked, back, again, remask;
	int k, leaks = 0;

	buf_init(&masked, &A);
	buf_init(&back, &A);
	buf_init(&again, &A);
	buf_init(&remask, &A);
	if (m == NULL || mask_text(m, text, len, &masked) != MG_OK) {
		TH_OK(0, "%s: mask", path);
		return;
	}
	for (k = 0; k < nex; k++)
		if (memmem(masked.data, masked.len, ex[k].value, strlen(ex[k].value)) != NULL) {
			printf("# %s: %s still in clear after masking: %s\n", path, ex[k].type, ex[k].value);
			leaks++;
		}
	TH_OK(leaks == 0, "%s: no expected value survives masking (%d leaks)", path, leaks);
	m = mask_session_new(&A, R, s, "corpus");
	TH_OK(mask_unmask(m, masked.data, masked.len, 0, &back) == MG_OK && back.len == len &&
	    memcmp(back.data, text, len) == 0, "%s: unmask(mask(x)) == x", path);
	m = mask_session_new(&A, R, s, "corpus");
	TH_OK(mask_text(m, back.data, back.len, &again) == MG_OK && again.len == masked.len &&
	    memcmp(again.data, masked.data, masked.len) == 0, "%s: mask(unmask(m)) == m (stable across requests)", path);
	m = mask_session_new(&A, R, s, "corpus");
	TH_OK(mask_text(m, masked.data, masked.len, &remask) == MG_OK && remask.len == masked.len &&
	    memcmp(remask.data, masked.data, masked.len) == 0, "%s: mask(m) == m (idempotent)", path);
}

static void
run_dir(struct store *s, const char *dir, int negative)
{
	struct dirent **names;
	int nn, i;

	nn = scandir(dir, &names, NULL, alphasort);
	TH_OK(nn > 2, "corpus %s present", dir);
	for (i = 0; i < nn; i++) {
		char path[1024], epath[1100];
		struct expect ex[MAX_EXPECT];
		size_t len;
		char *text;
		int nex = 0, k;
		const char *nm = names[i]->d_name;
		size_t l = strlen(nm);

		if (nm[0] == '.' || (l > 7 && strcmp(nm + l - 7, ".expect") == 0)) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		snprintf(epath, sizeof(epath), "%s.expect", path);
		text = slurp(path, &len);
		if (!negative) {
			nex = load_expect(epath, ex);
			TH_OK(nex > 0, "%s has expectations", nm);
		}
		if (text != NULL) {
			score(nm, text, len, ex, nex, negative);
			engine(s, nm, text, len, ex, nex);
		}
		for (k = 0; k < nex; k++)
			free(ex[k].value);
		free(text);
		free(names[i]);
	}
	free(names);
}

int
main(void)
{
	char dir[] = "/tmp/mg_corpus_XXXXXX", db[300], err[512], pos[512], neg[512];
	const char *root = getenv("MG_CORPUS") != NULL ? getenv("MG_CORPUS") : "tests/corpus";
	struct cfg c;
	struct store *s = NULL;
	int i, exp = 0, hit = 0, fp = 0;

	log_set_level(LOG_WARN);
	arena_init(&A);
	if (rules_load(NULL, &R, err, sizeof(err)) != MG_OK || mkdtemp(dir) == NULL) {
		TH_OK(0, "setup: %s", err);
		return th_done();
	}
	snprintf(db, sizeof(db), "%s/corpus.db", dir);
	memset(&c, 0, sizeof(c));
	c.db_path = db;
	memset(c.data_key, 9, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 86400;
	c.busy_timeout_ms = 5000;
	TH_OK(store_open(&c, &s, err, sizeof(err)) == MG_OK, "store opens");
	if (s == NULL)
		return th_done();
	snprintf(pos, sizeof(pos), "%s/positive", root);
	snprintf(neg, sizeof(neg), "%s/negative", root);
	run_dir(s, pos, 0);
	run_dir(s, neg, 1);

	printf("# | type | expected | found | recall | false positives |\n");
	printf("# |---|---|---|---|---|\n");
	for (i = 0; i < ntallies; i++) {
		struct tally *t = &tallies[i];
		printf("# | %s | %d | %d | %.0f%% | %d |\n", t->type, t->expected, t->hit,
		    t->expected ? 100.0 * t->hit / t->expected : 100.0, t->fp);
		exp += t->expected;
		hit += t->hit;
		fp += t->fp;
	}
	printf("# | all | %d | %d | %.1f%% | %d |\n", exp, hit, exp ? 100.0 * hit / exp : 0.0, fp);
	TH_OK(exp > 150 && hit * 100 >= exp * 97, "recall >= 97%% overall (%d of %d)", hit, exp);
	TH_OK(neg_fp == 0, "no false positives on negative material (%d)", neg_fp);
	TH_OK(fp * 100 <= exp, "false positives <= 1%% on positive material (%d)", fp);
	TH_OK(wrong_type == 0, "no value masked under the wrong type (%d)", wrong_type);

	store_close(s);
	{
		static const char *const sfx[] = { "", "-wal", "-shm" };
		for (i = 0; i < 3; i++) {
			snprintf(db, sizeof(db), "%s/corpus.db%s", dir, sfx[i]);
			unlink(db);
		}
		rmdir(dir);
	}
	rules_free(R);
	arena_free(&A);
	return th_done();
}
