/* fuzz_config: each input line is one --set override; then validation, the
 * accessors and the producer loader run over whatever the overrides built.
 * Run with LSAN_OPTIONS=suppressions=tests/fuzz/lsan.supp: libconfig 1.5
 * leaks lexer buffers on some syntax errors. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/px_config.h"
#include "producer/px_producer_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    px_config *c = px_config_create(px_producer_conf_table);
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line && n < 16;
         line = strtok_r(NULL, "\n", &save), n++)
        px_config_set(c, line);
    px_config_validate(c);
    px_producer_conf pc;
    px_producer_conf_load(c, &pc, c);
    for (size_t i = 0; i < pc.kafka.n_props; i++)
        if (!pc.kafka.props[i].key || !pc.kafka.props[i].value)
            abort();
    for (size_t i = 0; i < px_config_problem_count(c); i++)
        if (!px_config_problem(c, i))
            abort();
    px_producer_conf_free(&pc);
    px_config_destroy(c);
    free(text);
    return 0;
}
