/* PCI configuration space through the legacy mechanism #1 ports (0xcf8 address, 0xcfc data; PCI Local Bus
   Specification 3.0, 3.2.2.3.2): enumeration of every function behind bus 0 and its bridges, BAR decoding
   (I/O, 32- and 64-bit memory), enabling memory decoding and bus mastering. Drivers: drivers/e1000.c. */
#ifndef DRIVERS_PCI_H
#define DRIVERS_PCI_H
#include <stdint.h>
#include <stdbool.h>

#define PCI_MAX_DEVICES 64

/* Configuration header offsets (PCI 3.0, 6.1) */
#define PCI_CFG_VENDOR 0x00
#define PCI_CFG_DEVICE 0x02
#define PCI_CFG_COMMAND 0x04
#define PCI_CFG_STATUS 0x06
#define PCI_CFG_REVISION 0x08
#define PCI_CFG_PROG_IF 0x09
#define PCI_CFG_SUBCLASS 0x0a
#define PCI_CFG_CLASS 0x0b
#define PCI_CFG_HEADER_TYPE 0x0e
#define PCI_CFG_BAR0 0x10
#define PCI_CFG_CAP_PTR 0x34       /* type 0 header: first capability */
#define PCI_CFG_SECONDARY_BUS 0x19 /* type 1 (bridge) header */
#define PCI_CFG_IRQ_LINE 0x3c
#define PCI_CFG_IRQ_PIN 0x3d

/* Command register bits (PCI 3.0, 6.2.2) */
#define PCI_CMD_IO (1u << 0)
#define PCI_CMD_MEMORY (1u << 1)
#define PCI_CMD_BUS_MASTER (1u << 2)
#define PCI_CMD_INTX_DISABLE (1u << 10)
#define PCI_STATUS_CAP_LIST (1u << 4) /* status register: a capability list exists (PCI 3.0, 6.2.3) */

/* MSI capability (PCI 3.0, 6.8.1) */
#define PCI_CAP_ID_MSI 0x05
#define PCI_MSI_CTRL_ENABLE (1u << 0)
#define PCI_MSI_CTRL_MME_MASK (7u << 4)  /* multiple message enable: 0 = one vector */
#define PCI_MSI_CTRL_64BIT (1u << 7)
#define PCI_MSI_ADDRESS_BSP 0xfee00000u  /* x86 MSI address: local APIC 0, physical destination (SDM 3A 11.11.1) */

struct pci_bar {
    uint64_t addr;  /* base address (I/O port or physical memory), 0 when the BAR is unused */
    uint64_t size;  /* bytes decoded */
    bool is_io;
    bool is_64;     /* a 64-bit memory BAR: it also uses the next BAR slot */
    bool prefetchable;
};

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type;       /* without the multi-function bit */
    uint8_t irq_line, irq_pin; /* irq_line: the legacy (8259) IRQ the firmware routed INTx to; 0xff none */
    struct pci_bar bar[6];     /* type 0 headers only, and only once pci_enable_device has sized them */
    bool bars_read;
    uint8_t bar_flags[6];      /* low bits of each BAR as found (I/O: bit 0; memory: type, prefetchable) */
    uint16_t command;          /* the command register as pci_enable_device/pci_enable_msi last wrote it */
};

/* Scan the buses and log every function ("pci: 00:03.0 8086:100e class 02.00.00 irq 11"). BARs are left unread
   (pci_enable_device sizes them). Returns the number of functions found. */
int pci_init(void);
/* The same scan, stopped after the first slot with a function of class class_code (PCI_CLASS_NETWORK: what the
   kernel needs to listen); pci_poll (the event loop) scans the rest, one bus-0 slot per call (true when it did),
   and logs "pci: N functions" at the end. Entries found stay where they are: pointers to them remain valid. */
int pci_init_until_class(uint8_t class_code);
bool pci_poll(void);
#define PCI_CLASS_NETWORK 0x02
int pci_count(void);
struct pci_dev *pci_get(int i);
struct pci_dev *pci_find(uint16_t vendor, uint16_t device);
/* Size the BARs (logged), give addresses to BARs the firmware left at 0 (qboot assigns none; SeaBIOS assigns all), then turn on memory
   and I/O decoding, bus mastering (DMA), and INTx. Memory BARs go below the IOAPIC in
   [PCI_MMIO_WINDOW_BASE, PCI_MMIO_WINDOW_END), I/O BARs from PCI_IO_WINDOW_BASE up. Returns 0, or -1 when a
   BAR does not fit in its window. */
#define PCI_MMIO_WINDOW_BASE 0xfd000000u /* inside QEMU's 32-bit PCI hole, above any RAM below 4 GiB */
#define PCI_MMIO_WINDOW_END 0xfec00000u  /* the IOAPIC */
#define PCI_IO_WINDOW_BASE 0xc000u
#define PCI_IO_WINDOW_END 0x10000u
int pci_enable_device(struct pci_dev *d);

/* Point the function's MSI capability (PCI 3.0, 6.8.1) at the boot CPU's local APIC with vector (fixed delivery,
   edge) and enable it (INTx is then disabled). Returns 0, or -1 when the function has no MSI capability. */
int pci_enable_msi(struct pci_dev *d, uint8_t vector);

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v);
uint16_t pci_read16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
void pci_write16(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint16_t v);

/* Decode one BAR from its value (lo, hi for the upper half of a 64-bit BAR) and what reads back after writing
   all ones (size_lo, size_hi). Pure; returns the number of BAR slots used (1 or 2). */
int pci_bar_decode(uint32_t lo, uint32_t hi, uint32_t size_lo, uint32_t size_hi, struct pci_bar *b);

#endif
