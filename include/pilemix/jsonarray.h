/* pm_jsonarray_t: the elements of one JSON array, streamed.
 *
 * lm_dataformat's .json.zst is one JSON array of strings: `["doc 1",
 * "doc 2", ...]`. The array is never held whole: the scanner finds each
 * top-level element's bytes (tracking strings, escapes and nesting only)
 * and returns them, with the byte offset, line and column of the element's
 * first byte in the uncompressed stream. Whether an element is a valid
 * document is the record parser's business (a bad element is a bad record);
 * what breaks the array itself (no '[', an empty element, trailing data,
 * the stream ending inside the array) is PM_EDATA for the file, with its
 * line:column. (A missing ',' joins two elements into one, which the parser
 * rejects as a bad record.) A UTF-8 BOM before the '[' is skipped.
 *
 * An element longer than max_elem comes back with too_long set, data capped
 * to a 4 KiB prefix and full_len the real length; memory stays at a chunk
 * plus max_elem. An element's data is valid until the next call. */
#ifndef PILEMIX_JSONARRAY_H
#define PILEMIX_JSONARRAY_H

#include "pilemix/reader.h"
#include "pilemix/stream.h"

typedef struct pm_jsonarray pm_jsonarray_t;

/* Takes src when own. name is for messages. max_elem 0: no limit. */
int pm_jsonarray_open(pm_jsonarray_t **out, pm_stream_t *src, bool own, const char *name,
                      size_t max_elem, pm_error_t *err);

/* 1: an element in *el (lineno/offset as for lines; column in el_column);
 * 0: the array ended (and nothing follows it); < 0: error. */
int pm_jsonarray_next(pm_jsonarray_t *ja, pm_line_t *el, uint64_t *el_column, pm_error_t *err);

void pm_jsonarray_close(pm_jsonarray_t *ja); /* accepts NULL */

#endif
