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

/* --- network below TCP (kernel/net, kernel/drivers/e1000.c) --- */
#ifndef CLLM_NET_DHCP
#define CLLM_NET_DHCP 1             /* 1: address from DHCP; 0: the static CLLM_NET_IP/NETMASK/GATEWAY */
#endif
#ifndef CLLM_NET_IP
#define CLLM_NET_IP 0x0a00020fu     /* static IPv4 address, host byte order (10.0.2.15, QEMU user networking's) */
#endif
#ifndef CLLM_NET_NETMASK
#define CLLM_NET_NETMASK 0xffffff00u /* static netmask, host byte order (255.255.255.0) */
#endif
#ifndef CLLM_NET_GATEWAY
#define CLLM_NET_GATEWAY 0x0a000202u /* static default gateway, host byte order (10.0.2.2; 0: none) */
#endif
#ifndef CLLM_ARP_ENTRIES
#define CLLM_ARP_ENTRIES 32         /* ARP cache entries (resolved + pending) */
#endif
#ifndef CLLM_ARP_TTL_S
#define CLLM_ARP_TTL_S 300          /* seconds a resolved ARP entry stays valid */
#endif
#ifndef CLLM_ARP_QUEUE
#define CLLM_ARP_QUEUE 8            /* packets held per unresolved address; more are dropped and counted */
#endif
#ifndef CLLM_ARP_RETRY_MS
#define CLLM_ARP_RETRY_MS 1000      /* milliseconds between ARP requests for an unresolved address */
#endif
#ifndef CLLM_ARP_RETRIES
#define CLLM_ARP_RETRIES 3          /* ARP requests before an unresolved address and its queue are dropped */
#endif
#ifndef CLLM_DHCP_RETRY_MS
#define CLLM_DHCP_RETRY_MS 1000     /* milliseconds before the first DHCP retransmission; doubles per retry */
#endif
#ifndef CLLM_DHCP_RETRY_MAX_MS
#define CLLM_DHCP_RETRY_MAX_MS 32000 /* milliseconds: the DHCP back-off stops doubling here */
#endif
#ifndef CLLM_NET_RX_BUDGET
#define CLLM_NET_RX_BUDGET 64       /* frames received per net_poll call before timers run */
#endif
#ifndef CLLM_E1000_RX_DESC
#define CLLM_E1000_RX_DESC 256      /* e1000 receive descriptors (multiple of 8), 2 KiB buffer each */
#endif
#ifndef CLLM_E1000_TX_DESC
#define CLLM_E1000_TX_DESC 256      /* e1000 transmit descriptors (multiple of 8), 2 KiB buffer each */
#endif

/* HTTP server and JSON (kernel/http/) */
#ifndef CLLM_HTTP_MAX_HEADERS
#define CLLM_HTTP_MAX_HEADERS 64            /* header fields per request before 431 */
#endif
#ifndef CLLM_HTTP_HEADER_TIMEOUT_MS
#define CLLM_HTTP_HEADER_TIMEOUT_MS 10000   /* ms from a request's first byte to its blank line (slowloris) */
#endif
#ifndef CLLM_HTTP_BODY_TIMEOUT_MS
#define CLLM_HTTP_BODY_TIMEOUT_MS 30000     /* ms without progress while a request body arrives */
#endif
#ifndef CLLM_HTTP_IDLE_TIMEOUT_MS
#define CLLM_HTTP_IDLE_TIMEOUT_MS 30000     /* ms an idle keep-alive connection is kept */
#endif
#ifndef CLLM_HTTP_SEND_TIMEOUT_MS
#define CLLM_HTTP_SEND_TIMEOUT_MS 30000     /* ms without send progress before the connection is aborted */
#endif
#ifndef CLLM_HTTP_MAX_RESPONSE
#define CLLM_HTTP_MAX_RESPONSE (8 * 1024 * 1024) /* bytes of one buffered (non-streamed) response */
#endif
#ifndef CLLM_HTTP_STREAM_BUF
#define CLLM_HTTP_STREAM_BUF 65536          /* bytes of unsent stream data before stream writes are refused */
#endif
#ifndef CLLM_HTTP_MEMORY_BUDGET
#define CLLM_HTTP_MEMORY_BUDGET /* bytes of buffers all HTTP connections together may hold: 32 MiB, or room */ \
    (2ull * (CLLM_HTTP_MAX_BODY + CLLM_HTTP_MAX_RESPONSE) > (32ull << 20) /* for two of the largest exchanges */ \
         ? 2ull * (CLLM_HTTP_MAX_BODY + CLLM_HTTP_MAX_RESPONSE) : (32ull << 20))
#endif
#ifndef CLLM_HTTP_BUSY_IDLE_MS
#define CLLM_HTTP_BUSY_IDLE_MS 2000         /* ms idle keep-alive timeout (head: twice that) with 7/8 of slots taken */
#endif
#ifndef CLLM_HTTP_MAX_ROUTES
#define CLLM_HTTP_MAX_ROUTES 64             /* router table entries */
#endif
#ifndef CLLM_JSON_MAX_DEPTH
#define CLLM_JSON_MAX_DEPTH 64              /* nesting of arrays and objects (at most 64) */
#endif
#ifndef CLLM_JSON_MAX_MEMORY
#define CLLM_JSON_MAX_MEMORY (16 * 1024 * 1024) /* bytes of tree one parsed JSON document may use */
#endif

/* TCP (net/tcp.c). MSL is short on purpose: an appliance on a LAN, TIME_WAIT lasts 2 * MSL. */
#ifndef CLLM_TCP_MSL_MS
#define CLLM_TCP_MSL_MS 5000        /* ms, maximum segment lifetime; TIME_WAIT = 2 * MSL */
#endif
#ifndef CLLM_TCP_FIN_WAIT2_MS
#define CLLM_TCP_FIN_WAIT2_MS 30000 /* ms a closed-by-us connection waits for the peer's FIN */
#endif
#ifndef CLLM_TCP_RTO_INIT_MS
#define CLLM_TCP_RTO_INIT_MS 1000   /* ms, retransmission timeout before an RTT sample (RFC 6298 2.1) */
#endif
#ifndef CLLM_TCP_RTO_MIN_MS
#define CLLM_TCP_RTO_MIN_MS 200     /* ms, lower bound of the RTO (LAN appliance; RFC 6298 says 1 s) */
#endif
#ifndef CLLM_TCP_RTO_MAX_MS
#define CLLM_TCP_RTO_MAX_MS 60000   /* ms, upper bound of the backed-off RTO */
#endif
#ifndef CLLM_TCP_MAX_RETRIES
#define CLLM_TCP_MAX_RETRIES 8      /* retransmission timeouts in a row before the connection is aborted */
#endif
#ifndef CLLM_TCP_SYN_RETRIES
#define CLLM_TCP_SYN_RETRIES 5      /* SYN-ACK retransmissions before a half-open connection is dropped */
#endif
#ifndef CLLM_TCP_OOO_RANGES
#define CLLM_TCP_OOO_RANGES 8       /* out-of-order byte ranges held per connection (data lives in the RX buffer) */
#endif
#ifndef CLLM_TCP_MAX_LISTEN
#define CLLM_TCP_MAX_LISTEN 4       /* listening ports */
#endif
#ifndef CLLM_TCP_BACKLOG
#define CLLM_TCP_BACKLOG CLLM_MAX_CONN /* connections per listener handshaking or waiting for accept */
#endif

/* Inference (kernel/llm) */
#ifndef CLLM_N_BATCH
#define CLLM_N_BATCH 64             /* prompt tokens evaluated per forward pass (prefill chunk) */
#endif
#ifndef CLLM_KV_F16
#define CLLM_KV_F16 1               /* KV cache element type: 1 fp16, 0 f32 */
#endif

/* kernel base: heap and boot information (core/heap.c, core/mboot.c) */
#ifndef HEAP_MAX_REGIONS
#define HEAP_MAX_REGIONS 32         /* separate memory regions in the heap */
#endif
#ifndef CLLM_HEAP_MAPPED_END
#define CLLM_HEAP_MAPPED_END 0x100000000ull /* bytes: boot.S identity-maps 0..4 GiB; RAM above is not used */
#endif
#ifndef MBOOT_MAX_MMAP
#define MBOOT_MAX_MMAP 64           /* Multiboot memory map entries kept */
#endif
#ifndef MBOOT_CMDLINE_MAX
#define MBOOT_CMDLINE_MAX 8192      /* bytes of kernel command line kept (longer is cut, with a warning) */
#endif

/* API (kernel/api): requests and the slot scheduler */
#ifndef CLLM_MAX_N_PREDICT
#define CLLM_MAX_N_PREDICT 4096     /* tokens one request may generate at most (n_predict, max_tokens) */
#endif
#ifndef CLLM_SCHED_STEP_US
#define CLLM_SCHED_STEP_US 50000    /* us a prefill step aims at (its chunk shrinks below n_batch to stay near it) */
#endif
#ifndef CLLM_SCHED_NET_QUIET_US
#define CLLM_SCHED_NET_QUIET_US 2000 /* us without received frames before a generation step starts */
#endif
#ifndef CLLM_SCHED_NET_YIELD_US
#define CLLM_SCHED_NET_YIELD_US 20000 /* us a step waits at most for the network to go quiet */
#endif
#ifndef CLLM_SCHED_MAX_QUEUE
#define CLLM_SCHED_MAX_QUEUE 64     /* requests waiting for a slot before new ones get 503 */
#endif
#ifndef CLLM_DEFAULT_TEMPERATURE
#define CLLM_DEFAULT_TEMPERATURE 0.8f
#endif
#ifndef CLLM_DEFAULT_TOP_K
#define CLLM_DEFAULT_TOP_K 40
#endif
#ifndef CLLM_DEFAULT_TOP_P
#define CLLM_DEFAULT_TOP_P 0.95f
#endif
#ifndef CLLM_DEFAULT_MIN_P
#define CLLM_DEFAULT_MIN_P 0.05f
#endif
#ifndef CLLM_DEFAULT_REPEAT_PENALTY
#define CLLM_DEFAULT_REPEAT_PENALTY 1.0f
#endif
#ifndef CLLM_DEFAULT_REPEAT_LAST_N
#define CLLM_DEFAULT_REPEAT_LAST_N 64
#endif
#ifndef CLLM_DEFAULT_SEED
#define CLLM_DEFAULT_SEED (-1LL)    /* -1: from the clock */
#endif
#ifndef CLLM_DEFAULT_N_PREDICT
#define CLLM_DEFAULT_N_PREDICT (-1) /* -1: until end of generation */
#endif
#ifndef CLLM_MODEL_ALIAS
#define CLLM_MODEL_ALIAS "model"    /* id in /v1/models */
#endif
#ifndef CLLM_MODEL_FILE
#define CLLM_MODEL_FILE "model.gguf" /* GGUF file name baked in */
#endif

/* --- console (kernel/core/serial.c, log.c) --- */
#ifndef CLLM_LOG_QUEUE_BYTES
#define CLLM_LOG_QUEUE_BYTES 32768  /* bytes of log queued for the serial port (more: the oldest go out at once) */
#endif
#ifndef CLLM_LOG_DRAIN_BYTES
#define CLLM_LOG_DRAIN_BYTES 128    /* bytes written per idle event-loop pass (~20 us each under kvm-pvm) */
#endif

#endif
