/* Forward-pass phase counters (see prof.h). */
#include "llm/prof.h"
#include "lib/string.h"

struct prof_counters prof;

void prof_reset(void) { memset(&prof, 0, sizeof prof); }

const char *prof_phase_name(enum prof_phase p)
{
    static const char *const names[PROF_COUNT] = { "embed", "norm", "quant", "product", "attn", "sample",
                                                   "wait" };
    return (unsigned)p < PROF_COUNT ? names[p] : "?";
}
