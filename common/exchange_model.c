/*
 * exchange_model.c - the model a request names: checked to be a model id
 * and nothing the rules find, the alias and the gateway's allow-list
 * applied, max_tokens clamped to what the model can produce.
 */
#include <ctype.h>
#include <string.h>

#include <json-c/json.h>

#include "exchange_int.h"
#include "log.h"
#include "models.h"
#include "rules.h"

/* longest model id accepted (the API's are under 64 characters) */
#define MODEL_ID_MAX 100

/*
 * 1 when name has the shape of a model id ("claude-sonnet-4-5-20250929",
 * "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet-v2@20241022")
 * and no rule finds anything in it. The name goes upstream, into the spend
 * log and into a metric label: "AKIA..." there would leak, and free-form
 * names would let a caller grow the metric series without bound.
 */
static int
model_name_ok(struct exchange *ex, const char *name)
{
	struct rules_match *ms;
	size_t i, n, len = strlen(name);

	if (len == 0 || len > MODEL_ID_MAX || !islower((unsigned char)name[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    strchr("-._:@", name[i]) == NULL)
			return 0;
	if (rules_scan(ex->env->rules, ex->arena, name, len, &ms, &n) != MG_OK)
		return 0;	/* cannot tell: refuse */
	for (i = 0; i < n; i++)
		if (ms[i].action != RULES_ALLOW)
			return 0;
	return 1;
}

/* Applies alias, allow-list and the max_tokens clamp. 0 when refused. */
int
exchange_model_policy(struct exchange *ex, struct json_object *root, const char *in_path,
    const char **model)
{
	const struct models *mt = ex->env->models;
	const char *asked = in_path != NULL ? in_path : jwalk_get_model(root), *target;
	const struct model *md;
	long max_tokens;

	if (asked == NULL) {
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST,
		    "model: field required (a string)");
		return 0;
	}
	if (!model_name_ok(ex, asked)) {
		/* never echo it: it may be exactly what must not be written anywhere */
		exchange_refuse(ex, OUT_OK, 400, ET_INVALID_REQUEST, "model: not a model name "
		    "(lower-case letters, digits and - . _ : @, at most %d characters)",
		    MODEL_ID_MAX);
		return 0;
	}
	asked = arena_strdup(ex->arena, asked);
	target = models_alias(mt, asked);
	if (target == NULL)
		target = asked;
	if (!models_allowed(mt, asked) && !models_allowed(mt, target)) {
		exchange_refuse(ex, OUT_MODEL, 403, ET_PERMISSION,
		    "model %s is not allowed on this gateway", asked);
		return 0;
	}
	*model = target;
	if (target != asked && in_path == NULL && jwalk_set_model(root, target) != MG_OK) {
		exchange_refuse(ex, OUT_OK, 500, ET_API, "out of memory");
		return 0;
	}
	md = models_find(mt, target);
	if (md != NULL && jwalk_get_max_tokens(root, &max_tokens) == MG_OK &&
	    max_tokens > md->max_output) {
		struct json_object *thinking, *budget;
		jwalk_set_max_tokens(root, md->max_output);
		/* the API requires budget_tokens < max_tokens */
		if (json_object_object_get_ex(root, "thinking", &thinking) &&
		    json_object_object_get_ex(thinking, "budget_tokens", &budget) &&
		    json_object_is_type(budget, json_type_int) &&
		    json_object_get_int64(budget) >= md->max_output)
			json_object_set_int64(budget, md->max_output - 1);
		log_info("rid=%s max_tokens %ld clamped to %ld for %s", ex->request_id,
		    max_tokens, md->max_output, target);
	}
	return 1;
}

