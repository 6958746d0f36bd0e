/* px_detect_conf.c: the detect.* settings (docs/INTERFACE.md; defaults and
 * their reasons in docs/DETECTION.md). */
#include <stdlib.h>
#include <string.h>

#include "detect/px_detect.h"
#include "detect/px_lookalike.h"
#include "obs/px_psl.h"
#include "px_detect_int.h"

/* A brand as the scorer takes it, one label above a public suffix when it
 * has a dot (so --check refuses "www.paypal.com"). */
static bool check_brand(const char *value, char *why, size_t whylen)
{
    px_lookalike_opts o = px_lookalike_opts_default();
    o.is_public_suffix = px_psl_is_public_suffix;
    return px_lookalike_check_brand(value, &o, why, whylen);
}

static const char *const rules[] = {PX_DETECT_RULE_BURST, PX_DETECT_RULE_GEO, NULL};

#define DAY "86400"
#define WEEK "604800"
#define YEAR 31622400

const px_conf_item px_detect_conf_items[] = {
    {.path = "detect.rules",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[\"" PX_DETECT_RULE_BURST "\", \"" PX_DETECT_RULE_GEO "\"]",
     .choices = rules,
     .help = "the detectors that run (an empty list: none)"},
    {.path = "detect.burst.orgs",
     .type = PX_CONF_INT,
     .min = 2,
     .max = PXD_ORGS_MAX,
     .def = "3",
     .help = "distinct organisations that make a burst (one alone never does)"},
    {.path = "detect.burst.window",
     .type = PX_CONF_INT,
     .min = 60,
     .max = 7 * 86400,
     .def = "3600",
     .help = "seconds over which the organisations are counted (a sliding window)"},
    {.path = "detect.burst.new_for",
     .type = PX_CONF_INT,
     .min = 60,
     .max = YEAR,
     .def = DAY,
     .help = "a domain first seen less than this many seconds ago is new"},
    {.path = "detect.burst.warmup",
     .type = PX_CONF_INT,
     .min = 0,
     .max = YEAR,
     .def = WEEK,
     .help = "no new-domain alerts until the store holds this many seconds of history (event "
             "time since its first observation)"},
    {.path = "detect.geo.min_history",
     .type = PX_CONF_INT,
     .min = 0,
     .max = YEAR,
     .def = WEEK,
     .help = "seconds of history a name needs before a shift counts"},
    {.path = "detect.geo.max_countries",
     .type = PX_CONF_INT,
     .min = 2,
     .max = PXD_COUNTRIES_MAX,
     .def = "3",
     .help = "a name whose answers already span this many countries never alerts (CDN, anycast)"},
    {.path = "detect.geo.max_asns",
     .type = PX_CONF_INT,
     .min = 2,
     .max = PXD_ASNS_MAX,
     .def = "4",
     .help = "a name whose answers already span this many ASNs never alerts (CDN, anycast)"},
    {.path = "detect.geo.min_orgs",
     .type = PX_CONF_INT,
     .min = 1,
     .max = PXD_ORGS_MAX,
     .def = "1",
     .help = "organisations that must have seen a new answer before it alerts"},
    {.path = "detect.cooldown",
     .type = PX_CONF_INT,
     .min = 0,
     .max = YEAR,
     .def = DAY,
     .help = "seconds before the same rule and subject may alert again"},
    {.path = "detect.brands",
     .type = PX_CONF_STRING_ARRAY,
     .def = "[]",
     .check = check_brand,
     .help = "protected brands (registered domains or bare labels) for the look-alike score"},
    {.path = "detect.known_domains",
     .type = PX_CONF_STRING,
     .check = px_conf_check_nonempty,
     .help = "file of registered domains (one a line, or rank,domain CSV) never counted as new"},
    {.path = NULL},
};

px_err px_detect_opts_from_config(const px_config *cfg, px_detect_opts *out,
                                  const char ***brands_out)
{
    px_detect_opts o = px_detect_opts_default();
    for (int r = 0; r < PX_DETECT_RULES; r++)
        o.rules[r] = false;
    for (size_t i = 0; i < px_config_array_len(cfg, "detect.rules"); i++) {
        const char *name = px_config_array_string(cfg, "detect.rules", i);
        for (int r = 0; r < PX_DETECT_RULES; r++)
            o.rules[r] = o.rules[r] || strcmp(name, px_detect_rule_name(r)) == 0;
    }
    o.burst_orgs = (unsigned)px_config_int(cfg, "detect.burst.orgs");
    o.burst_window = px_config_int(cfg, "detect.burst.window");
    o.burst_new_for = px_config_int(cfg, "detect.burst.new_for");
    o.burst_warmup = px_config_int(cfg, "detect.burst.warmup");
    o.geo_min_history = px_config_int(cfg, "detect.geo.min_history");
    o.geo_max_countries = (unsigned)px_config_int(cfg, "detect.geo.max_countries");
    o.geo_max_asns = (unsigned)px_config_int(cfg, "detect.geo.max_asns");
    o.geo_min_orgs = (unsigned)px_config_int(cfg, "detect.geo.min_orgs");
    o.cooldown = px_config_int(cfg, "detect.cooldown");
    size_t n = px_config_array_len(cfg, "detect.brands");
    const char **b = calloc(n ? n : 1, sizeof *b);
    *brands_out = b;
    if (!b)
        return PX_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        b[i] = px_config_array_string(cfg, "detect.brands", i);
    o.brands = b;
    o.n_brands = n;
    *out = o;
    return PX_OK;
}
