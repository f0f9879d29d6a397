/* span_edit: a trace transform that only sets span attributes to literals and deletes span
 * attributes, applied to serialized TracesData without decoding it.
 *
 * Such statements (ottl_statement_span_attr_edit) do the same to every span whatever it
 * holds, so the edits of one span are a fixed list run in statement order over its
 * KeyValues: delete_key drops every attribute with the key, set replaces the value of the
 * first one (keeping its place) or appends the attribute. Decoding a span and encoding it
 * again costs many times what copying its bytes does (README, Performance): what the edits
 * leave alone, unknown fields included, is copied as it came, in runs as long as they go. */
#ifndef PROCESS_SPAN_EDIT_H
#define PROCESS_SPAN_EDIT_H

#include <stddef.h>

#include "kt_buf.h"
#include "ottl/ottl.h"

struct span_edits;

int span_edits_new(struct span_edits **out);
/* Appends one statement's edit, run after those added before. Borrows e's key: the statement
 * must outlive the list. Returns 0 or KT_ENOMEM. */
int span_edits_add(struct span_edits *se, const struct ottl_attr_edit *e);
/* Replaces out's contents with msg (a TracesData that passed kt_otlp_validate) with the edits
 * made to every span. Returns 0, KT_ENOMEM, or KT_EINVAL when msg is not a TracesData. Not
 * for concurrent use on one list (it keeps scratch space). */
int span_edits_apply(struct span_edits *se, struct kt_slice msg, struct kt_buf *out);
void span_edits_free(struct span_edits *se);

#endif
