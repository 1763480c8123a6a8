/* Host harness for kernel/api/chat_template.c, driven by tests/test_api_chat_template.py through ctypes. */
#include <string.h>
#include "api/chat_template.h"

/* strs: system prefix, system suffix, user prefix, user suffix, assistant prefix, assistant suffix, generation
   prompt, default system, bos text. Returns the rendered length, -1 on a template error, -2 when out is small. */
int h_chat_render(const char **strs, int add_bos, int system_in_user, int n, const int *roles, const char **contents,
                  int add_gen, char *out, int outlen)
{
    struct chat_template t;
    chat_template_default(&t);
    for (int r = 0; r < CHAT_ROLE_COUNT; r++) {
        t.prefix[r] = strs[2 * r];
        t.suffix[r] = strs[2 * r + 1];
    }
    t.generation_prompt = strs[6];
    t.default_system = strs[7];
    t.bos_text = strs[8];
    t.add_bos = add_bos != 0;
    t.system_in_user = system_in_user != 0;
    struct chat_message msgs[64];
    for (int i = 0; i < n && i < 64; i++) {
        msgs[i].role = (enum chat_role)roles[i];
        msgs[i].content = contents[i];
        msgs[i].len = strlen(contents[i]);
    }
    struct sbuf b;
    sbuf_init(&b, 1 << 20);
    const char *why;
    int rc = chat_template_render(&t, msgs, n, add_gen != 0, &b, &why);
    int len = (int)b.len;
    if (rc == 0 && len < outlen && b.p)
        memcpy(out, b.p, (size_t)len + 1);
    else if (rc == 0 && len == 0 && outlen > 0)
        out[0] = 0;
    sbuf_free(&b);
    return rc != 0 ? -1 : len >= outlen ? -2 : len;
}

/* The build's defaults (ChatML without CLLM_CHAT_* defines): the same nine strings and the two flags. */
void h_chat_defaults(const char **strs, int *flags)
{
    struct chat_template t;
    chat_template_default(&t);
    for (int r = 0; r < CHAT_ROLE_COUNT; r++) {
        strs[2 * r] = t.prefix[r];
        strs[2 * r + 1] = t.suffix[r];
    }
    strs[6] = t.generation_prompt;
    strs[7] = t.default_system;
    strs[8] = t.bos_text;
    flags[0] = t.add_bos;
    flags[1] = t.system_in_user;
}
