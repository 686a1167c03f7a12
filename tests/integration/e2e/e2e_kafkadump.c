/*
 * e2e_kafkadump: every message of some Kafka topics, raw, in one file.
 *
 *   e2e_kafkadump [--committed GROUP] BOOTSTRAP OUTFILE TOPIC...
 *
 * For the end-to-end secrets test (tests/integration/e2e): the test looks
 * for passwords in clear in every byte that travelled on Kafka, so this
 * reads the messages as the broker holds them, with no decoding of ours
 * in between (Python's standard library has no Kafka client). Each
 * partition of each topic is read from its low to its high watermark, as
 * they are when the program starts, by plain assignment (no consumer group
 * membership, no commits: the pipeline's own groups are not disturbed).
 *
 * OUTFILE gets one record per message: "topic partition offset\n", the
 * key, "\n", the value, "\n". stdout gets one JSON line with the counts.
 * With --committed GROUP, stdout also gets the offsets GROUP has committed
 * on each partition read, one JSON line per partition (for diagnosing a
 * job that no member received).
 * Exit 0 when every partition was read to its end, 1 otherwise, 2 on a
 * usage error.
 */
#include <librdkafka/rdkafka.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_MS 10000
#define READ_SECONDS 60

static void
die(const char *what, const char *detail) {
    fprintf(stderr, "e2e_kafkadump: %s: %s\n", what, detail);
    exit(1);
}

static rd_kafka_t *
consumer(const char *bootstrap, const char *group_id) {
    char err[512], group[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    /* A group id is required by the consumer API even when nothing is
     * committed; a private one keeps the pipeline's groups untouched. */
    snprintf(group, sizeof(group), "e2e-kafkadump-%ld", (long)getpid());
    if (group_id)
        snprintf(group, sizeof(group), "%s", group_id);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err,
                          sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", err,
                          sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", err,
                          sizeof(err)) != RD_KAFKA_CONF_OK)
        die("configuration", err);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        die("consumer", err);
    return rk;
}

/* Adds every non-empty partition of topic to list, at its low watermark;
 * counts the partitions. */
static int
add_topic(rd_kafka_t *rk, const char *topic,
          rd_kafka_topic_partition_list_t *list, int64_t **ends,
          size_t *nends) {
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e;
    int n = 0;

    if (!t)
        die("topic", topic);
    e = rd_kafka_metadata(rk, 0, t, &md, TIMEOUT_MS);
    if (e || md->topic_cnt != 1 || md->topics[0].err)
        die("metadata",
            e ? rd_kafka_err2str(e) : rd_kafka_err2str(md->topics[0].err));
    for (int i = 0; i < md->topics[0].partition_cnt; i++) {
        int32_t p = md->topics[0].partitions[i].id;
        int64_t lo, hi;

        e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                             TIMEOUT_MS);
        if (e)
            die("watermarks", rd_kafka_err2str(e));
        n++;
        if (hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(list, topic, p)->offset = lo;
        *ends = realloc(*ends, (*nends + 1) * sizeof(**ends));
        if (!*ends)
            abort();
        (*ends)[(*nends)++] = hi;
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    return n;
}

static size_t
find(const rd_kafka_topic_partition_list_t *list, const char *topic,
     int32_t p) {
    for (int i = 0; i < list->cnt; i++)
        if (list->elems[i].partition == p &&
            strcmp(list->elems[i].topic, topic) == 0)
            return (size_t)i;
    return (size_t)-1;
}

/* Prints the offsets group has committed on the partitions of list (it
 * only asks; it never joins the group). */
static void
print_committed(const char *bootstrap, const char *group,
                const rd_kafka_topic_partition_list_t *list) {
    rd_kafka_t *rk = consumer(bootstrap, group);
    rd_kafka_topic_partition_list_t *c =
        rd_kafka_topic_partition_list_copy(list);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, c, TIMEOUT_MS);

    if (e)
        die("committed", rd_kafka_err2str(e));
    for (int i = 0; i < c->cnt; i++)
        printf("{\"group\":\"%s\",\"topic\":\"%s\",\"partition\":%" PRId32
               ",\"committed\":%" PRId64 "}\n",
               group, c->elems[i].topic, c->elems[i].partition,
               c->elems[i].offset);
    rd_kafka_topic_partition_list_destroy(c);
    rd_kafka_destroy(rk);
}

int
main(int argc, char **argv) {
    rd_kafka_topic_partition_list_t *list;
    int64_t *ends = NULL;
    size_t nends = 0, left, messages = 0, bytes = 0;
    bool *done;
    int partitions = 0;
    const char *group = NULL;
    rd_kafka_t *rk;
    FILE *out;
    time_t deadline;

    if (argc > 2 && strcmp(argv[1], "--committed") == 0) {
        group = argv[2];
        argv += 2;
        argc -= 2;
    }
    if (argc < 4) {
        fputs("usage: e2e_kafkadump [--committed GROUP] BOOTSTRAP OUTFILE "
              "TOPIC...\n",
              stderr);
        return 2;
    }
    rk = consumer(argv[1], NULL);
    out = fopen(argv[2], "wb");
    if (!out)
        die("output", argv[2]);
    list = rd_kafka_topic_partition_list_new(16);
    for (int i = 3; i < argc; i++)
        partitions += add_topic(rk, argv[i], list, &ends, &nends);
    left = nends;
    done = calloc(nends + 1, sizeof(*done));
    if (!done)
        abort();
    if (nends && rd_kafka_assign(rk, list))
        die("assign", "failed");
    deadline = time(NULL) + READ_SECONDS;
    while (left > 0 && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
        const char *topic;
        size_t i;

        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            fprintf(stderr, "e2e_kafkadump: %s\n", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        topic = rd_kafka_topic_name(m->rkt);
        i = find(list, topic, m->partition);
        if (!m->err && i != (size_t)-1) {
            fprintf(out, "%s %" PRId32 " %" PRId64 "\n", topic, m->partition,
                    m->offset);
            if (m->key_len)
                fwrite(m->key, 1, m->key_len, out);
            fputc('\n', out);
            if (m->len)
                fwrite(m->payload, 1, m->len, out);
            fputc('\n', out);
            messages++;
            bytes += m->len + m->key_len;
        }
        if (i != (size_t)-1 && !done[i] &&
            (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF ||
             m->offset + 1 >= ends[i])) {
            done[i] = true;
            left--;
        }
        rd_kafka_message_destroy(m);
    }
    printf("{\"topics\":%d,\"partitions\":%d,\"messages\":%zu,\"bytes\":%zu,"
           "\"unfinished\":%zu}\n",
           argc - 3, partitions, messages, bytes, left);
    if (fclose(out))
        die("output", argv[2]);
    if (group)
        print_committed(argv[1], group, list);
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(ends);
    free(done);
    return left ? 1 : 0;
}
