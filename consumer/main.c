/* pdnsx-consumer: the central consumer. Everything but the command line
 * lives in libpdnsx_consumer, so tests link the real code. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/px_cli.h"
#include "consumer/px_consumer.h"
#include "core/px_log.h"
#include "kafka/px_kafka_propfile.h"

static const px_cli_spec px_consumer_cli = {
    .prog = "pdnsx-consumer",
    .synopsis = "[-c FILE] [-s PATH=VALUE]... [-n]",
    .about = "Reads every organisation's observations from Kafka, checks that they can be "
             "trusted (others go to the dead-letter topic pdnsx.dlq), and merges them with "
             "GeoIP answers into the embedded store that pdnsx-query reads.",
    .table = px_query_conf_table,
    .check_config = px_consumer_conf_check,
};

int main(int argc, char **argv)
{
    px_log_set_ident("pdnsx-consumer");
    px_cli_result cli;
    int rc = px_cli_parse(&px_consumer_cli, argc, argv, &cli);
    if (rc >= 0)
        return rc;
    px_consumer_conf conf;
    px_err lerr = px_consumer_conf_load(cli.config, &conf);
    if (lerr != PX_OK) {
        /* Validation passed: only memory, or a file it read that changed
         * since (kafka.properties_file), fails here. */
        px_error("loading the configuration: %s; run with --check for details", px_strerror(lerr));
        px_consumer_conf_free(&conf);
        px_config_destroy(cli.config);
        return lerr == PX_ERR_NOMEM ? 1 : 2;
    }
    px_log_set_level((px_log_level)px_log_level_parse(conf.log_level));
    char exposed[512];
    if (px_kafka_propfile_exposed(px_config_string(cli.config, "kafka.properties_file"), exposed,
                                  sizeof(exposed)))
        px_warning("%s", exposed);

    sigset_t sigs;
    px_cli_daemon_signals(&sigs);

    px_consumer_opts opts = {.signals = &sigs};
    char err[1024] = "";
    px_consumer *c = px_consumer_create(&conf, &opts, err, sizeof(err));
    if (!c) {
        px_error("%s", err);
        rc = 1;
    } else {
        rc = px_consumer_run(c);
    }
    px_consumer_destroy(c);
    px_consumer_conf_free(&conf);
    px_config_destroy(cli.config);
    return rc;
}
