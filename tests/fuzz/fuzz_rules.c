/*
 * fuzz_rules.c - libFuzzer harness for the rules file parser: any admin
 * file either loads or is refused with a message naming a line; a loaded
 * rule set scans a sample text without failing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "log.h"
#include "rules.h"

static const char sample[] =
    "i-0123456789abcdef0 arn:aws:iam::123456789012:role/x AKIAIOSFODNN7EXAMPLE "
    "s3://bucket-name/key 54.239.28.85 \"OwnerId\": \"123456789012\" AWS_EC2_001 OPS-1234 "
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena a;
	static int init;
	struct rules *r = NULL;
	struct rules_match *m;
	char err[512];
	size_t n;

	if (!init) {
		log_set_level(LOG_ERROR);
		arena_init(&a);
		init = 1;
	}
	err[0] = '\0';
	if (rules_load_text((const char *)data, size, "fuzz.rules", &r, err, sizeof(err)) != MG_OK) {
		if (r != NULL || err[0] == '\0')
			abort();	/* a refusal always says why */
		return 0;
	}
	if (rules_scan(r, &a, sample, sizeof(sample) - 1, &m, &n) != MG_OK)
		abort();
	arena_reset(&a);
	rules_free(r);
	return 0;
}
