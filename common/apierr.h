/*
 * apierr.h - the Anthropic error types a refusal carries. The core decides
 * the type; the front end (fcgi/http.c) writes the envelope, in AWS shape
 * too on a Bedrock route.
 */
#ifndef MG_APIERR_H
#define MG_APIERR_H

enum api_etype {
	ET_INVALID_REQUEST,	/* 400, 405, 413 */
	ET_AUTHENTICATION,	/* 401 */
	ET_PERMISSION,		/* 403 */
	ET_NOT_FOUND,		/* 404 */
	ET_REQUEST_TOO_LARGE,	/* 413 */
	ET_RATE_LIMIT,		/* 429 */
	ET_API,			/* 500, 502, 503, 504, 508 */
	ET_OVERLOADED,		/* 529 */
	ET_TIMEOUT,		/* 504 */
	ET__MAX
};

#endif
