/* px_producer_conf.c: the producer's settings table and loader. */
#include "producer/px_producer_conf.h"

#include "core/px_net.h"
#include "dns/px_addr.h"
#include "dns/px_dns_msg.h"
#include "dns/px_dns_name.h"
#include "kafka/px_kafka.h"
#include "kafka/px_kafka_conf.h"
#include "obs/px_obs.h"
#include "px_input.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the table ------------------------------------------------------------- */

/* Same order as px_input_type, so the index is the enum value. */
static const char *const px_input_types[] = {"dnstap-unix", "dnstap-tcp", "dnstap-file",
                                             "pcap-file",   "pcap-live",  NULL};

static const char *const px_dnstap_types[] = {
    "AUTH_RESPONSE", "RESOLVER_RESPONSE", "CLIENT_RESPONSE", "FORWARDER_RESPONSE",
    "STUB_RESPONSE", "TOOL_RESPONSE",     "UPDATE_RESPONSE", NULL};

static const px_conf_item px_input_items[] = {
    {.path = "type",
     .type = PX_CONF_STRING,
     .flags = PX_CONF_REQUIRED,
     .choices = px_input_types,
     .help = "kind of input"},
    {.path = "path",
     .type = PX_CONF_STRING,
     .help = "dnstap-unix: socket to create; dnstap-file, pcap-file: file to read"},
    {.path = "listen",
     .type = PX_CONF_STRING,
     .check = px_conf_check_hostport,
     .help = "dnstap-tcp: address to listen on, IPv4:port or [IPv6]:port"},
    {.path = "interface", .type = PX_CONF_STRING, .help = "pcap-live: network interface"},
    {.path = "filter",
     .type = PX_CONF_STRING,
     .help = "pcap: BPF filter (pcap-live default \"port 53\")"},
    {.path = NULL},
};

const px_conf_item px_producer_conf_table[] = {
    {.path = "org",
     .type = PX_CONF_STRING,
     .flags = PX_CONF_REQUIRED,
     .check = px_obs_conf_check_org,
     .help = "organisation id, [a-z0-9][a-z0-9-]{0,31}"},
    {.path = "sensor",
     .type = PX_CONF_STRING,
     .check = px_obs_conf_check_sensor,
     .help = "sensor id within the organisation (default: host name)"},
    {.path = "inputs",
     .type = PX_CONF_LIST,
     .flags = PX_CONF_REQUIRED,
     .children = px_input_items,
     .help = "list of input groups ( { type = \"...\"; ... }, ... )"},
    {.path = "privacy.rrtypes",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[\"A\", \"AAAA\", \"CNAME\", \"MX\", \"NS\"]",
     .check = px_dns_conf_check_type,
     .help = "RR types recorded"},
    {.path = "privacy.errors",
     .type = PX_CONF_BOOL,
     .def = "false",
     .help = "record responses whose rcode is not NOERROR"},
    {.path = "privacy.private_answers",
     .type = PX_CONF_BOOL,
     .def = "false",
     .help = "record answers with special-purpose addresses"},
    {.path = "privacy.local_zones",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[]",
     .check = px_dns_conf_check_name,
     .help = "extra local zones, on top of the built-in ones"},
    {.path = "privacy.wildcard_servers",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[]",
     .check = px_addr_conf_check,
     .help = "server addresses whose answers are dropped"},
    {.path = "privacy.min_clients",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 1000,
     .def = "1",
     .help = "share a record only if this many distinct clients asked in the window"},
    {.path = "dnstap.message_types",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[\"AUTH_RESPONSE\", \"RESOLVER_RESPONSE\", \"CLIENT_RESPONSE\", "
            "\"FORWARDER_RESPONSE\", \"STUB_RESPONSE\", \"TOOL_RESPONSE\", "
            "\"UPDATE_RESPONSE\"]",
     .choices = px_dnstap_types,
     .help = "dnstap message types used"},
    {.path = "dnstap.max_connections",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 1000, /* below the usual limit of 1024 open files */
     .def = "64",
     .help = "dnstap-unix/-tcp: senders served at once; when all are taken, a new sender "
             "takes the slot of the oldest still in its handshake, else of the one idle longest"},
    {.path = "dnstap.handshake_ms",
     .type = PX_CONF_INT,
     .min = 100,
     .max = 600000,
     .def = "5000",
     .help = "dnstap-unix/-tcp: time a sender has from connecting to START (the whole "
             "Frame Streams handshake), in milliseconds"},
    {.path = "dnstap.idle_seconds",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 604800,
     .def = "3600",
     .help = "dnstap-unix/-tcp: a connection that sent nothing for this long is closed "
             "(resolvers reconnect)"},
    {.path = "window.seconds",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 86400,
     .def = "60",
     .help = "aggregation window, in event time"},
    {.path = "window.max_entries",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 100000000,
     .def = "1000000",
     .help = "distinct records held per window before an early flush"},
    {.include = px_conf_kafka_items}, /* kafka.brokers, kafka.properties */
    {.path = "kafka.topic",
     .type = PX_CONF_STRING,
     .check = px_conf_check_topic,
     .help = "topic (default: \"pdnsx.obs.<org>\")"},
    {.path = "kafka.enabled",
     .type = PX_CONF_BOOL,
     .def = "true",
     .help = "false: aggregate and encode but publish nothing (dry runs, benchmarks)"},
    {.path = "kafka.max_block_ms",
     .type = PX_CONF_INT,
     .min = 1,
     .max = 600000,
     .def = "1000",
     .help = "longest a full local Kafka queue may hold up the inputs; past it, observations "
             "go to the spool, else (live inputs) the newest are dropped and counted"},
    {.path = "spool.path",
     .type = PX_CONF_STRING,
     .help = "on-disk spool used when Kafka is unreachable longer than memory allows"},
    {.path = "spool.max_bytes",
     .type = PX_CONF_INT,
     .min = 1,
     .max = INT64_MAX,
     .def = "1073741824",
     .help = "largest spool size, in bytes"},
    {.include = px_conf_metrics_items},
    {.include = px_conf_log_items},
    {.include = px_http_conf_items},
    {.path = NULL},
};

/* ---- loader ------------------------------------------------------------------ */

static const char **px_strings(const px_config *cfg, const char *path, size_t *n)
{
    *n = px_config_array_len(cfg, path);
    const char **v = calloc(*n ? *n : 1, sizeof(*v));
    if (!v) {
        *n = 0;
        return NULL;
    }
    for (size_t i = 0; i < *n; i++)
        v[i] = px_config_array_string(cfg, path, i);
    return v;
}

static int px_input_index(const char *type)
{
    for (int i = 0; type && px_input_types[i]; i++)
        if (strcmp(px_input_types[i], type) == 0)
            return i;
    return -1;
}

/* The member an input of this type cannot do without. */
static const char *px_input_needs(px_input_type t)
{
    switch (t) {
    case PX_INPUT_DNSTAP_TCP:
        return "listen";
    case PX_INPUT_PCAP_LIVE:
        return "interface";
    default:
        return "path";
    }
}

static px_err px_load_inputs(const px_config *cfg, px_producer_conf *out, px_config *problems)
{
    size_t n = px_config_list_len(cfg, "inputs");
    out->inputs = calloc(n ? n : 1, sizeof(*out->inputs));
    if (!out->inputs)
        return PX_ERR_NOMEM;
    px_err err = PX_OK;
    for (size_t i = 0; i < n; i++) {
        px_producer_input *in = &out->inputs[out->n_inputs];
        in->type_name = px_config_list_string(cfg, "inputs", i, "type");
        in->path = px_config_list_string(cfg, "inputs", i, "path");
        in->listen = px_config_list_string(cfg, "inputs", i, "listen");
        in->interface = px_config_list_string(cfg, "inputs", i, "interface");
        in->filter = px_config_list_string(cfg, "inputs", i, "filter");
        int t = px_input_index(in->type_name);
        if (t < 0) { /* validation has said why */
            err = PX_ERR_CONFIG;
            continue;
        }
        in->type = (px_input_type)t;
        const char *need = px_input_needs(in->type);
        const char *have = in->type == PX_INPUT_DNSTAP_TCP   ? in->listen
                           : in->type == PX_INPUT_PCAP_LIVE ? in->interface
                                                             : in->path;
        if (!have) {
            char where[64];
            snprintf(where, sizeof(where), "inputs.[%zu]", i);
            if (problems)
                px_config_add_problem(problems, where, "'inputs[%zu]' of type %s needs '%s'", i,
                                      in->type_name, need);
            err = PX_ERR_CONFIG;
            continue;
        }
        out->n_inputs++;
    }
    if (n == 0 && px_config_is_set(cfg, "inputs")) {
        if (problems)
            px_config_add_problem(problems, "inputs", "'inputs' needs at least one input");
        err = PX_ERR_CONFIG;
    }
    return err;
}

static px_err px_load_kafka(const px_config *cfg, px_producer_conf *out)
{
    px_err err = px_kafka_settings_load(cfg, &out->kafka);
    if (err != PX_OK)
        return err;
    out->kafka_enabled = px_config_bool(cfg, "kafka.enabled");
    out->kafka_topic = px_config_string(cfg, "kafka.topic");
    if (!out->kafka_topic && out->org) {
        if (asprintf(&out->own_topic, "pdnsx.obs.%s", out->org) < 0) {
            out->own_topic = NULL;
            return PX_ERR_NOMEM;
        }
        out->kafka_topic = out->own_topic;
    }
    return PX_OK;
}

static px_err px_load_sensor(const px_config *cfg, px_producer_conf *out)
{
    out->sensor = px_config_string(cfg, "sensor");
    if (out->sensor)
        return PX_OK;
    char host[256];
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "unknown");
    host[sizeof(host) - 1] = '\0';
    out->own_sensor = strdup(host);
    out->sensor = out->own_sensor;
    return out->own_sensor ? PX_OK : PX_ERR_NOMEM;
}

px_err px_producer_conf_load(const px_config *cfg, px_producer_conf *out, px_config *problems_to)
{
    memset(out, 0, sizeof(*out));
    out->org = px_config_string(cfg, "org");
    out->rrtypes = px_strings(cfg, "privacy.rrtypes", &out->n_rrtypes);
    out->errors = px_config_bool(cfg, "privacy.errors");
    out->private_answers = px_config_bool(cfg, "privacy.private_answers");
    out->local_zones = px_strings(cfg, "privacy.local_zones", &out->n_local_zones);
    out->wildcard_servers = px_strings(cfg, "privacy.wildcard_servers", &out->n_wildcard_servers);
    out->dnstap_types = px_strings(cfg, "dnstap.message_types", &out->n_dnstap_types);
    out->dnstap_max_connections = (unsigned)px_config_int(cfg, "dnstap.max_connections");
    out->dnstap_handshake_ms = (unsigned)px_config_int(cfg, "dnstap.handshake_ms");
    out->dnstap_idle_seconds = (unsigned)px_config_int(cfg, "dnstap.idle_seconds");
    out->kafka_max_block_ms = (int)px_config_int(cfg, "kafka.max_block_ms");
    out->window.seconds = px_config_int(cfg, "window.seconds");
    out->window.max_entries = (size_t)px_config_int(cfg, "window.max_entries");
    out->window.min_clients = (uint32_t)px_config_int(cfg, "privacy.min_clients");
    out->spool_path = px_config_string(cfg, "spool.path");
    out->spool_max_bytes = px_config_int(cfg, "spool.max_bytes");
    out->metrics_listen = px_config_string(cfg, "metrics.listen");
    px_http_limits_from_config(cfg, &out->http);
    out->log_level = px_config_string(cfg, "log.level");
    if (!out->rrtypes || !out->local_zones || !out->wildcard_servers || !out->dnstap_types)
        return PX_ERR_NOMEM;
    px_err err = px_load_sensor(cfg, out);
    if (err == PX_OK)
        err = px_load_kafka(cfg, out);
    if (err != PX_OK)
        return err;
    return px_load_inputs(cfg, out, problems_to);
}

void px_producer_conf_free(px_producer_conf *c)
{
    if (!c)
        return;
    free(c->inputs);
    free(c->rrtypes);
    free(c->local_zones);
    free(c->wildcard_servers);
    free(c->dnstap_types);
    px_kafka_settings_free(&c->kafka);
    free(c->own_sensor);
    free(c->own_topic);
    memset(c, 0, sizeof(*c));
}

/* ---- what would otherwise fail only at run time ----------------------------- */

/* A file input's path names something that can be opened for reading and
 * is not a directory ("-", standard input, for pcap-file). A FIFO is not
 * opened: its writer would take the check for the reader. */
static void px_check_input_path(px_config *cfg, size_t i, const char *type, const char *path)
{
    if (strcmp(type, "pcap-file") == 0 && strcmp(path, "-") == 0)
        return;
    struct stat st;
    const char *why = NULL;
    if (stat(path, &st) != 0) {
        why = strerror(errno);
    } else if (S_ISDIR(st.st_mode)) {
        why = "it is a directory";
    } else if (S_ISREG(st.st_mode)) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            why = strerror(errno);
        else
            close(fd);
    } else if (access(path, R_OK) != 0) {
        why = strerror(errno);
    }
    char where[64];
    snprintf(where, sizeof(where), "inputs.[%zu].path", i);
    if (why)
        px_config_add_problem(cfg, where, "'inputs[%zu].path' \"%s\": %s", i, path, why);
}

/* A BPF filter compiles for the link type it will meet: a pcap-file's own
 * (its header is read, nothing more), else Ethernet. */
static void px_check_filter(px_config *cfg, size_t i, const char *type, const char *path,
                            const char *filter)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = NULL;
    struct stat st;
    if (strcmp(type, "pcap-file") == 0 && path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
        p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p)
        p = pcap_open_dead(DLT_EN10MB, 65535);
    if (!p)
        return;
    struct bpf_program prog;
    char where[64];
    snprintf(where, sizeof(where), "inputs.[%zu].filter", i);
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0)
        px_config_add_problem(cfg, where, "'inputs[%zu].filter' \"%s\" does not compile: %s", i,
                              filter, pcap_geterr(p));
    else
        pcap_freecode(&prog);
    pcap_close(p);
}

static void px_check_inputs(px_config *cfg)
{
    for (size_t i = 0; i < px_config_list_len(cfg, "inputs"); i++) {
        const char *type = px_config_list_string(cfg, "inputs", i, "type");
        const char *path = px_config_list_string(cfg, "inputs", i, "path");
        const char *filter = px_config_list_string(cfg, "inputs", i, "filter");
        if (!type)
            continue;
        bool file = strcmp(type, "pcap-file") == 0 || strcmp(type, "dnstap-file") == 0;
        if (file && path)
            px_check_input_path(cfg, i, type, path);
        if (filter && *filter && (strcmp(type, "pcap-file") == 0 || strcmp(type, "pcap-live") == 0))
            px_check_filter(cfg, i, type, path, filter);
    }
}

void px_producer_conf_check(void *ctx, px_config *cfg)
{
    (void)ctx;
    px_producer_conf pc;
    px_producer_conf_load(cfg, &pc, cfg);
    px_producer_conf_free(&pc);
    px_check_inputs(cfg);
    px_kafka_conf_check(cfg, "kafka.properties");
    px_kafka_propfile_check(cfg, "kafka.properties_file");
}
