/*
 * test_wire.c - Bedrock and Vertex paths, upstream URLs and the headers a
 * cloud route never forwards.
 */
#include <string.h>

#include "th.h"
#include "wire.h"

int
main(void)
{
	struct arena a;
	struct wire_route r;
	struct cfg c;
	char err[256], *url;

	arena_init(&a);
	memset(&c, 0, sizeof(c));
	TH_OK(wire_parse_path(&a, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
	    &r) == MG_OK && r.kind == WIRE_BEDROCK && !r.stream &&
	    strcmp(r.model, "us.anthropic.claude-sonnet-4-5-20250929-v1:0") == 0,
	    "Bedrock invoke, model decoded");
	TH_OK(wire_parse_path(&a, "/model/anthropic.claude-3-haiku-20240307-v1:0/"
	    "invoke-with-response-stream", &r) == MG_OK && r.stream, "Bedrock stream, raw ':'");
	TH_OK(wire_parse_path(&a, "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
	    "application-inference-profile%2Fabc/invoke", &r) == MG_OK &&
	    strchr(r.model, '/') != NULL, "inference-profile ARN");
	TH_OK(wire_parse_path(&a, "/model/x%0Ay/invoke", &r) == MG_EINVAL, "control escape refused");
	TH_OK(wire_parse_path(&a, "/model/..%2F..%2Fv1/invoke", &r) == MG_EINVAL &&
	    wire_parse_path(&a, "/model/a%2F.%2Fb/invoke", &r) == MG_EINVAL &&
	    wire_parse_path(&a, "/model/a%2F%2Fb/invoke", &r) == MG_EINVAL &&
	    wire_parse_path(&a, "/model/a%2F/invoke", &r) == MG_EINVAL, "dot and empty segments refused");
	TH_OK(wire_parse_path(&a, "/model/%2E%2E/invoke", &r) == MG_EINVAL, "'..' refused");
	TH_OK(wire_parse_path(&a, "/model/x/converse", &r) == MG_ENOTFOUND, "other verbs: no route");
	TH_OK(wire_parse_path(&a, "/v1/projects/p-1/locations/us-east5/publishers/anthropic/models/"
	    "claude-sonnet-4-5@20250929:streamRawPredict", &r) == MG_OK && r.kind == WIRE_VERTEX &&
	    r.stream && strcmp(r.model, "claude-sonnet-4-5@20250929") == 0 &&
	    strcmp(r.project, "p-1") == 0 && strcmp(r.location, "us-east5") == 0, "Vertex stream");
	TH_OK(wire_parse_path(&a, "/v1/projects/p/locations/global/publishers/anthropic/models/"
	    "count-tokens:rawPredict", &r) == MG_OK && r.count_tokens, "Vertex count-tokens");
	TH_OK(wire_parse_path(&a, "/v1/projects/p/locations/l/publishers/google/models/"
	    "gemini:rawPredict", &r) == MG_ENOTFOUND, "other publishers: no route");

	wire_parse_path(&a, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", &r);
	url = wire_upstream_url(&c, &a, &r, r.model, err, sizeof(err));
	TH_OK(url == NULL && strstr(err, "MASKGATE_BEDROCK_REGION") != NULL, "unconfigured: %s", err);
	c.bedrock_region = "eu-west-1";
	url = wire_upstream_url(&c, &a, &r, r.model, err, sizeof(err));
	TH_STREQ(url, "https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
	    "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke", "Bedrock URL from the region");
	c.bedrock_url = "http://127.0.0.1:9";
	url = wire_upstream_url(&c, &a, &r, "alias:x", err, sizeof(err));
	TH_STREQ(url, "http://127.0.0.1:9/model/alias%3Ax/invoke", "base URL setting, target model");
	wire_parse_path(&a, "/v1/projects/client-proj/locations/us-east5/publishers/anthropic/"
	    "models/claude-haiku-4-5@20251001:rawPredict", &r);
	c.vertex_sa_key = "{}";
	url = wire_upstream_url(&c, &a, &r, r.model, err, sizeof(err));
	TH_STREQ(url, "https://us-east5-aiplatform.googleapis.com/v1/projects/client-proj/locations/"
	    "us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict",
	    "Vertex URL from the path");
	c.vertex_project = "ours";
	c.vertex_region = "global";
	url = wire_upstream_url(&c, &a, &r, r.model, err, sizeof(err));
	TH_STREQ(url, "https://aiplatform.googleapis.com/v1/projects/ours/locations/global/"
	    "publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict",
	    "the gateway's project and region win");

	TH_OK(wire_drop_header(&r, "X-Amz-Security-Token") && wire_drop_header(&r, "authorization") &&
	    wire_drop_header(&r, "amz-sdk-invocation-id") && wire_drop_header(&r, "x-goog-user-project") &&
	    !wire_drop_header(&r, "anthropic-beta") && !wire_drop_header(&r, "accept") &&
	    !wire_drop_header(NULL, "authorization"), "client cloud credentials never forwarded");
	arena_free(&a);
	return th_done();
}
