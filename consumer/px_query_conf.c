/* px_query_conf.c: pdnsx-query's settings table.
 * TODO(merge): pdnsx-query must accept the whole consumer configuration
 * file; once the consumer's table exists, use it here instead. */
#include "px_query_conf.h"

#include <stddef.h>

const px_conf_item px_query_conf_table[] = {
    {.path = "store.path",
     .type = PX_CONF_STRING,
     .def = "\"/var/lib/pdnsx\"",
     .help = "directory of the embedded store"},
    {.path = NULL},
};
