/* px_producer_conf.h: the public producer/px_producer_conf.h under its old
 * private name, for the callers that still include it so (test_cli,
 * test_config, fuzz_config); removed once they include the public one. */
#include "producer/px_producer_conf.h"
