/* Chat templates without Jinja: a conversation is rendered from per-role prefix and suffix strings, a generation
   prompt, an optional default system message, a BOS flag and whether the system message is folded into the first
   user turn. The toolchain (cllm_build) derives these strings from the GGUF's tokenizer.chat_template and writes
   them into cllm_config.h as CLLM_CHAT_* defines (listed in chat_template.c); without them the kernel uses ChatML.
   Pure: builds for the host (tests/host/api/). Used by api/openai.c (/v1/chat/completions) and api/tokenize.c
   (/apply-template). */
#ifndef API_CHAT_TEMPLATE_H
#define API_CHAT_TEMPLATE_H
#include <stdbool.h>
#include <stddef.h>
#include "api/sbuf.h"

enum chat_role {
    CHAT_ROLE_SYSTEM = 0,
    CHAT_ROLE_USER,
    CHAT_ROLE_ASSISTANT,
    CHAT_ROLE_COUNT,
};

struct chat_template {
    const char *prefix[CHAT_ROLE_COUNT];  /* text before a message's content, by role */
    const char *suffix[CHAT_ROLE_COUNT];  /* text after it */
    const char *generation_prompt;        /* appended when the assistant is to answer next */
    const char *default_system;           /* system content used when the conversation has none; "" = none */
    const char *bos_text;                 /* written first when add_bos (the tokenizer's BOS token text) */
    bool add_bos;                         /* the rendered prompt starts with the BOS token */
    bool system_in_user;                  /* the system message goes inside the first user turn: user prefix,
                                             system prefix, system content, system suffix, user content, user
                                             suffix (Llama 2, Mistral, Gemma style) */
};

struct chat_message {
    enum chat_role role;
    const char *content;
    size_t len;
};

/* The build's template (CLLM_CHAT_* defines, or ChatML), with bos_text set by the caller. */
void chat_template_default(struct chat_template *t);
/* Role by name ("system", "user", "assistant"); -1 for another name. */
int chat_role_parse(const char *name, size_t len);

/* Render msgs[0..n) into out (appended). A system message must come first if present (at most one); returns 0,
   or -1 with a static reason in *why (bad order; out of room is out->failed). */
int chat_template_render(const struct chat_template *t, const struct chat_message *msgs, int n,
                         bool add_generation_prompt, struct sbuf *out, const char **why);

#endif
