/*
 * bench_loadgen.c - closed-loop HTTP load generator for `make bench`.
 *
 *   bench_loadgen URL BODYFILE[,BODYFILE...] CONCURRENCY REQUESTS [HEADER...]
 *
 * CONCURRENCY threads each send REQUESTS/CONCURRENCY POSTs of BODYFILE over
 * a kept-alive libcurl connection and record the latency of each, and the
 * time until the first body byte arrives. Prints one JSON line: p50/p99 latency and TTFB in
 * milliseconds, requests per second and the error count. With several
 * BODYFILEs, each thread's request i sends body i modulo their number (one
 * connection for requests that must each differ, such as first turns).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define MAX_BODIES 64

struct job {
	const char *url;
	char **body;
	long *body_len;
	int nbodies;
	struct curl_slist *headers;
	int count;
	double *lat;
	double *ttfb;
	int errors;
};

/* Records when the first body byte of the current request arrived. */
static size_t
first_byte(char *p, size_t size, size_t n, void *ud)
{
	double *t = ud;

	(void)p;
	if (*t == 0)
		*t = mg_now_ms();
	return size * n;
}

static void *
run(void *arg)
{
	struct job *j = arg;
	CURL *h = curl_easy_init();
	int i;

	curl_easy_setopt(h, CURLOPT_URL, j->url);
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, j->headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, first_byte);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	for (i = 0; i < j->count; i++) {
		double t0, first = 0;
		long code = 0;
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->body[i % j->nbodies]);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, j->body_len[i % j->nbodies]);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &first);
		t0 = mg_now_ms();
		if (curl_easy_perform(h) != CURLE_OK)
			j->errors++;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (code != 200)
			j->errors++;
		j->lat[i] = mg_now_ms() - t0;
		j->ttfb[i] = first > 0 ? first - t0 : j->lat[i];
	}
	curl_easy_cleanup(h);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double *v, int n, double p)
{
	int i = (int)(p * (n - 1) + 0.5);

	return v[i];
}

int
main(int argc, char **argv)
{
	struct curl_slist *headers = NULL;
	struct job *jobs;
	pthread_t *th;
	double *lat, *ttfb, t0, secs;
	char *body[MAX_BODIES], *files, *name, *save = NULL;
	long len[MAX_BODIES];
	int conc, total, per, i, nbodies = 0, errors = 0;
	FILE *f;

	if (argc < 5) {
		fprintf(stderr, "usage: bench_loadgen URL BODYFILE[,BODYFILE...] CONCURRENCY "
		    "REQUESTS [HEADER...]\n");
		return 2;
	}
	conc = (int)strtol(argv[3], NULL, 10);
	total = (int)strtol(argv[4], NULL, 10);
	if (conc < 1 || total < conc)
		return 2;
	per = total / conc;
	files = strdup(argv[2]);
	for (name = strtok_r(files, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
		if (nbodies == MAX_BODIES)
			return 2;
		f = fopen(name, "rb");
		if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len[nbodies] = ftell(f)) < 0)
			return 1;
		rewind(f);
		body[nbodies] = malloc((size_t)len[nbodies] + 1);
		if (body[nbodies] == NULL ||
		    fread(body[nbodies], 1, (size_t)len[nbodies], f) != (size_t)len[nbodies])
			return 1;
		fclose(f);
		nbodies++;
	}
	free(files);
	if (nbodies == 0)
		return 2;
	for (i = 5; i < argc; i++)
		headers = curl_slist_append(headers, argv[i]);
	headers = curl_slist_append(headers, "Expect:");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	jobs = calloc((size_t)conc, sizeof(*jobs));
	th = calloc((size_t)conc, sizeof(*th));
	lat = calloc((size_t)(per * conc), sizeof(double));
	ttfb = calloc((size_t)(per * conc), sizeof(double));
	if (jobs == NULL || th == NULL || lat == NULL || ttfb == NULL)
		return 1;
	t0 = mg_now_ms();
	for (i = 0; i < conc; i++) {
		jobs[i] = (struct job){ argv[1], body, len, nbodies, headers, per, lat + i * per,
		    ttfb + i * per, 0 };
		pthread_create(&th[i], NULL, run, &jobs[i]);
	}
	for (i = 0; i < conc; i++) {
		pthread_join(th[i], NULL);
		errors += jobs[i].errors;
	}
	secs = (mg_now_ms() - t0) / 1000.0;
	qsort(lat, (size_t)(per * conc), sizeof(double), cmp);
	qsort(ttfb, (size_t)(per * conc), sizeof(double), cmp);
	printf("{\"n\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"ttfb_p50_ms\":%.3f,"
	    "\"ttfb_p99_ms\":%.3f,\"rps\":%.1f,\"errors\":%d}\n", per * conc,
	    pct(lat, per * conc, 0.50), pct(lat, per * conc, 0.99),
	    pct(ttfb, per * conc, 0.50), pct(ttfb, per * conc, 0.99),
	    (per * conc) / secs, errors);
	curl_slist_free_all(headers);
	curl_global_cleanup();
	for (i = 0; i < nbodies; i++)
		free(body[i]);
	free(jobs);
	free(th);
	free(lat);
	free(ttfb);
	return errors != 0;
}
