/* Intel 82540EM (8254x SDM) and 82574L (82574 datasheet) driver: QEMU's e1000 and e1000e. The 82574L is driven
   exactly like the 82540EM, through the registers and legacy descriptors the two share (the 82574's defaults
   select legacy descriptors; its RAL/RAH hold the MAC after reset in QEMU). Why both: QEMU's e1000 model ignores
   received frames for 1 s after every RCTL write (hw/net/e1000.c, flush_queue_timer), which alone made
   QEMU start to /health take over a second; its e1000e model has no such hold. Memory is identity-mapped, so descriptor and buffer addresses given to the
   NIC are the kernel's pointers. Everything is polled: net_poll() calls e1000_poll (drain RX) and e1000_flush
   (one TDT write for every frame queued since the last flush). Interrupts exist only to end a cpu_wait_irq():
   IMS enables RXT0 (frame received), RXO (overrun), RXDMT0 (ring running low) and LSC (link change);
   TX completion (TXDW) stays masked because TX descriptors are reclaimed lazily when the ring fills.
   The interrupt is an MSI when the device has one (the 82574L: vector IRQ_MSI_NIC; under kvm-pvm the IOAPIC
   never delivers the NIC's INTx line, so the 82540EM there wakes the CPU only through the 100 Hz tick). With
   INTx the monitor masks our (level-triggered) IOAPIC pin when it fires; ICR is read (which clears the cause and
   deasserts INTx) and the pin unmasked only when the monitor counted a new interrupt on our line, so a busy
   loop polling an empty ring costs no MMIO access (each one is a VM exit). ITR throttles interrupts
   to one per ~50 us at most. Attached by net/net_dev.c; the stack sees only struct netif (net/netif.h). */
#include "drivers/e1000.h"
#include "arch/x86/irq.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "lib/string.h"

/* Registers (byte offsets into BAR0), 8254x SDM table 13-2 */
#define E1000_CTRL 0x0000   /* device control, 13.4.1 */
#define E1000_STATUS 0x0008 /* device status, 13.4.2 */
#define E1000_EERD 0x0014   /* EEPROM read, 13.4.4 */
#define E1000_ICR 0x00c0    /* interrupt cause read (read clears), 13.4.17 */
#define E1000_ITR 0x00c4    /* interrupt throttling, 13.4.18 */
#define E1000_IMS 0x00d0    /* interrupt mask set, 13.4.20 */
#define E1000_IMC 0x00d8    /* interrupt mask clear, 13.4.21 */
#define E1000_RCTL 0x0100   /* receive control, 13.4.22 */
#define E1000_TCTL 0x0400   /* transmit control, 13.4.33 */
#define E1000_TIPG 0x0410   /* transmit inter-packet gap, 13.4.34 */
#define E1000_RDBAL 0x2800  /* RX descriptor base low, 13.4.25 */
#define E1000_RDBAH 0x2804  /* RX descriptor base high, 13.4.26 */
#define E1000_RDLEN 0x2808  /* RX descriptor ring length in bytes, 13.4.27 */
#define E1000_RDH 0x2810    /* RX descriptor head, 13.4.28 */
#define E1000_RDT 0x2818    /* RX descriptor tail, 13.4.29 */
#define E1000_RDTR 0x2820   /* RX delay timer, 13.4.30 */
#define E1000_TDBAL 0x3800  /* TX descriptor base low, 13.4.36 */
#define E1000_TDBAH 0x3804  /* TX descriptor base high, 13.4.37 */
#define E1000_TDLEN 0x3808  /* TX descriptor ring length in bytes, 13.4.38 */
#define E1000_TDH 0x3810    /* TX descriptor head, 13.4.39 */
#define E1000_TDT 0x3818    /* TX descriptor tail, 13.4.40 */
#define E1000_TIDV 0x3820   /* TX interrupt delay, 13.4.41 */
#define E1000_MTA 0x5200    /* multicast table array, 128 x 32 bits, 13.5.1 */
#define E1000_RAL0 0x5400   /* receive address low, 13.5.2 */
#define E1000_RAH0 0x5404   /* receive address high, 13.5.3 */

#define E1000_CTRL_ASDE (1u << 5)     /* auto-speed detection enable */
#define E1000_CTRL_SLU (1u << 6)      /* set link up */
#define E1000_CTRL_RST (1u << 26)     /* device reset, self-clearing */
#define E1000_CTRL_PHY_RST (1u << 31)
#define E1000_STATUS_LU (1u << 1)     /* link up */
#define E1000_EERD_START (1u << 0)    /* 82540EM: address in bits 15:8, done in bit 4, data in 31:16 */
#define E1000_EERD_DONE (1u << 4)
#define E1000_RAH_AV (1u << 31)       /* address valid */

#define E1000_ICR_TXDW (1u << 0)      /* interrupt causes, 13.4.17 */
#define E1000_ICR_LSC (1u << 2)
#define E1000_ICR_RXDMT0 (1u << 4)
#define E1000_ICR_RXO (1u << 6)
#define E1000_ICR_RXT0 (1u << 7)

#define E1000_RCTL_EN (1u << 1)       /* receiver enable, 13.4.22 */
#define E1000_RCTL_BAM (1u << 15)     /* accept broadcast */
#define E1000_RCTL_BSIZE_2048 (0u << 16)
#define E1000_RCTL_SECRC (1u << 26)   /* strip the Ethernet CRC */
#define E1000_TCTL_EN (1u << 1)       /* transmitter enable, 13.4.33 */
#define E1000_TCTL_PSP (1u << 3)      /* pad short packets */
#define E1000_TCTL_CT(x) ((uint32_t)(x) << 4)    /* collision threshold */
#define E1000_TCTL_COLD(x) ((uint32_t)(x) << 12) /* collision distance */
#define E1000_TIPG_IEEE (10u | 8u << 10 | 6u << 20) /* IPGT 10, IPGR1 8, IPGR2 6: 802.3 copper, 13.4.34 */
#define E1000_ITR_INTERVAL 196        /* x 256 ns = ~50 us between interrupts at most */

/* Legacy descriptors, 8254x SDM 3.2.3 (receive) and 3.3.3 (transmit) */
struct e1000_rx_desc {
    uint64_t addr;
    uint16_t length;
    uint16_t checksum;
    uint8_t status;  /* DD bit 0, EOP bit 1 */
    uint8_t errors;  /* CE 0, SE 1, SEQ 2, CXE 4, TCPE 5, IPE 6, RXE 7 */
    uint16_t special;
} __attribute__((packed));
_Static_assert(sizeof(struct e1000_rx_desc) == 16, "e1000 RX descriptor is 16 bytes");

struct e1000_tx_desc {
    uint64_t addr;
    uint16_t length;
    uint8_t cso;
    uint8_t cmd;     /* EOP bit 0, IFCS bit 1, RS bit 3 */
    uint8_t status;  /* DD bit 0 */
    uint8_t css;
    uint16_t special;
} __attribute__((packed));
_Static_assert(sizeof(struct e1000_tx_desc) == 16, "e1000 TX descriptor is 16 bytes");

#define E1000_RXD_STAT_DD (1u << 0)
#define E1000_RXD_STAT_EOP (1u << 1)
/* RX errors that make the frame itself bad (CE, SE, SEQ, CXE, RXE; 8254x SDM 3.2.3.2). IPE/TCPE (checksum
   offload results) are ignored: the IP and UDP/TCP layers verify checksums themselves. */
#define E1000_RXD_ERR_FRAME 0x97u
#define E1000_TXD_CMD_EOP (1u << 0)
#define E1000_TXD_CMD_IFCS (1u << 1)
#define E1000_TXD_CMD_RS (1u << 3)
#define E1000_TXD_STAT_DD (1u << 0)

#define E1000_BUF_SIZE 2048
#define RXN CLLM_E1000_RX_DESC
#define TXN CLLM_E1000_TX_DESC
_Static_assert(RXN % 8 == 0 && TXN % 8 == 0, "ring lengths must be multiples of 128 bytes");

static struct {
    volatile uint8_t *mmio;
    int irq;
    uint64_t irq_seen;               /* irq_count[irq] when ICR was last read */
    uint64_t next_icr_check_ns;      /* ICR is also read (and the pin unmasked) at least this often */
    struct e1000_rx_desc *rx;        /* RXN descriptors */
    struct e1000_tx_desc *tx;        /* TXN descriptors */
    uint8_t *rx_buf, *tx_buf;        /* N x E1000_BUF_SIZE */
    unsigned rx_next;                /* next descriptor the NIC will fill */
    unsigned tx_tail;                /* next free descriptor (our copy of TDT, maybe not yet written) */
    unsigned tx_clean;               /* oldest descriptor not yet known to be done */
    unsigned tx_unflushed;           /* descriptors filled since the last TDT write */
    bool link;
    struct e1000_stats stats;
} nic;

static inline bool e1000_irq_valid(void) { return nic.irq >= 0 && nic.irq < 32; } /* irq_count index */
static inline uint32_t e1000_read(uint32_t reg) { return *(volatile uint32_t *)(nic.mmio + reg); }
static inline void e1000_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(nic.mmio + reg) = v; }
static inline void e1000_barrier(void) { __asm__ volatile("" ::: "memory"); } /* x86: stores stay ordered */

/* The MAC address: from RAL0/RAH0 when reset loaded it there (*in_rar0 set), else from the EEPROM. */
static bool e1000_read_mac(uint8_t mac[6], bool *in_rar0)
{
    uint32_t ral = e1000_read(E1000_RAL0), rah = e1000_read(E1000_RAH0);
    if (rah & E1000_RAH_AV) {
        *in_rar0 = true;
        for (int i = 0; i < 4; i++)
            mac[i] = (uint8_t)(ral >> (8 * i));
        mac[4] = (uint8_t)rah;
        mac[5] = (uint8_t)(rah >> 8);
        return true;
    }
    /* Not loaded into RAL/RAH: read words 0..2 of the EEPROM (8254x SDM 5.6.1). */
    for (uint32_t w = 0; w < 3; w++) {
        e1000_write(E1000_EERD, w << 8 | E1000_EERD_START);
        uint32_t v = 0;
        for (int tries = 0; tries < 100000 && !((v = e1000_read(E1000_EERD)) & E1000_EERD_DONE); tries++)
            ;
        if (!(v & E1000_EERD_DONE))
            return false;
        mac[2 * w] = (uint8_t)(v >> 16);
        mac[2 * w + 1] = (uint8_t)(v >> 24);
    }
    return true;
}

/* Reclaim transmitted descriptors (DD written back because every descriptor has RS). */
static void e1000_tx_reclaim(void)
{
    while (nic.tx_clean != nic.tx_tail && (nic.tx[nic.tx_clean].status & E1000_TXD_STAT_DD))
        nic.tx_clean = (nic.tx_clean + 1) % TXN;
}

static int e1000_send(struct netif *nif, const void *frame, size_t len)
{
    (void)nif;
    if (len > E1000_BUF_SIZE || len == 0)
        return -1;
    unsigned next = (nic.tx_tail + 1) % TXN;
    if (next == nic.tx_clean) {
        e1000_tx_reclaim();
        if (next == nic.tx_clean) {
            nic.stats.tx_ring_full++;
            return -1;
        }
    }
    struct e1000_tx_desc *d = &nic.tx[nic.tx_tail];
    memcpy(nic.tx_buf + (size_t)nic.tx_tail * E1000_BUF_SIZE, frame, len);
    d->addr = (uint64_t)(uintptr_t)(nic.tx_buf + (size_t)nic.tx_tail * E1000_BUF_SIZE);
    d->length = (uint16_t)len;
    d->cso = 0;
    d->css = 0;
    d->special = 0;
    d->status = 0;
    d->cmd = E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS;
    nic.tx_tail = next;
    nic.tx_unflushed++;
    nic.stats.tx_frames++;
    return 0;
}

static void e1000_flush(struct netif *nif)
{
    (void)nif;
    if (!nic.tx_unflushed)
        return;
    e1000_barrier();
    e1000_write(E1000_TDT, nic.tx_tail);
    nic.tx_unflushed = 0;
    nic.stats.tail_writes++;
}

static void e1000_check_link(void)
{
    bool up = (e1000_read(E1000_STATUS) & E1000_STATUS_LU) != 0;
    if (up != nic.link) {
        nic.link = up;
        nic.stats.link_changes++;
        log_info("e1000: link %s", up ? "up" : "down");
    }
}

static int e1000_poll(struct netif *nif, int budget, void (*rx)(const uint8_t *frame, size_t len))
{
    (void)nif;
    /* Acknowledge first: a frame landing after the drain below raises a fresh interrupt. */
    uint64_t seen = e1000_irq_valid() ? irq_count[nic.irq] : 0;
    uint64_t now = clock_ns();
    if (seen != nic.irq_seen || now >= nic.next_icr_check_ns) {
        /* The monitor masked our IOAPIC pin when the interrupt came (the line is level-triggered): read ICR to
           clear the cause, then unmask. Once a second this runs regardless, so a lost interrupt costs at
           most a second, never a hang. */
        nic.stats.interrupts += seen - nic.irq_seen;
        nic.irq_seen = seen;
        nic.next_icr_check_ns = now + 1000000000ull;
        uint32_t icr = e1000_read(E1000_ICR);
        nic.stats.icr_reads++;
        if (icr & E1000_ICR_LSC)
            e1000_check_link();
        if (e1000_irq_valid())
            irq_unmask(nic.irq);
    }
    int n = 0;
    unsigned last = RXN;
    while (n < budget) {
        struct e1000_rx_desc *d = &nic.rx[nic.rx_next];
        if (!(d->status & E1000_RXD_STAT_DD))
            break;
        e1000_barrier();
        if ((d->errors & E1000_RXD_ERR_FRAME) || !(d->status & E1000_RXD_STAT_EOP) || d->length > E1000_BUF_SIZE) {
            nic.stats.rx_errors++;
        } else {
            nic.stats.rx_frames++;
            rx(nic.rx_buf + (size_t)nic.rx_next * E1000_BUF_SIZE, d->length);
        }
        d->status = 0;
        last = nic.rx_next;
        nic.rx_next = (nic.rx_next + 1) % RXN;
        n++;
    }
    if (last != RXN) {
        /* Give the processed descriptors back with one RDT write: the NIC owns RDH .. RDT-1. */
        e1000_barrier();
        e1000_write(E1000_RDT, last);
        nic.stats.tail_writes++;
    }
    return n;
}

static bool e1000_link_up(struct netif *nif)
{
    (void)nif;
    return nic.link;
}

static bool e1000_rx_ready(struct netif *nif)
{
    (void)nif;
    return (nic.rx[nic.rx_next].status & E1000_RXD_STAT_DD) != 0;
}

int e1000_irq(void) { return nic.irq; }
void e1000_get_stats(struct e1000_stats *st) { *st = nic.stats; }

int e1000_init(struct pci_dev *pd, struct netif *nif)
{
    const struct pci_bar *bar = &pd->bar[0];
    if (pci_enable_device(pd) < 0 || bar->is_io || !bar->size || !bar->addr ||
        bar->addr + bar->size > (1ull << 32)) {
        log_error("e1000: BAR0 is not a usable memory BAR below 4 GiB");
        return -1;
    }
    memset(&nic, 0, sizeof nic);
    nic.mmio = (volatile uint8_t *)(uintptr_t)bar->addr;
    nic.irq = pd->irq_pin ? pd->irq_line : -1;
    /* MSI when the device has it (the 82574L does): under kvm-pvm the IOAPIC never delivered our INTx line. */
    if (pci_enable_msi(pd, IRQ_VECTOR_BASE + IRQ_MSI_NIC) == 0)
        nic.irq = IRQ_MSI_NIC;

    /* Mask everything, reset (8254x SDM 14.5). Reset leaves every interrupt masked (IMS 0) and no cause pending,
       so nothing needs masking or acknowledging again; every register access is a VM exit, so none is spent on
       what reset already did (below too: RDH, TDH and TDT are 0 after reset, 8254x SDM 13.4.28/39/40). */
    e1000_write(E1000_IMC, 0xffffffffu);
    e1000_write(E1000_CTRL, e1000_read(E1000_CTRL) | E1000_CTRL_RST);
    clock_delay_us(10);
    uint32_t ctrl = e1000_read(E1000_CTRL);
    for (int i = 0; i < 1000 && (ctrl & E1000_CTRL_RST); i++) {
        clock_delay_us(10);
        ctrl = e1000_read(E1000_CTRL);
    }
    e1000_write(E1000_CTRL, (ctrl | E1000_CTRL_SLU | E1000_CTRL_ASDE) & ~E1000_CTRL_PHY_RST);

    bool in_rar0 = false;
    if (!e1000_read_mac(nif->mac, &in_rar0)) {
        log_error("e1000: no MAC address (RAH.AV clear and EEPROM read timed out)");
        return -1;
    }
    if (!in_rar0) { /* our address in RAR0 with AV set: the filter that admits unicast frames */
        e1000_write(E1000_RAL0, (uint32_t)nif->mac[0] | (uint32_t)nif->mac[1] << 8 | (uint32_t)nif->mac[2] << 16 |
                                    (uint32_t)nif->mac[3] << 24);
        e1000_write(E1000_RAH0, (uint32_t)nif->mac[4] | (uint32_t)nif->mac[5] << 8 | E1000_RAH_AV);
    }
    /* The multicast table (MTA) is left alone: 128 MMIO writes (~2 ms of VM exits) to clear it would only keep
       some multicast frames out, and the stack drops frames that are not for it anyway (RCTL.MPE stays off). */

    nic.rx = kmalloc_aligned(RXN * sizeof *nic.rx, 128);
    nic.tx = kmalloc_aligned(TXN * sizeof *nic.tx, 128);
    nic.rx_buf = kmalloc_aligned((size_t)RXN * E1000_BUF_SIZE, 4096);
    nic.tx_buf = kmalloc_aligned((size_t)TXN * E1000_BUF_SIZE, 4096);
    if (!nic.rx || !nic.tx || !nic.rx_buf || !nic.tx_buf) {
        log_error("e1000: out of memory for rings");
        return -1;
    }
    memset(nic.rx, 0, RXN * sizeof *nic.rx);
    memset(nic.tx, 0, TXN * sizeof *nic.tx);
    for (unsigned i = 0; i < RXN; i++)
        nic.rx[i].addr = (uint64_t)(uintptr_t)(nic.rx_buf + (size_t)i * E1000_BUF_SIZE);

    /* Receive (8254x SDM 14.4) */
    uint64_t rx_phys = (uint64_t)(uintptr_t)nic.rx;
    e1000_write(E1000_RDBAL, (uint32_t)rx_phys);
    e1000_write(E1000_RDBAH, (uint32_t)(rx_phys >> 32));
    e1000_write(E1000_RDLEN, RXN * sizeof *nic.rx);
    e1000_write(E1000_RDT, RXN - 1);
    e1000_write(E1000_RDTR, 0);
    e1000_write(E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_BAM | E1000_RCTL_BSIZE_2048 | E1000_RCTL_SECRC);

    /* Transmit (8254x SDM 14.5) */
    uint64_t tx_phys = (uint64_t)(uintptr_t)nic.tx;
    e1000_write(E1000_TDBAL, (uint32_t)tx_phys);
    e1000_write(E1000_TDBAH, (uint32_t)(tx_phys >> 32));
    e1000_write(E1000_TDLEN, TXN * sizeof *nic.tx);
    e1000_write(E1000_TIDV, 0);
    e1000_write(E1000_TIPG, E1000_TIPG_IEEE);
    e1000_write(E1000_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP | E1000_TCTL_CT(0x0f) | E1000_TCTL_COLD(0x40));

    /* Interrupts: only to wake the halted CPU (see the file comment). */
    e1000_write(E1000_ITR, E1000_ITR_INTERVAL);
    if (e1000_irq_valid())
        nic.irq_seen = irq_count[nic.irq];
    e1000_write(E1000_IMS, E1000_ICR_RXT0 | E1000_ICR_RXO | E1000_ICR_RXDMT0 | E1000_ICR_LSC);

    e1000_check_link();
    nif->priv = &nic;
    nif->send = e1000_send;
    nif->flush = e1000_flush;
    nif->poll = e1000_poll;
    nif->link_up = e1000_link_up;
    nif->rx_ready = e1000_rx_ready;
    log_info("e1000: %02x:%02x:%02x:%02x:%02x:%02x at %#llx %s %d, %d rx / %d tx descriptors, link %s",
             nif->mac[0], nif->mac[1], nif->mac[2], nif->mac[3], nif->mac[4], nif->mac[5],
             (unsigned long long)bar->addr, nic.irq == IRQ_MSI_NIC ? "msi vector" : "irq",
             nic.irq == IRQ_MSI_NIC ? IRQ_VECTOR_BASE + IRQ_MSI_NIC : nic.irq, RXN, TXN, nic.link ? "up" : "down");
    return 0;
}
