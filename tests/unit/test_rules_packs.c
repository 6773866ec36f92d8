/*
 * test_rules_packs.c - rule packs: MASKGATE_RULE_PACKS selection (default
 * aws,secrets, unknown names refused by name), the placeholder families
 * (SECRET_, GCP_, AZURE_, PII_ beside AWS_) in the parser, the stream
 * holdback's prefix test and the scan for the next placeholder; a
 * placeholder minted by a pack that is switched off later still unmasks
 * for its tenant, and only for it; the pack validators (GitHub CRC32,
 * Luhn, IBAN, phone, secret shapes).
 */
#include <stdlib.h>
#include <unistd.h>

#include "th.h"
#include "cfg.h"
#include "log.h"
#include "mask.h"
#include "rules.h"
#include "store.h"
#include "validate.h"

static int
vrun(const char *name, const char *s)
{
	return validate_run(validate_lookup(name), s, strlen(s), 0, strlen(s));
}

/* The masked form of text in a new session, in a; NULL on error. */
static char *
mask_with(struct arena *a, struct rules *r, struct store *s, const char *tenant, const char *text)
{
	struct mask_session *m = mask_session_new(a, r, s, tenant);
	struct buf out;

	buf_init(&out, a);
	if (m == NULL || mask_text(m, text, strlen(text), &out) != MG_OK || buf_append(&out, "", 1) != MG_OK)
		return NULL;
	return out.data;
}

static char *
unmask_with(struct arena *a, struct rules *r, struct store *s, const char *tenant, const char *text)
{
	struct mask_session *m = mask_session_new(a, r, s, tenant);
	struct buf out;

	buf_init(&out, a);
	if (m == NULL || mask_unmask(m, text, strlen(text), 0, &out) != MG_OK ||
	    buf_append(&out, "", 1) != MG_OK)
		return NULL;
	return out.data;
}

static void
test_selection(void)
{
	struct rules *r = NULL;
	char err[512] = "";
	unsigned rule;
	unsigned long num;
	size_t end, i, on = 0, off = 0;

	TH_OK(rules_load_packs("aws,nope", NULL, &r, err, sizeof(err)) == MG_ERULES && r == NULL &&
	    strstr(err, "MASKGATE_RULE_PACKS") != NULL && strstr(err, "'nope'") != NULL &&
	    strstr(err, "secrets") != NULL, "an unknown pack is refused by name: %s", err);
	TH_OK(rules_load_packs(" , ", NULL, &r, err, sizeof(err)) == MG_ERULES,
	    "a list naming no pack is refused: %s", err);
	TH_OK(rules_load_packs(NULL, NULL, &r, err, sizeof(err)) == MG_OK, "defaults load");
	if (r == NULL)
		return;
	for (i = 0; i < rules_slots(r); i++) {
		const char *p = rules_pack_name(r, (unsigned)i);
		if (rules_pack_on(r, (unsigned)i))
			on += strcmp(p, "aws") != 0 && strcmp(p, "secrets") != 0;
		else
			off += strcmp(p, "gcp") == 0 || strcmp(p, "azure") == 0 || strcmp(p, "pii") == 0;
	}
	TH_OK(on == 0 && off > 0, "default packs are aws,secrets; gcp, azure, pii are off");
	TH_OK(rules_placeholder_at(r, "SECRET_GITHUB_TOKEN_001_K7Q2", 28, 0, &rule, &num, &end) &&
	    end == 28 && strcmp(rules_type(r, rule), "GITHUB_TOKEN") == 0 && rules_credential(r, rule),
	    "SECRET_GITHUB_TOKEN_001_K7Q2 parses, a credential");
	TH_OK(rules_placeholder_at(r, "GCP_PROJECT_001", 15, 0, &rule, &num, &end) &&
	    strcmp(rules_pack_name(r, rule), "gcp") == 0, "GCP_PROJECT_001 parses with gcp off");
	TH_OK(rules_placeholder_at(r, "AZURE_SUBSCRIPTION_012", 22, 0, &rule, &num, &end) && num == 12,
	    "AZURE_SUBSCRIPTION_012 parses");
	TH_OK(rules_placeholder_at(r, "PII_EMAIL_1000", 14, 0, &rule, &num, &end) && num == 1000,
	    "PII_EMAIL_1000 parses");
	TH_OK(!rules_placeholder_at(r, "AWS_GITHUB_TOKEN_001_K7Q2", 25, 0, &rule, &num, &end) &&
	    !rules_placeholder_at(r, "SECRET_EC2_001", 14, 0, &rule, &num, &end) &&
	    !rules_placeholder_at(r, "GCP_SUBSCRIPTION_001", 20, 0, &rule, &num, &end),
	    "a type under another pack's family is no placeholder");
	TH_OK(!rules_placeholder_at(r, "PII_PRIVATE_IPV4_001", 20, 0, &rule, &num, &end),
	    "a rule switched off (private addresses) mints and parses nothing");
	TH_OK(rules_placeholder_prefix(r, "SECR", 4) && rules_placeholder_prefix(r, "SECRET_", 7) &&
	    rules_placeholder_prefix(r, "SECRET_GITHUB_TOKEN_001_K7", 26) &&
	    rules_placeholder_prefix(r, "GCP_PRO", 7) && rules_placeholder_prefix(r, "AZ", 2) &&
	    rules_placeholder_prefix(r, "PII_EMAIL_00", 12), "holdback prefixes of every family");
	TH_OK(!rules_placeholder_prefix(r, "SECRET_NOPE", 11) && !rules_placeholder_prefix(r, "GCQ", 3) &&
	    !rules_placeholder_prefix(r, "PII_EMAIL_001_K", 15), "non-prefixes");
	{
		static const char t[] = "a_b SECRET_JWT_001_AB12 GCP_x PII_EMAIL_001";
		size_t p = rules_placeholder_next(r, t, sizeof(t) - 1, 0);
		size_t q = rules_placeholder_next(r, t, sizeof(t) - 1, p + 1);
		size_t z = rules_placeholder_next(r, t, sizeof(t) - 1, q + 1);
		TH_OK(p == 4 && q == 24 && z == 30, "next placeholder start finds every family (%zu %zu %zu)",
		    p, q, z);
	}
	TH_OK(rules_placeholder_initial('A') && rules_placeholder_initial('S') &&
	    rules_placeholder_initial('G') && rules_placeholder_initial('P') &&
	    !rules_placeholder_initial('x'), "family initials");
	rules_free(r);
}

static void
test_pack_off_unmasks(void)
{
	char dir[] = "/tmp/mg_packs_XXXXXX", db[300], err[512];
	static const char text[] = "gcloud config set project acme-prod-42 # and 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";
	struct cfg c;
	struct store *s = NULL;
	struct rules *all = NULL, *def = NULL;
	struct arena a;
	char *masked, *back, *other;

	arena_init(&a);
	log_set_level(LOG_WARN);
	if (mkdtemp(dir) == NULL)
		return;
	snprintf(db, sizeof(db), "%s/p.db", dir);
	memset(&c, 0, sizeof(c));
	c.db_path = db;
	memset(c.data_key, 9, sizeof(c.data_key));
	c.have_data_key = 1;
	c.map_ttl = 86400;
	c.busy_timeout_ms = 5000;
	TH_OK(store_open(&c, &s, err, sizeof(err)) == MG_OK, "store opens");
	TH_OK(rules_load_packs("aws,secrets,gcp", NULL, &all, err, sizeof(err)) == MG_OK &&
	    rules_load_packs("aws", NULL, &def, err, sizeof(err)) == MG_OK, "rules load");
	if (s == NULL || all == NULL || def == NULL)
		goto out;
	masked = mask_with(&a, all, s, "t1", text);
	TH_OK(masked != NULL && strstr(masked, "acme-prod-42") == NULL &&
	    strstr(masked, "GCP_PROJECT_001") != NULL && strstr(masked, "SECRET_GITHUB_TOKEN_001_") != NULL,
	    "masked with gcp and secrets on: %s", masked != NULL ? masked : "(null)");
	back = masked != NULL ? unmask_with(&a, def, s, "t1", masked) : NULL;
	TH_OK(back != NULL && strstr(back, "project acme-prod-42") != NULL &&
	    strstr(back, "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") != NULL,
	    "switched off later (MASKGATE_RULE_PACKS=aws), both still unmask for the tenant: %s",
	    back != NULL ? back : "(null)");
	other = masked != NULL ? unmask_with(&a, def, s, "t2", masked) : NULL;
	TH_OK(other != NULL && strstr(other, "acme-prod-42") == NULL && strstr(other, "ghp_") == NULL,
	    "and never for another tenant");
	masked = mask_with(&a, def, s, "t1", "set project acme-prod-42");
	TH_OK(masked != NULL && strstr(masked, "acme-prod-42") != NULL,
	    "with gcp off its identifiers are not masked any more in context");
out:
	rules_free(all);
	rules_free(def);
	if (s != NULL)
		store_close(s);
	{
		static const char *const sfx[] = { "", "-wal", "-shm" };
		size_t i;
		for (i = 0; i < 3; i++) {
			snprintf(db, sizeof(db), "%s/p.db%s", dir, sfx[i]);
			unlink(db);
		}
		rmdir(dir);
	}
	arena_free(&a);
}

static void
test_validators(void)
{
	/* checksum computed independently (Python zlib.crc32, base62) */
	TH_OK(vrun("github_crc32", "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"),
	    "GitHub token with a valid CRC32 checksum, even an ordered body");
	TH_OK(!vrun("github_crc32", "ghp_0123456789abcdefghijABCDEFGHIJ3mpbCY"),
	    "same body, wrong checksum, filler: refused");
	TH_OK(!vrun("github_crc32", "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"), "ghp_XXX... refused");
	TH_OK(vrun("luhn", "4111 1111 1111 1111") && vrun("luhn", "5500-0000-0000-0004") &&
	    !vrun("luhn", "4111 1111 1111 1112"), "Luhn");
	TH_OK(vrun("iban", "GB82 WEST 1234 5698 7654 32") && vrun("iban", "DE89370400440532013000") &&
	    !vrun("iban", "GB82 WEST 1234 5698 7654 33"), "IBAN mod 97");
	TH_OK(vrun("phone", "+44 20 7946 0958") && !vrun("phone", "2024-01-15") &&
	    validate_run(validate_lookup("phone"), "call 020 7946 0958", 18, 5, 18) &&
	    !validate_run(validate_lookup("phone"), "ref 020 7946 0958", 17, 4, 17),
	    "phone: E.164 anywhere, national forms after a phone word");
	TH_OK(!vrun("secret_value", "${DB_PASSWORD}") && !vrun("secret_value", "bearer") &&
	    !vrun("secret_value", "{{ .Values.password }}") && !vrun("secret_value", "YOUR_API_KEY") &&
	    !vrun("secret_value", "cls.FIREBASE_PRIVATE_KEY") && !vrun("secret_value", "os.environ[KEY]") &&
	    vrun("secret_value", "S3cr3t-Pa55w0rd") && vrun("secret_value", "a8f5f167f44f4964e6c998dee827110c"),
	    "secret shapes: references, words and code stay; values go");
	TH_OK(!vrun("password", "pass") && !vrun("password", "$PGPASSWORD") && vrun("password", "hunter2x"),
	    "context passwords");
}

int
main(void)
{
	test_selection();
	test_pack_off_unmasks();
	test_validators();
	return th_done();
}
