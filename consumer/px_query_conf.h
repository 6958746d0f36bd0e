/* px_query_conf.h: the settings pdnsx-query reads. It takes the
 * consumer's configuration file (-c), of which it needs store.path. */
#ifndef PX_QUERY_CONF_H
#define PX_QUERY_CONF_H

#include "px_config.h"

/* {NULL}-terminated; for px_cli_spec.table. */
extern const px_conf_item px_query_conf_table[];

#endif
