/* Host harness for kernel/api/chat_template.c as the build configures it: compiled with `-include` of a header
   holding the CLLM_CHAT_* defines that cllm_build/chat_template.py emitted (rendered by templates/config.h.j2), so
   the C string literals themselves are what is tested. Driven by tests/test_chat_template_host.py through ctypes. */
#include <string.h>
#include "api/chat_template.h"

/* Render n messages (roles: 0 system, 1 user, 2 assistant; contents with explicit lengths) with the build's
   template and bos text `bos`. Returns the length written to out, -1 on a template error, -2 when out is small. */
int h_chat_render(const char *bos, int n, const int *roles, const char *const *contents, const int *lens,
                  int add_gen, char *out, int outlen)
{
    struct chat_template t;
    chat_template_default(&t);
    t.bos_text = bos;
    struct chat_message msgs[64];
    if (n > 64)
        return -1;
    for (int i = 0; i < n; i++) {
        msgs[i].role = (enum chat_role)roles[i];
        msgs[i].content = contents[i];
        msgs[i].len = (size_t)lens[i];
    }
    struct sbuf b;
    sbuf_init(&b, 1 << 20);
    const char *why;
    int rc = chat_template_render(&t, msgs, n, add_gen != 0, &b, &why);
    int len = (int)b.len;
    if (rc == 0 && len <= outlen && len > 0)
        memcpy(out, b.p, (size_t)len);
    sbuf_free(&b);
    return rc != 0 ? -1 : len > outlen ? -2 : len;
}

/* The configured strings, for checking that each literal decodes to what the toolchain meant: which 0..6 =
   system/user/assistant prefix and suffix pairs then the generation prompt, 7 default system; flags[0] add_bos,
   flags[1] system_in_user. */
const char *h_chat_string(int which)
{
    struct chat_template t;
    chat_template_default(&t);
    if (which < 6)
        return which % 2 ? t.suffix[which / 2] : t.prefix[which / 2];
    return which == 6 ? t.generation_prompt : t.default_system;
}

int h_chat_flag(int which)
{
    struct chat_template t;
    chat_template_default(&t);
    return which == 0 ? t.add_bos : t.system_in_user;
}

#ifdef CLLM_CHAT_TEMPLATE
static const char jinja_text[] = CLLM_CHAT_TEMPLATE;
const char *h_chat_jinja(void) { return jinja_text; }
#else
const char *h_chat_jinja(void) { return ""; }
#endif

/* The same with the strings given at run time (system/user/assistant prefix and suffix pairs, generation prompt,
   default system, bos text), for checking many templates with one build. */
int h_chat_render_with(const char *const *strs, int add_bos, int system_in_user, int n, const int *roles,
                       const char *const *contents, const int *lens, char *out, int outlen)
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
    if (n > 64)
        return -1;
    for (int i = 0; i < n; i++) {
        msgs[i].role = (enum chat_role)roles[i];
        msgs[i].content = contents[i];
        msgs[i].len = (size_t)lens[i];
    }
    struct sbuf b;
    sbuf_init(&b, 1 << 20);
    const char *why;
    int rc = chat_template_render(&t, msgs, n, true, &b, &why);
    int len = (int)b.len;
    if (rc == 0 && len <= outlen && len > 0)
        memcpy(out, b.p, (size_t)len);
    sbuf_free(&b);
    return rc != 0 ? -1 : len > outlen ? -2 : len;
}
