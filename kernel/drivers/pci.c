/* PCI enumeration through configuration mechanism #1 (ports 0xcf8/0xcfc). Each configuration dword is two port
   accesses, each a VM exit under kvm-pvm (~15 us), so the scan reads only what it needs: the vendor ID of
   function 0 of each slot, then class, header type and interrupt of what is there, the other functions only when
   the header says multi-function, and the buses behind PCI-to-PCI bridges. BARs are sized only for a device a
   driver enables (pci_enable_device), with no access that changes nothing (no restoring a BAR that held no
   address, no read-modify-write of the command register). The one user today is drivers/e1000.c (through
   net/net_dev.c). */
#include "drivers/pci.h"
#include "arch/x86/io.h"
#include "core/log.h"
#include "lib/string.h"

#define PCI_CONFIG_ADDRESS 0xcf8 /* configuration mechanism #1 (PCI 3.0, 3.2.2.3.2) */
#define PCI_CONFIG_DATA 0xcfc

static struct pci_dev pci_devs[PCI_MAX_DEVICES];
static int pci_ndevs;

static uint32_t pci_address(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11 | (uint32_t)(fn & 7) << 8 | (off & 0xfc);
}

/* Only the boot CPU touches configuration space, and no interrupt handler does: the address/data pair needs no
   lock. */
uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    outl(PCI_CONFIG_ADDRESS, pci_address(bus, dev, fn, off));
    return inl(PCI_CONFIG_DATA);
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v)
{
    outl(PCI_CONFIG_ADDRESS, pci_address(bus, dev, fn, off));
    outl(PCI_CONFIG_DATA, v);
}

uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
    return (uint16_t)(pci_read32(bus, dev, fn, off) >> ((off & 2) * 8));
}

void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint16_t v)
{
    uint32_t old = pci_read32(bus, dev, fn, off);
    int shift = (off & 2) * 8;
    pci_write32(bus, dev, fn, off, (old & ~(0xffffu << shift)) | (uint32_t)v << shift);
}

int pci_bar_decode(uint32_t lo, uint32_t hi, uint32_t size_lo, uint32_t size_hi, struct pci_bar *b)
{
    memset(b, 0, sizeof *b);
    if (lo & 1) { /* I/O space: bits 31:2 are the address */
        b->is_io = true;
        b->addr = lo & ~3u;
        uint32_t mask = size_lo & ~3u;
        b->size = mask ? (uint32_t)(~mask + 1) & 0xffffu : 0;
        return 1;
    }
    int type = (lo >> 1) & 3; /* 0: 32-bit, 2: 64-bit (PCI 3.0, 6.2.5.1) */
    b->prefetchable = (lo >> 3) & 1;
    if (type == 2) {
        b->is_64 = true;
        b->addr = ((uint64_t)hi << 32) | (lo & ~15u);
        uint64_t mask = ((uint64_t)size_hi << 32) | (size_lo & ~15u);
        b->size = mask ? ~mask + 1 : 0;
        return 2;
    }
    b->addr = lo & ~15u;
    uint32_t mask = size_lo & ~15u;
    b->size = mask ? (uint32_t)(~mask + 1) : 0;
    return 1;
}

/* Size every BAR by writing all ones (decoding is off meanwhile: the caller saw to it). A BAR that holds an
   address gets it back; one at 0 (unassigned) keeps the probe's value until pci_assign_bar writes its address,
   and an unimplemented one (all zeros either way) needs nothing: every configuration access is two VM exits. */
static void pci_read_bars(struct pci_dev *d)
{
    if (d->bars_read || d->header_type != 0)
        return;
    d->bars_read = true;
    for (int i = 0; i < 6; i++) {
        uint8_t off = (uint8_t)(PCI_CFG_BAR0 + 4 * i);
        uint32_t lo = pci_read32(d->bus, d->dev, d->fn, off);
        pci_write32(d->bus, d->dev, d->fn, off, 0xffffffffu);
        uint32_t size_lo = pci_read32(d->bus, d->dev, d->fn, off);
        uint32_t hi = 0, size_hi = 0;
        bool is_64 = !(lo & 1) && ((lo >> 1) & 3) == 2 && i < 5;
        if (is_64) {
            hi = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(off + 4));
            pci_write32(d->bus, d->dev, d->fn, (uint8_t)(off + 4), 0xffffffffu);
            size_hi = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(off + 4));
        }
        if ((lo & ((lo & 1) ? ~3u : ~15u)) || hi) { /* it had an address: put it back */
            pci_write32(d->bus, d->dev, d->fn, off, lo);
            if (is_64)
                pci_write32(d->bus, d->dev, d->fn, (uint8_t)(off + 4), hi);
        }
        if (size_lo == 0 && lo == 0)
            continue;
        d->bar_flags[i] = (uint8_t)(lo & ((lo & 1) ? 3u : 15u));
        if (pci_bar_decode(lo, hi, size_lo, size_hi, &d->bar[i]) == 2)
            i++;
    }
    for (int i = 0; i < 6; i++) {
        const struct pci_bar *b = &d->bar[i];
        if (b->size)
            log_info("pci: %02x:%02x.%x bar%d %s %#llx size %#llx%s%s", d->bus, d->dev, d->fn, i,
                     b->is_io ? "io " : "mem", (unsigned long long)b->addr, (unsigned long long)b->size,
                     b->is_64 ? " 64-bit" : "", b->prefetchable ? " prefetch" : "");
    }
}

static void pci_scan_bus(uint8_t bus, int depth);

/* Record one function (its vendor/device dword already read); returns its header type byte, multi-function bit
   included. */
static uint8_t pci_add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id, int depth)
{
    uint32_t class_reg = pci_read32(bus, dev, fn, PCI_CFG_REVISION);
    uint8_t header_byte = (uint8_t)(pci_read32(bus, dev, fn, 0x0c) >> 16);
    uint8_t header = header_byte & 0x7f;
    if (pci_ndevs >= PCI_MAX_DEVICES) {
        log_warn("pci: more than %d functions, ignoring %02x:%02x.%x", PCI_MAX_DEVICES, bus, dev, fn);
        return header_byte;
    }
    uint32_t irq_reg = header <= 1 ? pci_read32(bus, dev, fn, PCI_CFG_IRQ_LINE) : 0;
    struct pci_dev *d = &pci_devs[pci_ndevs++];
    memset(d, 0, sizeof *d);
    d->bus = bus;
    d->dev = dev;
    d->fn = fn;
    d->vendor = (uint16_t)id;
    d->device = (uint16_t)(id >> 16);
    d->revision = (uint8_t)class_reg;
    d->prog_if = (uint8_t)(class_reg >> 8);
    d->subclass = (uint8_t)(class_reg >> 16);
    d->class_code = (uint8_t)(class_reg >> 24);
    d->header_type = header;
    d->irq_line = (uint8_t)irq_reg;
    d->irq_pin = (uint8_t)(irq_reg >> 8);
    log_info("pci: %02x:%02x.%x %04x:%04x class %02x.%02x.%02x irq %u%s", bus, dev, fn, d->vendor, d->device,
             d->class_code, d->subclass, d->prog_if, d->irq_pin ? d->irq_line : 0, d->irq_pin ? "" : " (none)");
    /* PCI-to-PCI bridge (class 06.04, header type 1): scan the bus behind it. */
    if (header == 1 && d->class_code == 0x06 && d->subclass == 0x04 && depth < 8) {
        uint8_t secondary = (uint8_t)(pci_read32(bus, dev, fn, 0x18) >> 8);
        if (secondary > bus)
            pci_scan_bus(secondary, depth + 1);
    }
    return header_byte;
}

/* One slot: function 0, then 1-7 when function 0 says multi-function. */
static void pci_scan_slot(uint8_t bus, uint8_t dev, int depth)
{
    uint32_t id = pci_read32(bus, dev, 0, PCI_CFG_VENDOR);
    if ((id & 0xffff) == 0xffff)
        return;
    if (!(pci_add_function(bus, dev, 0, id, depth) & 0x80))
        return;                                       /* not multi-function: functions 1-7 are not probed */
    for (uint8_t fn = 1; fn < 8; fn++) {
        id = pci_read32(bus, dev, fn, PCI_CFG_VENDOR);
        if ((id & 0xffff) != 0xffff)
            pci_add_function(bus, dev, fn, id, depth);
    }
}

static void pci_scan_bus(uint8_t bus, int depth)
{
    for (uint8_t dev = 0; dev < 32; dev++)
        pci_scan_slot(bus, dev, depth);
}

/* The scan of bus 0 in progress: slots below pci_next_slot are done (with the buses behind their bridges). */
static uint8_t pci_next_slot = 32;

static void pci_scan_done(void)
{
    pci_next_slot = 32;
    log_info("pci: %d functions", pci_ndevs);
}

int pci_init(void)
{
    pci_ndevs = 0;
    pci_scan_bus(0, 0);
    pci_scan_done();
    return pci_ndevs;
}

int pci_init_until_class(uint8_t class_code)
{
    pci_ndevs = 0;
    for (pci_next_slot = 0; pci_next_slot < 32;) {
        int before = pci_ndevs;
        pci_scan_slot(0, pci_next_slot++, 0);
        for (int i = before; i < pci_ndevs; i++)
            if (pci_devs[i].class_code == class_code)
                return pci_ndevs;
    }
    pci_scan_done();
    return pci_ndevs;
}

bool pci_poll(void)
{
    if (pci_next_slot >= 32)
        return false;
    pci_scan_slot(0, pci_next_slot++, 0);
    if (pci_next_slot >= 32)
        pci_scan_done();
    return true;
}

int pci_count(void) { return pci_ndevs; }
struct pci_dev *pci_get(int i) { return i >= 0 && i < pci_ndevs ? &pci_devs[i] : NULL; }

struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
    for (int i = 0; i < pci_ndevs; i++)
        if (pci_devs[i].vendor == vendor && pci_devs[i].device == device)
            return &pci_devs[i];
    return NULL;
}

/* Next free address in each window: memory grows down from the IOAPIC, I/O up from 0xc000. A BAR the firmware
   already placed is never moved, so on SeaBIOS nothing here runs; the windows are chosen to miss its layout. */
static uint64_t pci_mmio_next = PCI_MMIO_WINDOW_END;
static uint32_t pci_io_next = PCI_IO_WINDOW_BASE;

static int pci_assign_bar(struct pci_dev *d, int i)
{
    struct pci_bar *b = &d->bar[i];
    uint8_t off = (uint8_t)(PCI_CFG_BAR0 + 4 * i);
    if (b->is_io) {
        uint32_t base = (pci_io_next + (uint32_t)b->size - 1) & ~((uint32_t)b->size - 1);
        if (base + b->size > PCI_IO_WINDOW_END)
            return -1;
        pci_io_next = base + (uint32_t)b->size;
        b->addr = base;
        pci_write32(d->bus, d->dev, d->fn, off, base | 1u);
    } else {
        if (b->size > pci_mmio_next - PCI_MMIO_WINDOW_BASE)
            return -1;
        uint64_t base = (pci_mmio_next - b->size) & ~(b->size - 1);
        if (base < PCI_MMIO_WINDOW_BASE)
            return -1;
        pci_mmio_next = base;
        b->addr = base;
        pci_write32(d->bus, d->dev, d->fn, off, (uint32_t)base | d->bar_flags[i]);
        if (b->is_64)
            pci_write32(d->bus, d->dev, d->fn, (uint8_t)(off + 4), 0);
    }
    log_info("pci: %02x:%02x.%x bar%d assigned %s %#llx", d->bus, d->dev, d->fn, i, b->is_io ? "io" : "mem",
             (unsigned long long)b->addr);
    return 0;
}

/* The offset of capability id in the function's list (PCI 3.0, 6.7), 0 when absent; *head is its first dword
   (id, next pointer, and the capability's 16-bit control word). */
static uint8_t pci_find_capability(struct pci_dev *d, uint8_t id, uint32_t *head)
{
    if (!(pci_read16(d->bus, d->dev, d->fn, PCI_CFG_STATUS) & PCI_STATUS_CAP_LIST))
        return 0;
    uint8_t off = (uint8_t)(pci_read32(d->bus, d->dev, d->fn, PCI_CFG_CAP_PTR) & 0xfc);
    for (int hops = 0; off >= 0x40 && hops < 48; hops++) {
        *head = pci_read32(d->bus, d->dev, d->fn, off);
        if ((uint8_t)*head == id)
            return off;
        off = (uint8_t)((*head >> 8) & 0xfc);
    }
    return 0;
}

/* The command register is written as the low half of its dword: the status half above it is read-only or
   write-one-to-clear, so writing zeros there changes nothing (PCI 3.0, 6.2.3). */
static void pci_set_command(struct pci_dev *d, uint16_t cmd)
{
    pci_write32(d->bus, d->dev, d->fn, PCI_CFG_COMMAND, cmd);
    d->command = cmd;
}

int pci_enable_msi(struct pci_dev *d, uint8_t vector)
{
    uint32_t head = 0;
    uint8_t cap = pci_find_capability(d, PCI_CAP_ID_MSI, &head);
    if (!cap)
        return -1;
    uint16_t ctrl = (uint16_t)(head >> 16);
    pci_write32(d->bus, d->dev, d->fn, (uint8_t)(cap + 4), PCI_MSI_ADDRESS_BSP); /* LAPIC 0, physical */
    uint8_t data_off = (uint8_t)(cap + 8);
    if (ctrl & PCI_MSI_CTRL_64BIT) {
        pci_write32(d->bus, d->dev, d->fn, (uint8_t)(cap + 8), 0);
        data_off = (uint8_t)(cap + 12);
    }
    /* message data in the low half: fixed delivery, edge; the half above it is reserved (or the PCIe extended
       message data, unused while its enable bit in the control word stays 0) */
    pci_write32(d->bus, d->dev, d->fn, data_off, vector);
    ctrl = (uint16_t)((ctrl & ~PCI_MSI_CTRL_MME_MASK) | PCI_MSI_CTRL_ENABLE); /* one vector */
    pci_write32(d->bus, d->dev, d->fn, cap, (uint32_t)ctrl << 16 | (head & 0xffffu)); /* id, next: read-only */
    pci_set_command(d, (uint16_t)(d->command | PCI_CMD_INTX_DISABLE));
    return 0;
}

int pci_enable_device(struct pci_dev *d)
{
    uint16_t cmd = (uint16_t)pci_read32(d->bus, d->dev, d->fn, PCI_CFG_COMMAND);
    pci_set_command(d, cmd & ~(PCI_CMD_IO | PCI_CMD_MEMORY)); /* no decoding while BARs are probed and moved */
    pci_read_bars(d);
    for (int i = 0; i < 6; i++) {
        if (d->bar[i].size && !d->bar[i].addr && pci_assign_bar(d, i) < 0) {
            log_error("pci: %02x:%02x.%x bar%d (%#llx bytes) does not fit the window", d->bus, d->dev, d->fn, i,
                      (unsigned long long)d->bar[i].size);
            return -1;
        }
    }
    cmd |= PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_BUS_MASTER;
    cmd &= (uint16_t)~PCI_CMD_INTX_DISABLE;
    pci_set_command(d, cmd);
    return 0;
}
