/* px_query_conf.h: every setting of the consumer's configuration file
 * (docs/INTERFACE.md "pdnsx-consumer settings") as one px_config table.
 * Two programs read that file: pdnsx-consumer runs with it, pdnsx-query
 * takes store.path and query.* from it and validates the rest as the
 * consumer would. The table lives in the query module, which both link,
 * so that neither program links the other's code. The checks that need
 * the consumer's own libraries (a GeoIP file opens, librdkafka takes the
 * properties, the store directory is writable) are the consumer's
 * --check hook, px_consumer_conf_check(). */
#ifndef PX_QUERY_CONF_H
#define PX_QUERY_CONF_H

#include "core/px_config.h"
#include "store/px_store.h"

/* {NULL}-terminated; for px_config_create() and px_cli_spec.table. */
extern const px_conf_item px_query_conf_table[];

/* The defaults of kafka.fetch_queue_messages, _kbytes and fetch_max_kbytes. */
#define PX_QUERY_CONF_FETCH_QUEUE_MESSAGES 500000
#define PX_QUERY_CONF_FETCH_QUEUE_KBYTES 65536
#define PX_QUERY_CONF_FETCH_MAX_KBYTES 16384
/* dlq.max_bytes: the default is librdkafka's own message.max.bytes; the
 * least is the size a copy the broker refused as too large is resent
 * cut to. */
#define PX_QUERY_CONF_DLQ_MAX_BYTES 1000000
#define PX_QUERY_CONF_DLQ_MIN_BYTES 4096

/* store.check_on_open's value as a px_store_check; PX_STORE_CHECK_FULL
 * for NULL or anything the table would refuse. */
px_store_check px_query_conf_store_check(const char *value);

#endif
