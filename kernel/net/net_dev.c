/* net_init: find the NIC on the PCI bus (drivers/pci.c), bring it up (drivers/e1000.c), unmask its IRQ so an
   idle cpu_wait_irq() wakes for frames, attach it to the stack (net/net.c) and apply the build configuration's
   address (DHCP or static). Kernel only: host tests attach a fake NIC with net_attach instead. */
#include "net/net.h"
#include "arch/x86/irq.h"
#include "core/log.h"
#include "drivers/e1000.h"
#include "drivers/pci.h"

static struct netif net_dev_nif;

int net_init(void)
{
    if (!pci_count())
        pci_init(); /* normally done by kmain already */
    struct pci_dev *d = pci_find(E1000_VENDOR_INTEL, E1000_DEV_82574L);
    if (!d)
        d = pci_find(E1000_VENDOR_INTEL, E1000_DEV_82540EM);
    if (!d) {
        log_warn("net: no e1000e (8086:10d3) or e1000 (8086:100e) on the PCI bus; running without a network");
        return -1;
    }
    if (e1000_init(d, &net_dev_nif) < 0)
        return -1;
    int irq = e1000_irq();
    if (irq >= 0 && irq < IRQ_IOAPIC_PINS)
        irq_route(irq, true); /* PCI INTx: level-triggered; unmasked again by e1000_poll after each interrupt */
    else if (irq != IRQ_MSI_NIC)
        log_warn("net: e1000 has no interrupt (no MSI, no legacy IRQ); an idle kernel will only wake on the timer");
    net_attach(&net_dev_nif);
    net_config_default();
    return 0;
}
