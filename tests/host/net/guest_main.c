/* A guest-side test program for the network boot tests (tests/test_net_boot.py, tests/test_net_lossy.py): it
   replaces kernel/core/main.c in a copy of the kernel tree, so the driver and the stack below TCP are tested in
   QEMU independently of the real kmain. It brings up the heap, interrupts, PCI and the network (DHCP or the
   static address of the build configuration) and the HTTP server (GET /health on CLLM_HTTP_PORT), then runs the
   event loop: net_poll, http_server_poll, and when neither did anything a piece of the queued log
   (core/serial.h) or cpu_wait_irq.
   UDP port 7 echoes datagrams (RFC 862); a datagram "stats" to port 9 is answered with the counters as text,
   "exit" to port 9 prints them and leaves through isa-debug-exit with code 0. Serial markers: "NETBOOT ..". */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/mboot.h"
#include "core/panic.h"
#include "core/power.h"
#include "core/serial.h"
#include "drivers/e1000.h"
#include "drivers/pci.h"
#include "lib/fmt.h"
#include "lib/string.h"
#include "net/ipv4.h"
#include "net/net.h"
#include "net/udp.h"
#include "net/wire.h"
#include "http/http_server.h"

#define GUEST_HEAP_BYTES (64u << 20) /* QEMU runs these images with -m 256 */
extern const uint8_t __image_end[];

static uint64_t loop_polls, loop_waits;
static int exit_requested;

static int guest_stats_text(char *buf, size_t cap)
{
    struct net_stats st;
    struct e1000_stats es;
    net_get_stats(&st);
    e1000_get_stats(&es);
    return fmt_snprintf(buf, cap,
        "polls %llu waits %llu frames_in %llu frames_out %llu icmp_echo_replies %llu arp_replies_out %llu "
        "arp_requests_out %llu udp_in %llu udp_out %llu ip_bad_checksum %llu drop_not_for_us %llu "
        "ip_fragments_dropped %llu e1000_interrupts %llu e1000_icr_reads %llu e1000_tail_writes %llu e1000_rx_errors %llu "
        "e1000_tx_ring_full %llu",
        (unsigned long long)loop_polls, (unsigned long long)loop_waits, (unsigned long long)st.frames_in,
        (unsigned long long)st.frames_out, (unsigned long long)st.icmp_echo_replies,
        (unsigned long long)st.arp_replies_out, (unsigned long long)st.arp_requests_out,
        (unsigned long long)st.udp_in, (unsigned long long)st.udp_out, (unsigned long long)st.ip_bad_checksum,
        (unsigned long long)st.drop_not_for_us, (unsigned long long)st.ip_fragments_dropped,
        (unsigned long long)es.interrupts, (unsigned long long)es.icr_reads, (unsigned long long)es.tail_writes, (unsigned long long)es.rx_errors,
        (unsigned long long)es.tx_ring_full);
}

static void guest_echo(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, const uint8_t *data, size_t len)
{
    (void)dst_ip;
    udp_send(0, 7, src_ip, src_port, data, len);
}

static void guest_control(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, const uint8_t *data, size_t len)
{
    char buf[1024];
    (void)dst_ip;
    int n = guest_stats_text(buf, sizeof buf);
    udp_send(0, 9, src_ip, src_port, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    if (len == 4 && memcmp(data, "exit", 4) == 0)
        exit_requested = 1;
}

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
    char ip[16];
    serial_init();
    cpu_init();
    clock_init(); /* the TSC rate: the LAPIC tick is calibrated against it */
    mboot_init(mb_magic, mb_info);
    /* The heap from a fixed range past the image, not the memory map: these tests boot with -m 256 and must
       not depend on the Multiboot parser (tested on its own). */
    uint64_t heap_base = ((uint64_t)(uintptr_t)__image_end + (2u << 20)) & ~(uint64_t)((1u << 20) - 1);
    if (heap_add_region(heap_base, GUEST_HEAP_BYTES) < 0) {
        kprintf("NETBOOT no heap\n");
        power_exit(2);
    }
    irq_init();
    pci_init();
    if (net_init() < 0) {
        kprintf("NETBOOT no network\n");
        power_exit(2);
    }
    if (!http_server_init(0))
        kprintf("NETBOOT no http server\n");
    udp_bind(7, guest_echo);
    udp_bind(9, guest_control);
    irq_start_timer(); /* the 100 Hz tick, calibrated over the set-up above */
    kprintf("NETBOOT up\n");
    int bound = 0;
    for (;;) {
        loop_polls++;
        bool worked = net_poll();
        worked |= http_server_poll(clock_ns());
        if (!worked && !exit_requested && !serial_drain(CLLM_LOG_DRAIN_BYTES)) { /* the queued log first */
            loop_waits++;
            cpu_wait_irq();
        }
        irq_take_pending();
        if (!bound && net_is_configured()) {
            bound = 1;
            kprintf("NETBOOT bound %s\n", wire_format_ipv4(net_local_ip(), ip));
        }
        if (exit_requested) {
            char buf[1024];
            net_poll(); /* send the reply */
            guest_stats_text(buf, sizeof buf);
            kprintf("NETBOOT stats %s\n", buf);
            power_exit(0);
        }
    }
}

/* The kernel's own panic wins when it has one; until then this keeps the test image linkable. */
__attribute__((weak)) void panic(const char *fmt, ...)
{
    kprintf("NETBOOT panic: %s\n", fmt);
    power_exit(3);
}
