/* metadata: what kotel-process takes from a Kafka message's record headers besides its value.
 *
 * - The kafkareceiver's header_extraction: named headers become resource attributes
 *   kafka.header.<name> of every resource in the message (set as pdata's PutStr does: the
 *   first attribute of that key gets the value, else it is appended), rewritten on the wire
 *   so pass-through messages stay undecoded.
 * - Request metadata: the values of [exporter] headers_from_metadata, looked up among the
 *   headers without case (the Collector's client.Metadata), which the exporter batches apart
 *   and sends as request headers. */
#ifndef PROCESS_METADATA_H
#define PROCESS_METADATA_H

#include <stdbool.h>
#include <stddef.h>

#include "kt_buf.h"
#include "kt_err.h"

/* One attribute to set: key and string value, borrowed. */
struct metadata_attr {
    struct kt_slice key, value;
};

/* Scratch reused across calls, so a message costs no allocation once warm. */
struct metadata_scratch {
    struct kt_buf resource, outer;
};

/* Writes into out (reset first) the TracesData / MetricsData / LogsData in with every
 * resource holding the n attributes (field 1 of each is the Resource{Spans,Metrics,Logs}, and
 * field 1 of those the Resource, in all three signals). in must be valid protobuf (the
 * pipeline validated it). Returns 0, KT_EINVAL (malformed), KT_ENOMEM. */
int metadata_set_resource_attrs(struct kt_slice in, const struct metadata_attr *attrs, size_t n,
                                struct metadata_scratch *s, struct kt_buf *out);

void metadata_scratch_free(struct metadata_scratch *s);

struct consumer_msg;
/* The value of m's first record header named name (compared without case when nocase), valid
 * as long as m's value. false when m has no such header (or no librdkafka message). */
bool metadata_header(const struct consumer_msg *m, const char *name, bool nocase,
                     struct kt_slice *out);

#endif
