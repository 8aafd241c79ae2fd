/* chunked.h: answers in chunked transfer encoding (--chunked): what a
 * camera behind a proxy, or a firmware that streams its JSON, sends.
 * Every chunked answer has small chunks of odd sizes, chunk extensions
 * (one of them quoted, with a ';' inside), hex digits in both cases, and
 * ends with a last chunk carrying an extension and a trailer. */
#ifndef SIM_CHUNKED_H
#define SIM_CHUNKED_H

#include <stddef.h>

/* Set by --chunked: complete answers (http_respond) and streamed ones
 * without a Content-Length (the subscribeMsg push) go out chunked. */
extern int http_chunked;

/* What a streamed answer's writes are, decided at its first write. */
enum chunk_mode { CHUNK_UNDECIDED = 0, CHUNK_RAW, CHUNK_ON };

/* data[0..len) as chunks, in a new string (*out_len bytes; NULL when out
 * of memory). *turn picks the next chunk's size and extension, so that
 * the sizes go on varying across calls. */
char *chunked_encode(const char *data, size_t len, unsigned *turn, size_t *out_len);

/* The last chunk, with an extension, and the trailer. */
extern const char chunked_last[];

/* A streamed answer's first write: when data starts with a final head that
 * does not frame its body itself (no Content-Length nor
 * Transfer-Encoding), the head with "Transfer-Encoding: chunked" and what
 * followed it as chunks, *mode = CHUNK_ON; otherwise NULL, *mode =
 * CHUNK_RAW (written as it is). Out of memory: NULL, CHUNK_RAW. */
char *chunked_first(const char *data, size_t len, unsigned *turn, enum chunk_mode *mode, size_t *out_len);

#endif
