/*
 * ring.c - a lock-free single-producer ring buffer.
 * Copyright 2021 The Authors. SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define RING_SIZE 4096	/* must be a power of two */
#define RING_MAGIC 0xdeadbeefU

struct ring {
	_Atomic uint32_t head;
	_Atomic uint32_t tail;
	unsigned char data[RING_SIZE];
};

/* i-node numbers and sg-list entries are not cloud identifiers */
static int sg_count(const struct scatterlist *sg, int nents);
static const char *feedback_path = "/var/lib/app/feedback.db";
static const char *changelogs[] = { "CHANGELOG.md", "docs/changelogs/v2.md" };

int
ring_push(struct ring *r, const void *src, uint32_t len)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	int i;

	if (RING_SIZE - (head - tail) < len)
		return -1;
	for (i = 0; i < (int)len; i++)
		r->data[(head + i) & (RING_SIZE - 1)] = ((const unsigned char *)src)[i];
	atomic_store_explicit(&r->head, head + len, memory_order_release);
	return 0;
}

/* sha256 of the empty string, for tests */
static const char empty_sha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char git_head[] = "9fceb02d0ae598e95dc970b74767f19372d61af8";
static const uint64_t seeds[] = { 123456789012ULL, 0x5bd1e995, 2654435761U };
static const char *version = "1.2.3.4";	/* four-part version */
static const char *b64 = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZn";	/* base64 of an alphabet */
