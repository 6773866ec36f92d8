/*
 * rules.c - loading the rule set: the rules files (the embedded defaults,
 * then the admin file), macros, overrides, allow-values and the checks on
 * every field; the rule set's lifetime. Accessors are in rules_get.c,
 * compilation in rules_compile.c, scanning and placeholders in rules_scan.c.
 *
 * File format (line based; '#' starts a comment line):
 *
 *   define NAME = regex          macro, used in patterns as {{NAME}}
 *   allow-value = literal        a value never to mask (admin files)
 *   [rule-name]                  starts a rule; in an admin file a name
 *                                that exists overrides only the fields given
 *   type = EC2                   placeholder type: AWS_EC2_001 (unique)
 *   priority = 60                breaks ties between equal spans (0..1000)
 *   action = mask|block|allow    default mask
 *   lead = i- vpc-{a,b}          literals that every match contains; \d is
 *                                a digit, \x a hex digit, {a,b} expands
 *   lead-nocase = yes            leads match in any letter case
 *   back = 0                     how far before a lead a match may start
 *   pattern = regex              PCRE2; repeated lines are concatenated; if
 *                                it has a capture group, group 1 is the span
 *                                that is masked, the rest is context
 *   validate = public_ipv4       a C validator from validate.c
 *   credential = yes             the rule finds credentials: placeholders
 *                                carry a keyed tag (AWS_SECRET_KEY_001_K7Q2)
 *                                and restore defaults to text
 *   restore = everywhere|text|never
 *                                where placeholders are restored: all model
 *                                output; text and thinking but not tool
 *                                input; nowhere. Default everywhere, text
 *                                for credentials
 *   enabled = no                 switches a default rule off
 *   family = SECRET              (built-in packs, before the first rule)
 *                                the placeholder family of the pack
 *   pack = gcp                   (admin file, a new rule) its pack
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "log.h"
#include "rules_int.h"
#include "validate.h"

#define RULES_MAX_TYPE 40
#define RULES_MAX_BACK 512

/* fields a section may set; an override replaces only these */
enum field {
	F_TYPE = 1 << 0, F_PRIORITY = 1 << 1, F_ACTION = 1 << 2, F_LEAD = 1 << 3,
	F_NOCASE = 1 << 4, F_BACK = 1 << 5, F_PATTERN = 1 << 6, F_VALIDATE = 1 << 7,
	F_ENABLED = 1 << 8, F_RESTORE = 1 << 9, F_CREDENTIAL = 1 << 10
};

static const char *const restore_names[RULES_RESTORE__MAX] = {
	[RULES_RESTORE_EVERYWHERE] = "everywhere",
	[RULES_RESTORE_TEXT] = "text",
	[RULES_RESTORE_NEVER] = "never",
};

void
rules_diag(struct rules_diag *d, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->count == 0 && d->err != NULL && d->errlen > 0) {
		if (line > 0)
			snprintf(d->err, d->errlen, "%s:%d: %s", file, line, msg);
		else
			snprintf(d->err, d->errlen, "%s: %s", file, msg);
	}
	if (d->report != NULL) {
		if (line > 0)
			fprintf(d->report, "%s:%d: %s\n", file, line, msg);
		else
			fprintf(d->report, "%s: %s\n", file, msg);
	}
	d->count++;
}

char *
rules_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* ---- parsing ---------------------------------------------------------- */

static struct rules_rule *
find_rule(struct rules *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nrule; i++)
		if (strcmp(r->rule[i].name, name) == 0)
			return &r->rule[i];
	return NULL;
}

static struct rules_rule *
add_rule(struct rules *r, const char *name, size_t namelen)
{
	struct rules_rule *grown, *ru;

	grown = realloc(r->rule, (r->nrule + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	r->rule = grown;
	ru = &r->rule[r->nrule];
	memset(ru, 0, sizeof(*ru));
	ru->name = rules_strndup(name, namelen);
	if (ru->name == NULL)
		return NULL;
	ru->priority = 50;
	ru->validator = -1;
	ru->enabled = 1;
	ru->action = RULES_MASK;
	r->nrule++;
	return ru;
}

static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

static int
parse_int(const char *v, long lo, long hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

/* Replaces or (when append) extends *dst with v; returns -1 on ENOMEM. */
static int
set_str(char **dst, const char *v, int append, const char *sep)
{
	char *p;

	if (!append || *dst == NULL) {
		p = rules_strndup(v, strlen(v));
	} else {
		size_t a = strlen(*dst), s = strlen(sep), b = strlen(v);
		p = malloc(a + s + b + 1);
		if (p != NULL) {
			memcpy(p, *dst, a);
			/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): the next memcpy copies v's NUL */
			memcpy(p + a, sep, s);
			memcpy(p + a + s, v, b + 1);
		}
	}
	if (p == NULL)
		return -1;
	free(*dst);
	*dst = p;
	return 0;
}

static int
valid_rule_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' ||
		    s[i] == '_'))
			return 0;
	return 1;
}

/*
 * TYPE: capital letters and digits in '_'-separated segments, starting with
 * a letter; no segment is all digits, so the number of a placeholder is
 * always its last segment.
 */
static int
valid_type(const char *s)
{
	size_t i, n = strlen(s);
	int seg_letter = 0, seg_len = 0;

	if (n == 0 || n > RULES_MAX_TYPE || !isupper((unsigned char)s[0]))
		return 0;
	for (i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '_' || c == '\0') {
			if (seg_len == 0 || !seg_letter)
				return 0;
			seg_len = 0;
			seg_letter = 0;
		} else if (isupper((unsigned char)c)) {
			seg_letter = 1;
			seg_len++;
		} else if (isdigit((unsigned char)c)) {
			seg_len++;
		} else {
			return 0;
		}
	}
	return 1;
}

static void
trim(char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/*
 * Parses one rules file into r. admin: sections naming an existing rule
 * override its fields. Errors go to d; parsing continues to report more.
 */
static void
parse_file(struct rules *r, const char *text, size_t len, const char *file, int pack,
    struct rules_diag *d)
{
	const char *p = text, *end = text + len;
	struct rules_rule *cur = NULL;
	int admin = pack < 0, cur_new = 0;
	unsigned set = 0;	/* fields set in the current section */
	int lineno = 0;
	char **seen = NULL;	/* section names seen in this file */
	size_t nseen = 0, i;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char *line = (char *)p;
		size_t n = (nl != NULL ? (size_t)(nl - p) : (size_t)(end - p));
		char key[128], *val;
		size_t keylen, vallen;
		char *eq, vbuf[8192];

		p = nl != NULL ? nl + 1 : end;
		lineno++;
		if (memchr(line, '\0', n) != NULL) {
			rules_diag(d, file, lineno, "NUL byte in line");
			continue;
		}
		trim(&line, &n);
		if (n == 0 || line[0] == '#')
			continue;
		if (line[0] == '[') {
			if (line[n - 1] != ']' || !valid_rule_name(line + 1, n - 2)) {
				rules_diag(d, file, lineno, "bad section header: want [rule-name] "
				    "with lowercase letters, digits, '-' and '_'");
				cur = NULL;
				continue;
			}
			for (i = 0; i < nseen; i++)
				if (strlen(seen[i]) == n - 2 && memcmp(seen[i], line + 1, n - 2) == 0)
					break;
			if (i < nseen) {
				rules_diag(d, file, lineno, "rule [%.*s] defined twice in this file",
				    (int)(n - 2), line + 1);
				cur = NULL;
				continue;
			}
			{
				char **g = realloc(seen, (nseen + 1) * sizeof(*g));
				if (g != NULL) {
					seen = g;
					g[nseen] = rules_strndup(line + 1, n - 2);
				}
				if (g == NULL || g[nseen] == NULL) {
					rules_diag(d, file, lineno, "out of memory");
					break;
				}
				nseen++;
			}
			cur = find_rule(r, seen[nseen - 1]);
			if (cur != NULL && !admin) {
				rules_diag(d, file, lineno, "rule [%s] defined twice", cur->name);
				cur = NULL;
				continue;
			}
			cur_new = cur == NULL;
			if (cur == NULL) {
				cur = add_rule(r, line + 1, n - 2);
				if (cur != NULL)
					cur->pack = pack >= 0 ? pack : rules_pack_index(r, "aws", 3);
			}
			if (cur == NULL) {
				rules_diag(d, file, lineno, "out of memory");
				break;
			}
			cur->file = file;
			cur->line = lineno;
			set = 0;
			continue;
		}
		eq = memchr(line, '=', n);
		if (eq == NULL) {
			rules_diag(d, file, lineno, "expected 'key = value' or '[rule-name]'");
			continue;
		}
		keylen = (size_t)(eq - line);
		val = eq + 1;
		vallen = n - keylen - 1;
		{
			char *k = line;
			trim(&k, &keylen);
			if (keylen >= sizeof(key)) {
				rules_diag(d, file, lineno, "key too long");
				continue;
			}
			memcpy(key, k, keylen);
			key[keylen] = '\0';
		}
		trim(&val, &vallen);
		if (vallen >= sizeof(vbuf)) {
			rules_diag(d, file, lineno, "value too long (over %zu bytes)",
			    sizeof(vbuf) - 1);
			continue;
		}
		memcpy(vbuf, val, vallen);
		vbuf[vallen] = '\0';

		/* NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript): strncmp matched 6 bytes, so key[6] is in the string */
		if (strncmp(key, "define", 6) == 0 && isspace((unsigned char)key[6])) {
			char *name = key + 7;
			size_t nl2 = strlen(name), j;
			struct rules_define *g;
			trim(&name, &nl2);
			name[nl2] = '\0';
			for (j = 0; j < nl2; j++)
				if (!(isupper((unsigned char)name[j]) || isdigit((unsigned char)name[j]) ||
				    name[j] == '_'))
					break;
			if (nl2 == 0 || j < nl2) {
				rules_diag(d, file, lineno,
				    "define: name must be capital letters, digits, '_'");
				continue;
			}
			for (j = 0; j < r->ndef; j++)
				if (strcmp(r->def[j].name, name) == 0)
					break;
			if (j < r->ndef && r->def[j].file == file) {
				rules_diag(d, file, lineno, "define %s given twice", name);
				continue;
			}
			if (j == r->ndef) {
				g = realloc(r->def, (r->ndef + 1) * sizeof(*g));
				if (g == NULL) {
					rules_diag(d, file, lineno, "out of memory");
					break;
				}
				r->def = g;
				memset(&r->def[j], 0, sizeof(r->def[j]));
				r->def[j].name = rules_strndup(name, nl2);
				r->ndef++;
			}
			if (set_str(&r->def[j].value, vbuf, 0, "") != 0 || r->def[j].name == NULL) {
				rules_diag(d, file, lineno, "out of memory");
				break;
			}
			r->def[j].file = file;
			r->def[j].line = lineno;
			continue;
		}
		if (strcmp(key, "allow-value") == 0) {
			char **g;
			size_t *gl;
			if (vallen == 0) {
				rules_diag(d, file, lineno, "allow-value: empty value");
				continue;
			}
			g = realloc(r->allow, (r->nallow + 1) * sizeof(*g));
			if (g != NULL)
				r->allow = g;
			gl = realloc(r->allowlen, (r->nallow + 1) * sizeof(*gl));
			if (gl != NULL)
				r->allowlen = gl;
			if (g != NULL && gl != NULL)
				g[r->nallow] = rules_strndup(vbuf, vallen);
			if (g == NULL || gl == NULL || g[r->nallow] == NULL) {
				rules_diag(d, file, lineno, "out of memory");
				break;
			}
			gl[r->nallow++] = vallen;
			continue;
		}
		if (strcmp(key, "family") == 0 && cur == NULL && !admin) {
			int fam = rules_family_index(vbuf, vallen);
			if (fam < 0)
				rules_diag(d, file, lineno, "family '%s': want AWS, SECRET, GCP, AZURE "
				    "or PII", vbuf);
			else if (r->pack[pack].family >= 0)
				rules_diag(d, file, lineno, "family given twice");
			else
				r->pack[pack].family = fam;
			continue;
		}
		if (cur == NULL) {
			rules_diag(d, file, lineno, "'%s' outside a [rule] section", key);
			continue;
		}
		if (strcmp(key, "pack") == 0) {
			int pk = rules_pack_index(r, vbuf, vallen);
			if (pk < 0)
				rules_diag(d, file, lineno, "pack '%s': no such built-in pack", vbuf);
			else if (!admin || !cur_new)
				rules_diag(d, file, lineno, "pack: only a new rule of the admin file "
				    "may choose its pack");
			else
				cur->pack = pk;
			continue;
		}
		if (strcmp(key, "type") == 0) {
			if (!valid_type(vbuf)) {
				rules_diag(d, file, lineno, "type '%s': want capital letters and digits in "
				    "'_'-separated segments, each with a letter, at most %d characters",
				    vbuf, RULES_MAX_TYPE);
				continue;
			}
			if (set_str(&cur->type, vbuf, 0, "") != 0)
				goto nomem;
			cur->typelen = vallen;
			set |= F_TYPE;
		} else if (strcmp(key, "priority") == 0) {
			if (parse_int(vbuf, 0, 1000, &cur->priority) != 0)
				rules_diag(d, file, lineno, "priority: want an integer 0..1000");
			set |= F_PRIORITY;
		} else if (strcmp(key, "back") == 0) {
			if (parse_int(vbuf, 0, RULES_MAX_BACK, &cur->back) != 0)
				rules_diag(d, file, lineno, "back: want an integer 0..%d",
				    RULES_MAX_BACK);
			set |= F_BACK;
		} else if (strcmp(key, "action") == 0) {
			if (strcmp(vbuf, "mask") == 0)
				cur->action = RULES_MASK;
			else if (strcmp(vbuf, "block") == 0)
				cur->action = RULES_BLOCK;
			else if (strcmp(vbuf, "allow") == 0)
				cur->action = RULES_ALLOW;
			else
				rules_diag(d, file, lineno, "action: want mask, block or allow");
			set |= F_ACTION;
		} else if (strcmp(key, "lead") == 0) {
			if (vallen == 0) {
				rules_diag(d, file, lineno, "lead: empty");
				continue;
			}
			if (set_str(&cur->leads, vbuf, (set & F_LEAD) != 0, " ") != 0)
				goto nomem;
			if (!(set & F_LEAD))
				cur->lead_line = lineno;
			set |= F_LEAD;
		} else if (strcmp(key, "lead-nocase") == 0) {
			if (parse_bool(vbuf, &cur->nocase) != 0)
				rules_diag(d, file, lineno, "lead-nocase: want yes or no");
			set |= F_NOCASE;
		} else if (strcmp(key, "pattern") == 0) {
			if (vallen == 0) {
				rules_diag(d, file, lineno, "pattern: empty");
				continue;
			}
			if (set_str(&cur->pattern, vbuf, (set & F_PATTERN) != 0, "") != 0)
				goto nomem;
			if (!(set & F_PATTERN))
				cur->pattern_line = lineno;
			set |= F_PATTERN;
		} else if (strcmp(key, "validate") == 0) {
			cur->validator = strcmp(vbuf, "none") == 0 ? -1 : validate_lookup(vbuf);
			if (cur->validator < 0 && strcmp(vbuf, "none") != 0)
				rules_diag(d, file, lineno, "validate: no validator named '%s'",
				    vbuf);
			set |= F_VALIDATE;
		} else if (strcmp(key, "restore") == 0) {
			size_t k;
			for (k = 0; k < RULES_RESTORE__MAX; k++)
				if (strcmp(vbuf, restore_names[k]) == 0)
					break;
			if (k == RULES_RESTORE__MAX) {
				rules_diag(d, file, lineno, "restore: want everywhere, text or never");
			} else {
				cur->restore = (enum rules_restore)k;
				cur->restore_set = 1;
			}
			set |= F_RESTORE;
		} else if (strcmp(key, "credential") == 0) {
			if (parse_bool(vbuf, &cur->credential) != 0)
				rules_diag(d, file, lineno, "credential: want yes or no");
			set |= F_CREDENTIAL;
		} else if (strcmp(key, "enabled") == 0) {
			if (parse_bool(vbuf, &cur->enabled) != 0)
				rules_diag(d, file, lineno, "enabled: want yes or no");
			set |= F_ENABLED;
		} else {
			rules_diag(d, file, lineno, "unknown key '%s'", key);
		}
		continue;
nomem:
		rules_diag(d, file, lineno, "out of memory");
		break;
	}
	for (i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
}

void
rules_free(struct rules *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nrule; i++) {
		free(r->rule[i].name);
		free(r->rule[i].type);
		free(r->rule[i].pattern);
		free(r->rule[i].leads);
		pcre2_code_free(r->rule[i].code);
	}
	free(r->rule);
	for (i = 0; i < r->ndef; i++) {
		free(r->def[i].name);
		free(r->def[i].value);
	}
	free(r->def);
	for (i = 0; i < r->nallow; i++)
		free(r->allow[i]);
	free(r->allow);
	free(r->allowlen);
	free(r->active);
	free(r->noleads);
	free(r->jit_tried);
	free(r->lead);
	free(r->bucket_start);
	free(r->bucket);
	free(r->quick);
	for (i = 0; i <= RULES_MAX_PACKS; i++)
		free(r->files[i]);
	free(r->known);
	pcre2_match_data_free(r->md);
	pcre2_match_context_free(r->mctx);
	pcre2_jit_stack_free(r->jstack);
	free(r);
}

/*
 * Loads the embedded defaults then the admin text (may be NULL). All errors
 * go to d; the result is NULL unless there were none.
 */
static struct rules *
load(const char *packs, const char *admin, size_t adminlen, const char *adminname,
    struct rules_diag *d)
{
	struct rules *r = calloc(1, sizeof(*r));
	size_t i;

	if (r == NULL) {
		rules_diag(d, "rules", 0, "out of memory");
		return NULL;
	}
	/* every built-in pack is parsed (see struct rules_pack); one file each */
	for (i = 0; i < embed_rules_count && embed_rules[i].data != NULL; i++) {
		const char *fn = embed_rules[i].name, *dot = strrchr(fn, '.');
		size_t nl = dot != NULL ? (size_t)(dot - fn) : strlen(fn);
		char name[256];
		struct rules_pack *pk;
		if (d->count > 0)
			break;	/* out of memory: r may hold half-made entries */
		if (r->npack == RULES_MAX_PACKS || nl == 0 || nl >= sizeof(pk->name)) {
			rules_diag(d, fn, 0, "too many rule packs, or a bad pack file name");
			break;
		}
		pk = &r->pack[r->npack];
		memcpy(pk->name, fn, nl);
		pk->name[nl] = '\0';
		pk->family = -1;
		snprintf(name, sizeof(name), "%s (built in)", fn);
		r->files[r->npack] = rules_strndup(name, strlen(name));
		if (r->files[r->npack] == NULL)
			break;
		parse_file(r, embed_rules[i].data, embed_rules[i].len, r->files[r->npack],
		    (int)r->npack, d);
		if (pk->family < 0)
			rules_diag(d, r->files[r->npack], 0, "no 'family = NAME' line before the rules");
		r->npack++;
	}
	if (r->npack == 0)
		rules_diag(d, "rules", 0, "no built-in rules compiled in");
	if (d->count == 0)
		rules_pack_select(r, packs, d);
	if (admin != NULL && d->count == 0) {
		r->files[RULES_MAX_PACKS] = rules_strndup(adminname, strlen(adminname));
		if (r->files[RULES_MAX_PACKS] != NULL)
			parse_file(r, admin, adminlen, r->files[RULES_MAX_PACKS], -1, d);
	}
	/* compile even after parse errors, to report pattern errors too */
	rules_compile(r, d);
	if (d->count == 0 && r->nactive == 0)
		rules_diag(d, "rules", 0, "no enabled rules");
	if (d->count > 0) {
		rules_free(r);
		return NULL;
	}
	return r;
}

/* Reads a whole file into a new NUL-terminated buffer (caller frees). */
static char *
read_file(const char *path, size_t *len, char *why, size_t whylen)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL, *g;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			g = realloc(data, cap);
			if (g == NULL) {
				free(data);
				fclose(f);
				snprintf(why, whylen, "out of memory");
				return NULL;
			}
			data = g;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		n += got;
	} while (got > 0 && n < 16 * 1024 * 1024);
	if (ferror(f) || n >= 16 * 1024 * 1024) {
		snprintf(why, whylen, ferror(f) ? "read error" : "file too large");
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	data[n] = '\0';
	*len = n;
	return data;
}

enum mg_err
rules_load_text_packs(const char *packs, const char *admin_text, size_t admin_len,
    const char *admin_name, struct rules **out, char *err, size_t errlen)
{
	struct rules_diag d = { NULL, err, errlen, 0 };

	*out = load(packs, admin_text, admin_len, admin_name != NULL ? admin_name : "admin rules",
	    &d);
	if (*out == NULL)
		return MG_ERULES;
	log_info("rules: %zu rules loaded, %s", (*out)->nactive,
	    (*out)->jit ? "JIT" : "interpreter");
	return MG_OK;
}

enum mg_err
rules_load_text(const char *admin_text, size_t admin_len, const char *admin_name,
    struct rules **out, char *err, size_t errlen)
{
	return rules_load_text_packs(NULL, admin_text, admin_len, admin_name, out, err, errlen);
}

enum mg_err
rules_load(const char *admin_path, struct rules **out, char *err, size_t errlen)
{
	return rules_load_packs(NULL, admin_path, out, err, errlen);
}

enum mg_err
rules_load_packs(const char *packs, const char *admin_path, struct rules **out, char *err,
    size_t errlen)
{
	char *text = NULL, why[256];
	size_t len = 0;
	enum mg_err rc;

	*out = NULL;
	if (admin_path != NULL && admin_path[0] != '\0') {
		text = read_file(admin_path, &len, why, sizeof(why));
		if (text == NULL) {
			snprintf(err, errlen, "MASKGATE_RULES: %s: %s", admin_path, why);
			return MG_ERULES;
		}
	}
	rc = rules_load_text_packs(packs, text, len, admin_path, out, err, errlen);
	free(text);
	return rc;
}

enum mg_err
rules_check_file(const char *path, const char *packs, FILE *report)
{
	struct rules_diag d = { report, NULL, 0, 0 };
	struct rules *r;
	char *text, why[256];
	size_t len = 0;

	text = read_file(path, &len, why, sizeof(why));
	if (text == NULL) {
		fprintf(report, "%s: %s\n", path, why);
		return MG_EIO;
	}
	r = load(packs, text, len, path, &d);
	free(text);
	if (r == NULL)
		return MG_ERULES;
	fprintf(report, "%s: ok, %zu rules in effect, %zu allow-values\n", path, r->nactive,
	    r->nallow);
	rules_free(r);
	return MG_OK;
}

const char *
rules_restore_name(enum rules_restore restore)
{
	return restore < RULES_RESTORE__MAX ? restore_names[restore] : "?";
}
