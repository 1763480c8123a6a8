/* Host-build stand-in for the generated build configuration: the defaults of kernel/core/limits.h apply. */
#ifndef CLLM_CONFIG_H
#define CLLM_CONFIG_H
#endif
