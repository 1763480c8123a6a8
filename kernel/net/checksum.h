/* The Internet checksum (RFC 1071) and the TCP/UDP pseudo-header sum. Pure functions; built for the host too. */
#ifndef NET_CHECKSUM_H
#define NET_CHECKSUM_H
#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of data folded into 32 bits, starting from sum (use 0 to start). */
uint32_t checksum_add(uint32_t sum, const void *data, size_t len);
/* Fold a 32-bit sum to 16 bits and complement it: the value to store in a header (network byte order bytes
   are summed as big-endian 16-bit words, so store it with a big-endian write). */
uint16_t checksum_finish(uint32_t sum);
/* Pseudo-header sum for TCP/UDP over IPv4; addresses in host byte order. */
uint32_t checksum_pseudo_ipv4(uint32_t src, uint32_t dst, uint8_t proto, uint16_t len);

#endif
