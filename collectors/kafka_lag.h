/* collectors/kafka_lag.h — consumer group lag of a Kafka cluster.
 *
 * Points (see the comment at the top of kafka_lag.c for the rules):
 *   kafka_consumer_lag,group=G,partition=P,topic=T
 *       committed_offset=Ni (absent when the group has no commit there),
 *       high_watermark=Ni, lag=Ni, lag_rate=F (absent on the first tick)
 *   kafka_consumer_group,group=G
 *       total_lag=Ni, lag_rate=F, partitions=Ni, status="ok|lagging|stalled",
 *       status_code=0|1|2i
 * The collector owns one librdkafka client, created by start and reused; it
 * never joins a group (committed offsets come from the OffsetFetch admin
 * call). */
#ifndef PW_COLLECTOR_KAFKA_LAG_H
#define PW_COLLECTOR_KAFKA_LAG_H

#include "collectors/collector.h"

extern const struct pw_collector_ops pw_kafka_lag_collector;

#endif
