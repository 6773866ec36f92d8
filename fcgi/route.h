/*
 * route.h - maps method and path to a handler; one handler file per
 * endpoint family (h_*.c).
 */
#ifndef MG_ROUTE_H
#define MG_ROUTE_H

#include "http.h"
#include "keys.h"

/* Authenticates when the route needs it, then runs the handler. */
void route_dispatch(struct request *req);

/* 508 when the request came from this maskgate itself; 1 if answered. */
int proxy_loop_detected(struct request *req);

/* Handlers. p is NULL for routes open without a credential. */
void h_root(struct request *req, const struct principal *p);
void h_liveliness(struct request *req, const struct principal *p);
void h_readiness(struct request *req, const struct principal *p);
void h_messages(struct request *req, const struct principal *p);
void h_models(struct request *req, const struct principal *p);

#endif
