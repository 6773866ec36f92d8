/*
 * cmd_keys.c - `maskgate key create|list|info|update|block|unblock|delete|
 * regenerate` and `maskgate master rotate`, over the same store and the same
 * keys_mgmt() code as the HTTP endpoints, for admins without HTTP access.
 * Human-readable output by default, --json for scripts.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cfg.h"
#include "cli.h"
#include "keys_mgmt.h"
#include "store.h"

static const char key_usage[] =
    "usage: maskgate key COMMAND [ARGS] [--json]\n\n"
    "  create [FIELDS]              new virtual key (shown once)\n"
    "  list [--user-id U] [--team-id T] [--alias A] [--page N] [--size N]\n"
    "  info KEY                     KEY is the key (sk-...) or its token hash\n"
    "  update KEY [FIELDS]\n"
    "  block KEY | unblock KEY\n"
    "  delete KEY [KEY...]\n"
    "  regenerate KEY [--grace-period 24h] [FIELDS]\n\n"
    "FIELDS: --models a,b  --duration 30d  --max-budget USD  --budget-duration 30d\n"
    "        --rpm N  --tpm N  --parallel N  --user-id U  --team-id T  --alias A\n"
    "        --metadata JSON  --admin  --blocked  --spend USD\n"
    "Configuration as for the server (MASKGATE_DB, ...).\n";

static const char master_usage[] =
    "usage: maskgate master rotate [--grace 7d] [--json]\n\n"
    "Records a new master key as primary and prints it once. The configured\n"
    "MASKGATE_MASTER_KEY and earlier rotated keys keep working for the grace\n"
    "period (default MASKGATE_MASTER_GRACE, 7d), then stop. Put the new key\n"
    "into MASKGATE_MASTER_KEY (or its _FILE) before the grace period ends.\n";

/* Who runs the CLI, for the audit log. */
static const char *
cli_actor(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());

	snprintf(buf, len, "cli:%s", pw != NULL ? pw->pw_name : "?");
	return buf;
}

/* The option name as the API field name. */
static const char *
field_name(const char *opt, char *buf, size_t len)
{
	static const char *const map[][2] = {
		{ "alias", "key_alias" }, { "rpm", "rpm_limit" }, { "tpm", "tpm_limit" },
		{ "parallel", "max_parallel_requests" },
	};
	size_t i;
	char *p;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(opt, map[i][0]) == 0)
			return map[i][1];
	snprintf(buf, len, "%s", opt);
	for (p = buf; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return buf;
}

/* Splits "a,b" into a JSON array of strings. */
static struct json_object *
csv_array(const char *s)
{
	struct json_object *arr = json_object_new_array();
	const char *p = s;

	while (*p != '\0') {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (len > 0)
			json_object_array_add(arr, json_object_new_string_len(p, (int)len));
		p += len + (comma != NULL);
	}
	return arr;
}

/*
 * Builds the request object from argv (after the subcommand): positional
 * keys go to *positional, options to fields. Returns -1 on a usage error.
 */
static int
parse_args(int argc, char **argv, struct json_object *req, struct json_object *positional,
    int *json_out)
{
	char name[64];
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *field;
		struct json_object *v;

		if (strncmp(a, "--", 2) != 0) {
			json_object_array_add(positional, json_object_new_string(a));
			continue;
		}
		a += 2;
		if (strcmp(a, "json") == 0) {
			*json_out = 1;
			continue;
		}
		field = field_name(a, name, sizeof(name));
		if (strcmp(a, "admin") == 0 || strcmp(a, "blocked") == 0 ||
		    strcmp(a, "return-full-object") == 0) {
			json_object_object_add(req, field, json_object_new_boolean(1));
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "maskgate: --%s needs a value\n", a);
			return -1;
		}
		if (strcmp(a, "models") == 0) {
			v = csv_array(argv[++i]);
		} else if (strcmp(a, "metadata") == 0) {
			v = json_tokener_parse(argv[++i]);
			if (v == NULL) {
				fprintf(stderr, "maskgate: --metadata: not valid JSON\n");
				return -1;
			}
		} else {
			v = json_object_new_string(argv[++i]);
		}
		json_object_object_add(req, field, v);
	}
	return 0;
}

static void
print_human(struct json_object *o, const char *indent)
{
	json_object_object_foreach(o, name, v) {
		if (v != NULL && json_object_is_type(v, json_type_object) &&
		    strcmp(name, "metadata") != 0) {
			printf("%s%s:\n", indent, name);
			print_human(v, "  ");
			continue;
		}
		printf("%s%-22s %s\n", indent, name, v == NULL ? "-" :
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) :
		    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	}
}

static int
open_store(struct cfg *c, struct store **s)
{
	char err[512];

	if (cfg_load(c, 0, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate: %s\n", err);
		return -1;
	}
	if (store_open(c, s, err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate: %s\n", err);
		cfg_free(c);
		return -1;
	}
	return 0;
}

/* Runs op once per positional key (delete: all at once); prints results. */
static int
run_op(struct store *s, struct arena *a, enum keys_op op, struct json_object *req,
    struct json_object *positional, int json_out)
{
	struct json_object *resp = NULL;
	char err[300], actor[128];
	size_t npos = json_object_array_length(positional);
	enum mg_err rc;

	cli_actor(actor, sizeof(actor));
	if (op == KO_DELETE) {
		json_object_object_add(req, "keys", json_object_get(positional));
	} else if (op != KO_GENERATE && op != KO_LIST) {
		if (npos != 1) {
			fprintf(stderr, "maskgate: key %s needs exactly one KEY\n", keys_op_name(op));
			return 2;
		}
		json_object_object_add(req, "key",
		    json_object_get(json_object_array_get_idx(positional, 0)));
	} else if (npos != 0) {
		fprintf(stderr, "maskgate: key %s takes no KEY argument\n", keys_op_name(op));
		return 2;
	}
	if (op == KO_LIST && !json_out)
		json_object_object_add(req, "return_full_object", json_object_new_boolean(1));
	rc = keys_mgmt(s, a, op, actor, req, &resp, err, sizeof(err));
	if (rc != MG_OK) {
		fprintf(stderr, "maskgate: key %s: %s\n", keys_op_name(op), err);
		return rc == MG_EINVAL ? 2 : 1;
	}
	if (json_out) {
		printf("%s\n", json_object_to_json_string_ext(resp, JSON_C_TO_STRING_PRETTY |
		    JSON_C_TO_STRING_NOSLASHESCAPE));
	} else if (op == KO_LIST) {
		struct json_object *keys;
		size_t i;
		json_object_object_get_ex(resp, "keys", &keys);
		printf("%-64s  %-16s %-12s %-12s %10s %s\n", "TOKEN", "ALIAS", "USER", "TEAM",
		    "SPEND", "BLOCKED");
		for (i = 0; i < json_object_array_length(keys); i++) {
			struct json_object *k = json_object_array_get_idx(keys, i), *f;
			const char *col[4] = { "-", "-", "-", "-" };
			static const char *const names[4] = { "token", "key_alias", "user_id", "team_id" };
			int j;
			for (j = 0; j < 4; j++)
				if (json_object_object_get_ex(k, names[j], &f) && f != NULL)
					col[j] = json_object_get_string(f);
			double spend = json_object_object_get_ex(k, "spend", &f) ?
			    json_object_get_double(f) : 0;
			int blocked = json_object_object_get_ex(k, "blocked", &f) &&
			    json_object_get_boolean(f);
			printf("%-64s  %-16s %-12s %-12s %10.4f %s\n", col[0], col[1], col[2], col[3],
			    spend, blocked ? "yes" : "no");
		}
		json_object_object_get_ex(resp, "total_count", &keys);
		printf("%s key(s)\n", json_object_get_string(keys));
	} else {
		print_human(resp, "");
		if (op == KO_GENERATE || op == KO_REGENERATE)
			printf("\nThe key is shown once: store it now. Only its hash is kept.\n");
	}
	json_object_put(resp);
	return 0;
}

int
cli_key(int argc, char **argv)
{
	struct json_object *req, *positional;
	struct store *s = NULL;
	struct arena a;
	struct cfg c;
	enum keys_op op;
	int json_out = 0, rc;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		fputs(key_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	op = strcmp(argv[1], "create") == 0 ? KO_GENERATE : keys_op_parse(argv[1]);
	if (op == KO__MAX) {
		fprintf(stderr, "maskgate: unknown key command %s (try key --help)\n", argv[1]);
		return 2;
	}
	req = json_object_new_object();
	positional = json_object_new_array();
	if (parse_args(argc - 1, argv + 1, req, positional, &json_out) != 0) {
		rc = 2;
		goto out;
	}
	if (open_store(&c, &s) != 0) {
		rc = 1;
		goto out;
	}
	arena_init(&a);
	rc = run_op(s, &a, op, req, positional, json_out);
	arena_free(&a);
	store_close(s);
	cfg_free(&c);
out:
	json_object_put(req);
	json_object_put(positional);
	return rc;
}

int
cli_master(int argc, char **argv)
{
	char key[128], err[300], actor[128];
	struct store *s = NULL;
	struct cfg c;
	long grace;
	int i, json_out = 0;
	const char *grace_arg = NULL;

	if (argc < 2 || cli_wants_help(argc, argv) || strcmp(argv[1], "rotate") != 0) {
		fputs(master_usage, argc >= 2 && cli_wants_help(argc, argv) ? stdout : stderr);
		return argc >= 2 && cli_wants_help(argc, argv) ? 0 : 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json_out = 1;
		} else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
			grace_arg = argv[++i];
		} else {
			fprintf(stderr, "maskgate: master rotate: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	if (open_store(&c, &s) != 0)
		return 1;
	grace = grace_arg != NULL ? cfg_parse_duration(grace_arg) : c.master_grace;
	if (grace < 0) {
		fprintf(stderr, "maskgate: --grace: malformed duration (use 30s, 30m, 30h or 7d)\n");
		store_close(s);
		cfg_free(&c);
		return 2;
	}
	if (keys_master_rotate(&c, s, cli_actor(actor, sizeof(actor)), grace, key, sizeof(key),
	    err, sizeof(err)) != MG_OK) {
		fprintf(stderr, "maskgate: master rotate: %s\n", err);
		store_close(s);
		cfg_free(&c);
		return 1;
	}
	if (json_out)
		printf("{\"master_key\":\"%s\",\"grace_seconds\":%ld}\n", key, grace);
	else
		printf("%s\n\nNew master key (shown once). The previous key keeps working for "
		    "%ld seconds;\nset MASKGATE_MASTER_KEY (or the file named by "
		    "MASKGATE_MASTER_KEY_FILE) to it before then.\n", key, grace);
	explicit_bzero(key, sizeof(key));
	store_close(s);
	cfg_free(&c);
	return 0;
}
