/*
 * sigv4.h - AWS Signature Version 4 for the Bedrock runtime.
 *
 * Why not libcurl's CURLOPT_AWS_SIGV4: Debian 12's libcurl 7.88 signs the
 * path exactly as sent, while AWS (and botocore) encode every path segment
 * once more for services other than S3. Every Bedrock model id holds a ':'
 * (".../anthropic.claude-sonnet-4-5-20250929-v1:0/invoke"), so curl's
 * signature is refused whether the ':' is sent raw or as %3A. This file
 * follows the published algorithm; tests/e2e checks it against botocore.
 */
#ifndef MG_SIGV4_H
#define MG_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "arena.h"
#include "mg.h"

struct sigv4_key {
	const char *access_key;
	const char *secret_key;
	const char *session_token;	/* NULL without temporary credentials */
	const char *region;
	const char *service;		/* "bedrock" for bedrock-runtime */
};

/* The header values a signed request carries (arena strings). */
struct sigv4_headers {
	char *amz_date;			/* x-amz-date */
	char *content_sha256;		/* x-amz-content-sha256 */
	char *authorization;		/* Authorization */
};

/*
 * Signs a request to url (http or https, path already percent-encoded as
 * it will be sent, no query) with the given content type and body, at
 * time now. Signed headers: content-type, host, x-amz-content-sha256,
 * x-amz-date and x-amz-security-token (when there is a session token: the
 * caller sends it too). Results are allocated in a.
 */
enum mg_err sigv4_sign(struct arena *a, const struct sigv4_key *k, const char *method,
    const char *url, const char *content_type, const char *body, size_t body_len,
    time_t now, struct sigv4_headers *out);

/*
 * Appends s percent-encoded as AWS wants it in a canonical URI segment:
 * everything but A-Z a-z 0-9 - _ . ~ as %XX (uppercase).
 */
enum mg_err sigv4_uri_encode(struct buf *out, const char *s, size_t len);

#endif
