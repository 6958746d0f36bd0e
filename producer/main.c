/* pdnsx-producer: the edge sensor. Everything but the command line lives
 * in libpdnsx_producer, so tests link the real code. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/px_cli.h"
#include "core/px_log.h"
#include "kafka/px_kafka_propfile.h"
#include "producer/px_producer.h"

static const px_cli_spec px_producer_cli = {
    .prog = "pdnsx-producer",
    .synopsis = "[-c FILE] [-s PATH=VALUE]... [-n]",
    .about = "Reads DNS responses from dnstap or pcap, drops everything that could identify a "
             "person, aggregates duplicates into counts per window and publishes Avro "
             "observations to Kafka.",
    .table = px_producer_conf_table,
    .check_config = px_producer_conf_check,
};

int main(int argc, char **argv)
{
    px_log_set_ident("pdnsx-producer");
    px_cli_result cli;
    int rc = px_cli_parse(&px_producer_cli, argc, argv, &cli);
    if (rc >= 0)
        return rc;
    px_producer_conf conf;
    if (px_producer_conf_load(cli.config, &conf, NULL) != PX_OK) {
        px_error("configuration incomplete; run with --check for details");
        px_producer_conf_free(&conf);
        px_config_destroy(cli.config);
        return 2;
    }
    px_log_set_level((px_log_level)px_log_level_parse(conf.log_level));
    char exposed[512];
    if (px_kafka_propfile_exposed(px_config_string(cli.config, "kafka.properties_file"), exposed,
                                  sizeof(exposed)))
        px_warning("%s", exposed);

    sigset_t sigs;
    px_cli_daemon_signals(&sigs);

    px_producer_opts opts = {.signals = &sigs, .wake_signal = SIGUSR1, .flush_timeout_ms = 30000};
    char err[1024] = "";
    px_producer *p = px_producer_create(&conf, &opts, err, sizeof(err));
    if (!p) {
        px_error("%s", err);
        rc = 1;
    } else {
        rc = px_producer_run(p);
    }
    px_producer_destroy(p);
    px_producer_conf_free(&conf);
    px_config_destroy(cli.config);
    return rc;
}
