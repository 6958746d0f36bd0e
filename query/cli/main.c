/* pdnsx-query: history lookups in the consumer's store, or across a
 * cluster of consumers over HTTP, and `verify`, the walk of the whole
 * store. The lookups live in the query module (px_query.h), the
 * --cluster client beside this file (px_query_cluster.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_cli.h"
#include "detect/px_detect.h"
#include "query/px_query.h"
#include "query/px_query_conf.h"

#include "px_query_cluster.h"

enum {
    PX_OPT_AFTER = 0x100,
    PX_OPT_BEFORE,
    PX_OPT_CLUSTER,
    PX_OPT_TIMEOUT,
    PX_OPT_LIMIT,
    PX_OPT_RULE
};

typedef struct px_qmain {
    px_query_req req;
    const char *cluster;
    int timeout_ms;
    bool lookup_opt;  /* --after, --before or --limit given */
    bool limit_opt;   /* --limit given */
    const char *rule; /* --rule: alerts of this rule only */
    char err[512];
    bool verify;      /* the verify subcommand: findings are its output */
    uint64_t damages; /* reports of damage the store made */
} px_qmain;

/* Lookups print this many reports of damage on stderr, then a count. */
#define PX_QMAIN_DAMAGE_LINES 20

static const struct option px_qmain_opts[] = {
    {"after", required_argument, NULL, PX_OPT_AFTER},
    {"before", required_argument, NULL, PX_OPT_BEFORE},
    {"cluster", required_argument, NULL, PX_OPT_CLUSTER},
    {"timeout", required_argument, NULL, PX_OPT_TIMEOUT},
    {"limit", required_argument, NULL, PX_OPT_LIMIT},
    {"rule", required_argument, NULL, PX_OPT_RULE},
    {NULL, 0, NULL, 0},
};

/* --rule: one of the detectors' rule names. */
static px_err px_qmain_rule(px_qmain *q, const char *arg)
{
    for (int r = 0; r < PX_DETECT_RULES; r++)
        if (strcmp(arg, px_detect_rule_name((px_detect_rule)r)) == 0) {
            q->rule = arg;
            return PX_OK;
        }
    snprintf(q->err, sizeof(q->err), "--rule: unknown rule '%s' (%s or %s)", arg,
             PX_DETECT_RULE_BURST, PX_DETECT_RULE_GEO);
    return PX_ERR_INVAL;
}

static int px_qmain_option(void *ctx, int opt, const char *arg)
{
    px_qmain *q = ctx;
    px_err err = PX_OK;
    q->lookup_opt |= opt == PX_OPT_AFTER || opt == PX_OPT_BEFORE || opt == PX_OPT_LIMIT;
    q->limit_opt |= opt == PX_OPT_LIMIT;
    if (opt == PX_OPT_AFTER)
        err = px_query_req_set_after(&q->req, arg, q->err, sizeof(q->err));
    else if (opt == PX_OPT_BEFORE)
        err = px_query_req_set_before(&q->req, arg, q->err, sizeof(q->err));
    else if (opt == PX_OPT_CLUSTER)
        q->cluster = arg;
    else if (opt == PX_OPT_LIMIT)
        err = px_query_req_set_limit(&q->req, arg, q->err, sizeof(q->err));
    else if (opt == PX_OPT_RULE)
        err = px_qmain_rule(q, arg);
    else if (opt == PX_OPT_TIMEOUT) {
        char *end = NULL;
        long v = strtol(arg, &end, 10);
        if (*end || v < 1 || v > 3600) {
            snprintf(q->err, sizeof(q->err), "--timeout: 1 to 3600 seconds");
            err = PX_ERR_INVAL;
        }
        q->timeout_ms = (int)v * 1000;
    }
    if (err != PX_OK) {
        fprintf(stderr, "pdnsx-query: %s\n", q->err);
        return 2;
    }
    return 0;
}

/* stdout holds COF lines only; that the answer is not whole goes to
 * stderr (the exit status stays 0: the limit did what it was asked). */
static void px_qmain_report_cut(const px_qmain *q, const px_query_result *res)
{
    unsigned long long limit = (unsigned long long)q->req.limit;
    if (res->cut || res->answers_cut)
        fflush(stdout); /* after the records on a terminal */
    if (res->answers_cut == 1)
        fprintf(stderr,
                "pdnsx-query: %s cut its answer at the limit of %llu records: the merged "
                "answer may be incomplete (records missing, or counted without that "
                "consumer's part)\n",
                res->cut_by, limit);
    else if (res->answers_cut)
        fprintf(stderr,
                "pdnsx-query: %zu consumers (%s first) cut their answers at the limit of %llu "
                "records: the merged answer may be incomplete (records missing, or counted "
                "without their part)\n",
                res->answers_cut, res->cut_by, limit);
    if (res->cut)
        fprintf(stderr,
                "pdnsx-query: answer cut at the limit of %llu records (--limit; at most "
                "query.max_limit)\n",
                limit);
}

/* Damage the store met: verify's output (stdout); a lookup's notes
 * (stderr, the first PX_QMAIN_DAMAGE_LINES). */
static void px_qmain_damage(void *ctx, const char *where, const char *what)
{
    px_qmain *q = ctx;
    q->damages++;
    if (q->verify)
        printf("damaged: %s: %s\n", where, what);
    else if (q->damages <= PX_QMAIN_DAMAGE_LINES)
        fprintf(stderr, "pdnsx-query: damaged: %s: %s\n", where, what);
}

/* store.path: the partition stores of the consumer (every one present),
 * or the single store of an earlier release (px_stores.h). */
static px_stores *px_qmain_open(px_qmain *q, const char *dir)
{
    px_store_opts opts = {.read_only = true, .on_damage = px_qmain_damage, .damage_ctx = q};
    px_err err = PX_OK;
    px_stores *stores = px_stores_open(dir, &opts, &err, q->err, sizeof(q->err));
    if (!stores)
        fprintf(stderr, "pdnsx-query: cannot open the store in %s: %s\n", dir,
                q->err[0] ? q->err : px_strerror(err));
    return stores;
}

/* `alerts`: the outbox's alerts as JSON lines, in the order they were
 * decided (newest last), those whose time lies in the fence and of the
 * rule asked for. */
static int px_qmain_alerts(px_qmain *q, const char *dir)
{
    px_stores *stores = px_qmain_open(q, dir);
    if (!stores)
        return 1;
    px_err err = px_query_alerts(stores, &q->req.fence, q->rule, stdout, NULL);
    px_stores_close(stores);
    if (err != PX_OK && err != PX_ERR_DAMAGED)
        fprintf(stderr, "pdnsx-query: cannot read the alerts: %s\n", px_strerror(err));
    return err == PX_OK ? 0 : 1;
}

/* One partition store's line of `verify`. */
static void px_qmain_verified(void *ctx, int32_t partition, const px_store_verify_result *r,
                              px_err err)
{
    const char *dir = ctx;
    char name[32] = "";
    if (partition != PX_STORES_ALL)
        snprintf(name, sizeof(name), "/partition-%d", (int)partition);
    if (err != PX_OK && err != PX_ERR_DAMAGED) {
        printf("store %s%s: verify could not finish: %s\n", dir, name, px_strerror(err));
        return;
    }
    printf("store %s%s, transaction %llu: %llu of %llu records and %llu domains read, %llu of "
           "%llu pages checked%s: %s\n",
           dir, name, (unsigned long long)r->txnid, (unsigned long long)r->records,
           (unsigned long long)r->records_expected, (unsigned long long)r->domains,
           (unsigned long long)r->pages, (unsigned long long)r->pages_in_file,
           r->log_pending ? ", a batch log pending" : "", err ? "DAMAGED" : "no damage found");
}

/* `verify`: every finding on a line of its own, a line per partition
 * store, then a summary; exit 1 if anything is damaged. */
static int px_qmain_verify(px_qmain *q, const char *dir)
{
    q->verify = true;
    px_stores *stores = px_qmain_open(q, dir);
    if (!stores) {
        if (q->damages)
            printf("store %s: DAMAGED, it cannot be opened: %llu damaged places; README: "
                   "recovering a damaged store\n",
                   dir, (unsigned long long)q->damages);
        return 1;
    }
    px_store_verify_result r;
    size_t parts = px_stores_list(stores, NULL, 0);
    px_err err = px_stores_verify(stores, PX_STORE_CHECK_FULL, px_qmain_verified, (void *)dir, &r);
    px_stores_close(stores);
    if (err != PX_OK && err != PX_ERR_DAMAGED) {
        fprintf(stderr, "pdnsx-query: verify could not finish: %s\n", px_strerror(err));
        return 1;
    }
    if (parts != 1 || px_stores_layout_of(dir) == PX_STORES_PARTITIONED)
        printf("store %s: %zu partition stores, %llu records and %llu domains: %s\n", dir, parts,
               (unsigned long long)r.records, (unsigned long long)r.domains,
               err ? "DAMAGED" : "no damage found");
    if (err)
        printf("%llu damaged places; README: recovering a damaged store\n",
               (unsigned long long)r.findings);
    return err ? 1 : 0;
}

static int px_qmain_local(px_qmain *q, px_config *config)
{
    const char *dir = px_config_string(config, "store.path");
    px_stores *stores = px_qmain_open(q, dir);
    if (!stores)
        return 1;
    px_query_result res;
    px_err err = px_query_run(stores, &q->req, stdout, &res);
    px_stores_close(stores);
    if (q->damages > PX_QMAIN_DAMAGE_LINES)
        fprintf(stderr, "pdnsx-query: %llu more damage reports not shown\n",
                (unsigned long long)(q->damages - PX_QMAIN_DAMAGE_LINES));
    if (err == PX_ERR_DAMAGED) {
        fflush(stdout); /* after the records on a terminal */
        fprintf(stderr,
                "pdnsx-query: the store is damaged: the answer stops where the damage was met "
                "(the records printed passed every check); 'pdnsx-query verify' lists the "
                "damage\n");
        return 1;
    }
    if (err != PX_OK) {
        fprintf(stderr, "pdnsx-query: lookup failed: %s\n", px_strerror(err));
        return 1;
    }
    px_qmain_report_cut(q, &res);
    return 0;
}

static int px_qmain_cluster(px_qmain *q)
{
    px_query_result res;
    px_err err =
        px_query_cluster(q->cluster, &q->req, q->timeout_ms, stdout, &res, q->err, sizeof(q->err));
    if (err != PX_OK) {
        fprintf(stderr, "pdnsx-query: %s\n", q->err[0] ? q->err : px_strerror(err));
        return err == PX_ERR_INVAL ? 2 : 1;
    }
    px_qmain_report_cut(q, &res);
    return 0;
}

/* A subcommand of the local store: usage (exit 2) when bad, else fn; a
 * failed write of its output is exit 1. */
static int px_qmain_store_cmd(px_qmain *q, px_cli_result *cli, bool bad, const char *usage,
                              int (*fn)(px_qmain *q, const char *dir))
{
    int rc;
    if (bad) {
        fprintf(stderr, "pdnsx-query: %s\nTry 'pdnsx-query --help' for more information.\n", usage);
        rc = 2;
    } else {
        rc = fn(q, px_config_string(cli->config, "store.path"));
    }
    if (fflush(stdout) != 0 && rc == 0)
        rc = 1;
    px_config_destroy(cli->config);
    return rc;
}

int main(int argc, char **argv)
{
    px_qmain q = {.timeout_ms = 30000};
    px_query_req_init(&q.req);
    const px_cli_spec spec = {
        .prog = "pdnsx-query",
        .synopsis = "[-c FILE] [-s PATH=VALUE]... [--after T] [--before T] [--limit N] "
                    "[--rule NAME] [--cluster HOST:PORT,...] (rrset NAME [TYPE] | rdata VALUE | "
                    "domain NAME | alerts | verify)",
        .about = "Looks up the passive DNS history: every record of a name (NAME may start with "
                 "'*.' for every name below) or every record whose data is an address or name. "
                 "Prints one COF JSON object per line; nothing when nothing matches. 'domain' "
                 "prints when a registered domain was first and last seen and by which "
                 "organisations. "
                 "'alerts' prints the alerts detection decided, as JSON lines, newest last "
                 "(--after/--before on the alert's time, --rule NAME). "
                 "'verify' walks the whole store (while the consumer runs too), prints each "
                 "damaged place and a summary, and exits 1 if anything is damaged.",
        .table = px_query_conf_table, /* reads the consumer's file */
        .extra = px_qmain_opts,
        .extra_help =
            "      --after T            only records last seen at or after T\n"
            "      --before T           only records first seen at or before T\n"
            "                           (T: epoch seconds or 2026-11-26T18:00:00Z)\n"
            "      --cluster LIST       ask the consumers of one group (every member's\n"
            "                           query.listen, HOST:PORT,...): a name's lookup\n"
            "                           goes to the member owning its partition, the\n"
            "                           others to all; answers merged\n"
            "      --rule NAME          alerts: only this rule's (pdnsx.new_domain_burst,\n"
            "                           pdnsx.geo_shift)\n"
            "      --timeout SECONDS    per --cluster lookup (default 30)\n"
            "      --limit N            at most N records (default query.limit, at\n"
            "                           most query.max_limit); a cut answer is said\n"
            "                           on stderr\n",
        .on_option = px_qmain_option,
        .ctx = &q,
    };
    px_cli_result cli;
    int rc = px_cli_parse(&spec, argc, argv, &cli);
    if (rc >= 0)
        return rc;
    if (cli.argc >= 1 && strcmp(cli.argv[0], "verify") == 0)
        return px_qmain_store_cmd(&q, &cli, cli.argc > 1 || q.cluster || q.lookup_opt || q.rule,
                                  "verify takes no arguments and works on the local store only",
                                  px_qmain_verify);
    if (cli.argc >= 1 && strcmp(cli.argv[0], "alerts") == 0)
        return px_qmain_store_cmd(&q, &cli, cli.argc > 1 || q.cluster || q.limit_opt,
                                  "alerts takes --after, --before and --rule only, and works on "
                                  "the local store",
                                  px_qmain_alerts);
    if (q.rule) {
        fprintf(stderr, "pdnsx-query: --rule is for alerts only\nTry 'pdnsx-query --help' for "
                        "more information.\n");
        px_config_destroy(cli.config);
        return 2;
    }
    if (px_query_req_parse_args(&q.req, cli.argc, cli.argv, q.err, sizeof(q.err)) != PX_OK) {
        fprintf(stderr, "pdnsx-query: %s\nTry 'pdnsx-query --help' for more information.\n", q.err);
        px_config_destroy(cli.config);
        return 2;
    }
    px_query_limits limits = {.def = (uint64_t)px_config_int(cli.config, "query.limit"),
                              .max = (uint64_t)px_config_int(cli.config, "query.max_limit")};
    px_query_req_apply_limits(&q.req, &limits);
    rc = q.cluster ? px_qmain_cluster(&q) : px_qmain_local(&q, cli.config);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "pdnsx-query: writing the answer failed\n");
        rc = 1;
    }
    px_config_destroy(cli.config);
    return rc;
}
