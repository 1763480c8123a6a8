/* Chat template rendering (see chat_template.h). The strings come from the build configuration:

     CLLM_CHAT_SYSTEM_PREFIX     CLLM_CHAT_SYSTEM_SUFFIX       C string literals
     CLLM_CHAT_USER_PREFIX       CLLM_CHAT_USER_SUFFIX
     CLLM_CHAT_ASSISTANT_PREFIX  CLLM_CHAT_ASSISTANT_SUFFIX
     CLLM_CHAT_GENERATION_PROMPT                               appended for add_generation_prompt
     CLLM_CHAT_DEFAULT_SYSTEM                                  "" = no default system message
     CLLM_CHAT_ADD_BOS                                         0/1: prompt starts with the BOS token
     CLLM_CHAT_SYSTEM_IN_USER                                  0/1: system folded into the first user turn
     CLLM_CHAT_TEMPLATE                                        the original Jinja text (reported by /props)

   Defaults (no defines): ChatML, "<|im_start|>role\n" ... "<|im_end|>\n", generation prompt
   "<|im_start|>assistant\n". */
#include "api/chat_template.h"
#include "core/limits.h"

#ifndef CLLM_CHAT_SYSTEM_PREFIX
#define CLLM_CHAT_SYSTEM_PREFIX "<|im_start|>system\n"
#endif
#ifndef CLLM_CHAT_SYSTEM_SUFFIX
#define CLLM_CHAT_SYSTEM_SUFFIX "<|im_end|>\n"
#endif
#ifndef CLLM_CHAT_USER_PREFIX
#define CLLM_CHAT_USER_PREFIX "<|im_start|>user\n"
#endif
#ifndef CLLM_CHAT_USER_SUFFIX
#define CLLM_CHAT_USER_SUFFIX "<|im_end|>\n"
#endif
#ifndef CLLM_CHAT_ASSISTANT_PREFIX
#define CLLM_CHAT_ASSISTANT_PREFIX "<|im_start|>assistant\n"
#endif
#ifndef CLLM_CHAT_ASSISTANT_SUFFIX
#define CLLM_CHAT_ASSISTANT_SUFFIX "<|im_end|>\n"
#endif
#ifndef CLLM_CHAT_GENERATION_PROMPT
#define CLLM_CHAT_GENERATION_PROMPT "<|im_start|>assistant\n"
#endif
#ifndef CLLM_CHAT_DEFAULT_SYSTEM
#define CLLM_CHAT_DEFAULT_SYSTEM ""
#endif
#ifndef CLLM_CHAT_ADD_BOS
#define CLLM_CHAT_ADD_BOS 0
#endif
#ifndef CLLM_CHAT_SYSTEM_IN_USER
#define CLLM_CHAT_SYSTEM_IN_USER 0
#endif

void chat_template_default(struct chat_template *t)
{
    t->prefix[CHAT_ROLE_SYSTEM] = CLLM_CHAT_SYSTEM_PREFIX;
    t->suffix[CHAT_ROLE_SYSTEM] = CLLM_CHAT_SYSTEM_SUFFIX;
    t->prefix[CHAT_ROLE_USER] = CLLM_CHAT_USER_PREFIX;
    t->suffix[CHAT_ROLE_USER] = CLLM_CHAT_USER_SUFFIX;
    t->prefix[CHAT_ROLE_ASSISTANT] = CLLM_CHAT_ASSISTANT_PREFIX;
    t->suffix[CHAT_ROLE_ASSISTANT] = CLLM_CHAT_ASSISTANT_SUFFIX;
    t->generation_prompt = CLLM_CHAT_GENERATION_PROMPT;
    t->default_system = CLLM_CHAT_DEFAULT_SYSTEM;
    t->bos_text = "";
    t->add_bos = CLLM_CHAT_ADD_BOS != 0;
    t->system_in_user = CLLM_CHAT_SYSTEM_IN_USER != 0;
}

int chat_role_parse(const char *name, size_t len)
{
    static const char *const names[CHAT_ROLE_COUNT] = { "system", "user", "assistant" };
    for (int r = 0; r < CHAT_ROLE_COUNT; r++)
        if (strlen(names[r]) == len && memcmp(names[r], name, len) == 0)
            return r;
    return -1;
}

int chat_template_render(const struct chat_template *t, const struct chat_message *msgs, int n,
                         bool add_generation_prompt, struct sbuf *out, const char **why)
{
    *why = NULL;
    const char *sys = NULL;
    size_t sys_len = 0;
    int first = 0;
    if (n > 0 && msgs[0].role == CHAT_ROLE_SYSTEM) {
        sys = msgs[0].content;
        sys_len = msgs[0].len;
        first = 1;
    } else if (t->default_system && t->default_system[0]) {
        sys = t->default_system;
        sys_len = strlen(sys);
    }
    for (int i = first; i < n; i++)
        if (msgs[i].role == CHAT_ROLE_SYSTEM) {
            *why = "a system message may only come first";
            return -1;
        }
    if (t->add_bos && t->bos_text)
        sbuf_adds(out, t->bos_text);
    bool sys_pending = sys != NULL;
    if (sys_pending && (!t->system_in_user || first == n)) {
        /* its own turn (or folded style with no user turn to fold into) */
        sbuf_adds(out, t->prefix[CHAT_ROLE_SYSTEM]);
        sbuf_add(out, sys, sys_len);
        sbuf_adds(out, t->suffix[CHAT_ROLE_SYSTEM]);
        sys_pending = false;
    }
    for (int i = first; i < n; i++) {
        const struct chat_message *m = &msgs[i];
        sbuf_adds(out, t->prefix[m->role]);
        if (sys_pending && m->role == CHAT_ROLE_USER) {
            sbuf_adds(out, t->prefix[CHAT_ROLE_SYSTEM]);
            sbuf_add(out, sys, sys_len);
            sbuf_adds(out, t->suffix[CHAT_ROLE_SYSTEM]);
            sys_pending = false;
        }
        sbuf_add(out, m->content, m->len);
        sbuf_adds(out, t->suffix[m->role]);
    }
    if (add_generation_prompt)
        sbuf_adds(out, t->generation_prompt);
    return 0;
}
