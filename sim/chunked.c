#define _GNU_SOURCE /* memmem */
/* chunked.c: chunked transfer encoding for --chunked (chunked.h). */
#include "chunked.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int http_chunked;

const char chunked_last[] = "0;sim=last\r\nX-Sim-Trailer: chunked\r\nX-Sim-Checksum: none\r\n\r\n";

/* Chunk sizes in turn: small and odd, so that a reader meets chunk lines
 * split at every place; one large one for the bulk. */
static const size_t sizes[] = {1, 7, 2, 31, 3, 128, 5, 1000, 11};

/* Extensions in turn: none, a token, a quoted value holding a ';'. */
static const char *const exts[] = {"", ";sim", ";sim=\"a;b\"", "", " ; n=1"};

char *chunked_encode(const char *data, size_t len, unsigned *turn, size_t *out_len)
{
	/* Each chunk costs at most 16 hex digits, the longest extension and
	 * two line ends beyond its bytes; a turn of the sizes (9 chunks)
	 * carries 1,188 bytes, one more turn covers where len starts. */
	size_t turns = len / 1188 + 2;
	size_t cap = len + turns * 9 * (16 + 12 + 4) + 1, n = 0, at = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	while (at < len) {
		unsigned t = (*turn)++;
		size_t k = sizes[t % (sizeof sizes / sizeof *sizes)];
		if (k > len - at)
			k = len - at;
		n += (size_t)snprintf(out + n, cap - n, t % 2 ? "%zX%s\r\n" : "%zx%s\r\n", k,
				      exts[t % (sizeof exts / sizeof *exts)]);
		memcpy(out + n, data + at, k);
		n += k;
		memcpy(out + n, "\r\n", 2);
		n += 2;
		at += k;
	}
	*out_len = n;
	return out;
}

/* Whether the head h[0..n) has a header named name (a C string). */
static int has_header(const char *h, size_t n, const char *name)
{
	size_t k = strlen(name);
	for (const char *p = h; p && p < h + n; ) {
		const char *nl = memchr(p, '\n', (size_t)(h + n - p));
		if (!nl)
			break;
		p = nl + 1;
		if ((size_t)(h + n - p) > k && strncasecmp(p, name, k) == 0 && p[k] == ':')
			return 1;
	}
	return 0;
}

char *chunked_first(const char *data, size_t len, unsigned *turn, enum chunk_mode *mode, size_t *out_len)
{
	static const char te[] = "Transfer-Encoding: chunked\r\n\r\n";
	/* A final answer's head (an interim one's is no answer of its own) */
	const char *end = len >= 10 && memcmp(data, "HTTP/", 5) == 0 && data[9] != '1'
		? memmem(data, len, "\r\n\r\n", 4) : NULL;
	size_t head, rest_len = 0;
	char *rest, *out;
	*mode = CHUNK_RAW;
	if (!end)
		return NULL;
	head = (size_t)(end - data) + 2; /* up to the blank line */
	if (has_header(data, head, "Content-Length") || has_header(data, head, "Transfer-Encoding"))
		return NULL;
	rest = chunked_encode(data + head + 2, len - head - 2, turn, &rest_len);
	out = rest ? malloc(head + sizeof te - 1 + rest_len) : NULL;
	if (!out) {
		free(rest);
		return NULL;
	}
	memcpy(out, data, head);
	memcpy(out + head, te, sizeof te - 1);
	memcpy(out + head + sizeof te - 1, rest, rest_len);
	free(rest);
	*out_len = head + sizeof te - 1 + rest_len;
	*mode = CHUNK_ON;
	return out;
}
