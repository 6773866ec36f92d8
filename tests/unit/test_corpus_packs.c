/*
 * test_corpus_packs.c - accuracy of the secrets, gcp and azure packs on
 * material nobody on the team wrote (tests/corpus/packs, see
 * tests/corpus/README.md):
 *
 *   packs.txt.gz      scanners' published fixtures and Debian package files
 *                     holding credentials, labelled by label_packs.py from
 *                     the providers' documented formats (labels.tsv)
 *   packs_neg.txt.gz  hard negatives: scanners' false-positive fixtures,
 *                     SDK code that names credentials, real config files
 *   ../thirdparty/nonaws.txt.gz  the 4.1 MB non-AWS negative set
 *
 * Recall is measured with aws,secrets,gcp,azure (a labelled occurrence is
 * caught when masking covers all of it); false placeholders with the
 * default aws,secrets (every masked span in a negative document is false).
 * Targets (issue 13): 100 % for provider-shaped credentials, >= 99 % for
 * context-found secrets (families ctx_*), <= 0.2 false placeholders per
 * 100 KB. The table lines start with "# |" so `make bench` can copy them.
 */
#include <stdlib.h>

#include "corpus_read.h"
#include "th.h"
#include "log.h"
#include "rules.h"

#define MAX_FAM 64

struct fam {
	char name[32];
	int expected, hit;
};

static struct fam fams[MAX_FAM];
static int nfams;

static struct fam *
fam_of(const char *name)
{
	int i;

	for (i = 0; i < nfams; i++)
		if (strcmp(fams[i].name, name) == 0)
			return &fams[i];
	if (nfams == MAX_FAM)
		return &fams[0];
	snprintf(fams[nfams].name, sizeof(fams[nfams].name), "%s", name);
	return &fams[nfams++];
}

/* per-rule false placeholders (by rule slot) */
static unsigned falses[1024];

/* Scans every negative document; returns the false placeholders found. */
static size_t
scan_negatives(const struct rules *r, struct arena *a, const struct doc *d, size_t nd,
    size_t *bytes)
{
	size_t i, j, fp = 0;

	for (i = 0; i < nd; i++) {
		struct rules_match *m;
		size_t n;
		arena_reset(a);
		*bytes += d[i].len;
		if (rules_scan(r, a, d[i].text, d[i].len, &m, &n) != MG_OK) {
			fp += 1000;	/* a failed scan fails the test */
			continue;
		}
		for (j = 0; j < n; j++) {
			if (m[j].action != RULES_MASK)
				continue;
			fp++;
			if (m[j].rule < 1024)
				falses[m[j].rule]++;
			printf("# false placeholder %s in %s: %.*s\n", rules_type(r, m[j].rule),
			    d[i].head, (int)(m[j].end - m[j].start > 80 ? 80 : m[j].end - m[j].start),
			    d[i].text + m[j].start);
		}
	}
	return fp;
}

int
main(void)
{
	const char *root = getenv("MG_CORPUS") != NULL ? getenv("MG_CORPUS") : "tests/corpus";
	char err[512] = "", path[600], line[1 << 16];
	struct rules *all = NULL, *def = NULL;
	struct arena A;
	char *pos = NULL, *neg = NULL, *non = NULL;
	size_t poslen = 0, neglen = 0, nonlen = 0, npos = 0, nneg = 0, nnon = 0, i;
	size_t fp = 0, negbytes = 0, nlab = 0;
	struct doc *pd = NULL, *nd = NULL, *od = NULL;
	FILE *f;
	int bad = 0, exp = 0, hit = 0;
	double per100k;

	log_set_level(LOG_WARN);
	arena_init(&A);
	TH_OK(rules_load_packs("aws,secrets,gcp,azure", NULL, &all, err, sizeof(err)) == MG_OK,
	    "aws,secrets,gcp,azure load: %s", err);
	TH_OK(rules_load_packs(NULL, NULL, &def, err, sizeof(err)) == MG_OK, "defaults load: %s", err);
	snprintf(path, sizeof(path), "%s/packs/packs.txt.gz", root);
	pos = gunzip(path, &poslen);
	snprintf(path, sizeof(path), "%s/packs/packs_neg.txt.gz", root);
	neg = gunzip(path, &neglen);
	snprintf(path, sizeof(path), "%s/thirdparty/nonaws.txt.gz", root);
	non = gunzip(path, &nonlen);
	snprintf(path, sizeof(path), "%s/packs/labels.tsv", root);
	f = fopen(path, "r");
	TH_OK(all != NULL && def != NULL && pos != NULL && neg != NULL && non != NULL && f != NULL,
	    "corpus, labels and rules load");
	if (all == NULL || def == NULL || pos == NULL || neg == NULL || non == NULL || f == NULL)
		goto out;
	npos = split_docs(pos, poslen, &pd);
	nneg = split_docs(neg, neglen, &nd);
	nnon = split_docs(non, nonlen, &od);
	TH_OK(npos >= 40 && nneg >= 400, "at least 40 positive and 400 negative documents (%zu, %zu)",
	    npos, nneg);

	/* recall: every labelled occurrence masked whole */
	while (fgets(line, sizeof(line), f) != NULL) {
		char fam[32];
		size_t doc, off, len, n;
		struct rules_match *m;
		struct fam *fa;
		if (line[0] == '#' || sscanf(line, "%zu\t%31s\t%zu\t%zu", &doc, fam, &off, &len) != 4)
			continue;
		nlab++;
		fa = fam_of(fam);
		fa->expected++;
		if (doc >= npos || off + len > pd[doc].len) {
			printf("# label outside its document: %s", line);
			bad++;
			continue;
		}
		arena_reset(&A);
		if (rules_scan(all, &A, pd[doc].text, pd[doc].len, &m, &n) == MG_OK &&
		    covered(m, n, off, off + len) == len)
			fa->hit++;
		else
			printf("# missed %s in %s: %.*s\n", fam, pd[doc].head, (int)(len > 100 ? 100 : len),
			    pd[doc].text + off);
	}
	fclose(f);
	TH_OK(nlab >= 100 && bad == 0, "labels load and lie in their documents (%zu)", nlab);

	/* false placeholders with the default packs */
	fp = scan_negatives(def, &A, nd, nneg, &negbytes);
	fp += scan_negatives(def, &A, od, nnon, &negbytes);

	printf("# | family | labelled | caught | recall |\n");
	printf("# |---|---|---|---|\n");
	for (i = 0; i < (size_t)nfams; i++) {
		struct fam *fa = &fams[i];
		int ctx = strncmp(fa->name, "ctx_", 4) == 0;
		printf("# | %s | %d | %d | %.1f %% |\n", fa->name, fa->expected, fa->hit,
		    fa->expected ? 100.0 * fa->hit / fa->expected : 100.0);
		exp += fa->expected;
		hit += fa->hit;
		if (ctx ? fa->hit * 100 < fa->expected * 99 : fa->hit != fa->expected)
			bad++;
	}
	per100k = negbytes > 0 ? (double)fp * 102400.0 / (double)negbytes : 0.0;
	printf("# | all | %d | %d | %.2f %% |\n", exp, hit, exp ? 100.0 * hit / exp : 0.0);
	printf("# | false placeholders (aws,secrets) in %.1f MB of code, configs and text | %zu | | %.3f per 100 KB |\n",
	    (double)negbytes / 1048576.0, fp, per100k);
	for (i = 0; i < rules_slots(def) && i < 1024; i++)
		if (falses[i] > 0)
			printf("# | false placeholders of rule %s (%s) | %u | | |\n", rules_name(def, (unsigned)i),
			    rules_pack_name(def, (unsigned)i), falses[i]);
	TH_OK(bad == 0, "recall 100 %% for provider-shaped credentials, >= 99 %% for context-found secrets");
	TH_OK(per100k <= 0.2, "false placeholders <= 0.2 per 100 KB with aws,secrets (%.3f)", per100k);
out:
	free(pd);
	free(nd);
	free(od);
	free(pos);
	free(neg);
	free(non);
	rules_free(all);
	rules_free(def);
	arena_free(&A);
	return th_done();
}
