/* Every compile-time limit of the kernel, with its unit. The generated cllm_config.h (templates/config.h.j2,
   from the build configuration) is included first and overrides any of these. */
#ifndef CORE_LIMITS_H
#define CORE_LIMITS_H
#include "cllm_config.h"

#ifndef CLLM_LOG_LEVEL
#define CLLM_LOG_LEVEL 2            /* 0 error, 1 warn, 2 info, 3 debug */
#endif
#ifndef CLLM_MAX_CONN
#define CLLM_MAX_CONN 64            /* simultaneous TCP connections */
#endif
#ifndef CLLM_HTTP_PORT
#define CLLM_HTTP_PORT 8080         /* guest TCP port of the HTTP server */
#endif
#ifndef CLLM_HTTP_MAX_HEADER
#define CLLM_HTTP_MAX_HEADER 8192   /* bytes of request line + headers before 431 */
#endif
#ifndef CLLM_HTTP_MAX_BODY
#define CLLM_HTTP_MAX_BODY (1024 * 1024) /* bytes of request body before 413 */
#endif
#ifndef CLLM_TCP_RX_BUF
#define CLLM_TCP_RX_BUF 16384       /* bytes of receive buffer per connection */
#endif
#ifndef CLLM_TCP_TX_BUF
#define CLLM_TCP_TX_BUF 32768       /* bytes of send buffer per connection */
#endif
#ifndef CLLM_N_CTX
#define CLLM_N_CTX 2048             /* tokens of context per sequence */
#endif
#ifndef CLLM_N_SLOTS
#define CLLM_N_SLOTS 1              /* concurrent generation slots */
#endif

#endif
