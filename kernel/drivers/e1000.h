/* Intel 8254x ("e1000") driver for QEMU's e1000, the 82540EM (8086:100e), and its e1000e, the 82574L (8086:10d3,
   driven through the same legacy registers and descriptors): poll-mode RX/TX descriptor rings with one
   tail-register write per batch, and an RX interrupt only to wake a halted CPU.
   Register names follow the PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual
   (8254x SDM), chapter 13; the rings are in chapter 3. Found and attached by net/net_dev.c. */
#ifndef DRIVERS_E1000_H
#define DRIVERS_E1000_H
#include <stdint.h>
#include <stdbool.h>
#include "drivers/pci.h"
#include "net/netif.h"

#define E1000_VENDOR_INTEL 0x8086
#define E1000_DEV_82540EM 0x100e  /* QEMU -device e1000 */
#define E1000_DEV_82574L 0x10d3   /* QEMU -device e1000e (cllm's default: no 1 s receive hold after RCTL) */

struct e1000_stats {
    uint64_t rx_frames, rx_errors, tx_frames, tx_ring_full;
    uint64_t tail_writes;  /* RDT + TDT register writes (each a VM exit): fewer than frames when batched */
    uint64_t interrupts;   /* on our IOAPIC pin, counted by the monitor */
    uint64_t icr_reads;    /* after interrupts, and once a second as a safety net */
    uint64_t link_changes;
};

/* Reset and bring up the NIC behind d; fills nif (MAC, operations). Returns 0, or < 0 when BAR0 is not a
   memory BAR or buffers cannot be allocated. */
int e1000_init(struct pci_dev *d, struct netif *nif);
/* The legacy IRQ the NIC raises (from PCI config), for irq_unmask. */
int e1000_irq(void);
void e1000_get_stats(struct e1000_stats *st);

#endif
