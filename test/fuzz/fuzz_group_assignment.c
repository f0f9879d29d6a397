/* libFuzzer target for group_desc_parse_assignment: a group member's assignment as a broker
 * (or a client of another make that joined the group) may hand it over. It must never read
 * past the input; an assignment it accepts must fit in the bytes it was given (each run of
 * one topic's partitions re-encoded takes no more room than it did there). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../process/group_desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    struct kt_err err;
    int rc = group_desc_parse_assignment(data, size, &l, &err);
    if (rc != 0) {
        if (l != NULL || (rc != KT_EPROTO && rc != KT_ENOMEM) || err.msg[0] == '\0')
            __builtin_trap();
        return 0;
    }
    if (l == NULL)
        __builtin_trap();
    size_t need = 6; /* version, topic count */
    for (int i = 0; i < l->cnt; i++) {
        if (l->elems[i].topic == NULL)
            __builtin_trap();
        if (i == 0 || strcmp(l->elems[i].topic, l->elems[i - 1].topic) != 0)
            need += 2 + strlen(l->elems[i].topic) + 4;
        need += 4;
    }
    if (need > size)
        __builtin_trap();
    rd_kafka_topic_partition_list_destroy(l);
    return 0;
}
