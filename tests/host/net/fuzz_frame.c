/* libFuzzer harness for frame input: every byte string is a sequence of Ethernet frames fed to the stack below
   TCP (kernel/net) through net_input, with the clock advanced and net_poll run between them, so ARP, IPv4, ICMP,
   UDP and the DHCP client all see hostile input. Input layout: byte 0 picks the address mode (even: static,
   odd: DHCP client running); then records of [len_hi len_lo clock_step frame...]. TCP is the stub beside this.
   Built and run briefly by tests/test_net_fuzz.py. To run for hours:
     clang -g -O1 -fsanitize=fuzzer,address,undefined -DCLLM_HOST -Ikernel -Itests/host/include \
       tests/host/net/fuzz_frame.c tests/host/net/fake_nic.c tests/host/net/tcp_stub.c tests/host/shim.c \
       kernel/lib/fmt.c kernel/lib/parse.c kernel/net/{checksum,wire,eth_wire,arp_wire,ipv4_wire,icmp_wire,\
udp_wire,dhcp_wire,eth,arp,ipv4,icmp,udp,dhcp,net}.c -o /tmp/fuzz_frame
     mkdir -p /tmp/frame-corpus && /tmp/fuzz_frame -max_total_time=14400 -jobs=2 /tmp/frame-corpus */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "core/clock.h"
#include "net/checksum.h"
#include "net/net.h"
#include "net/wire.h"

void fake_nic_attach(const uint8_t mac[6]);
int fake_nic_rx(const uint8_t *frame, size_t len);
void fake_nic_tx_clear(void);
void host_clock_set_ns(uint64_t ns);
extern int host_log_quiet;

/* Make the IPv4 header checksum, and the ICMP or UDP checksum, valid for whatever lengths the frame claims. */
static void fuzz_fix_checksums(uint8_t *f, size_t len)
{
    if (len < 34 || wire_get16(f + 12) != 0x0800)
        return;
    uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, avail = len - 14;
    if (ihl < 20 || ihl > avail)
        return;
    wire_put16(ip + 10, 0);
    wire_put16(ip + 10, checksum_finish(checksum_add(0, ip, ihl)));
    size_t total = wire_get16(ip + 2);
    if (total > avail || total < ihl)
        return;
    uint8_t *l4 = ip + ihl;
    size_t l4len = total - ihl;
    if (ip[9] == 1 && l4len >= 8) {
        wire_put16(l4 + 2, 0);
        wire_put16(l4 + 2, checksum_finish(checksum_add(0, l4, l4len)));
    } else if (ip[9] == 17 && l4len >= 8) {
        size_t ulen = wire_get16(l4 + 4);
        if (ulen < 8 || ulen > l4len)
            return;
        wire_put16(l4 + 6, 0);
        uint32_t sum = checksum_pseudo_ipv4(wire_get32(ip + 12), wire_get32(ip + 16), 17, (uint16_t)ulen);
        wire_put16(l4 + 6, checksum_finish(checksum_add(sum, l4, ulen)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    uint64_t now = 1000000000ull;
    host_log_quiet = 1;
    if (size < 1)
        return 0;
    host_clock_set_ns(now);
    fake_nic_attach(mac);
    if (data[0] & 1)
        net_config_dhcp();
    else
        net_config_static(0x0a00020fu, 0xffffff00u, 0x0a000202u);
    size_t i = 1;
    while (i + 3 <= size) {
        size_t len = (size_t)data[i] << 8 | data[i + 1];
        uint8_t step = data[i + 2];
        i += 3;
        if (len > size - i)
            len = size - i;
        if (len > 1514)
            len = 1514;
        uint8_t frame[1514];
        memcpy(frame, data + i, len);
        if (data[0] & 2)
            fuzz_fix_checksums(frame, len);
        fake_nic_rx(frame, len);
        i += len;
        now += (uint64_t)step * step * 10000000ull; /* up to ~650 s: reaches ARP, DHCP lease timers */
        host_clock_set_ns(now);
        net_poll();
        fake_nic_tx_clear();
    }
    net_attach(NULL); /* frees ARP queues: leaks show up under ASan */
    return 0;
}
