/*
 * Device interrupts for PCI drivers (drivers/pci/irq.c): MSI-X, MSI or the
 * legacy INTx line, each delivered as a Xen PIRQ bound to an event channel
 * (<keel/pirq.h>).  A driver asks for up to N vectors and gets what the
 * device and Xen allow: MSI-X first, then MSI (1 vector), then INTx (1
 * vector, shared, level-triggered: the handler must acknowledge the device).
 * The keel boot option `pci_nomsi` forces INTx for every device.
 */
#ifndef KEEL_PCI_IRQ_H
#define KEEL_PCI_IRQ_H

#include <keel/pci.h>
#include <keel/pirq.h>

enum pci_irq_mode { PCI_IRQ_NONE, PCI_IRQ_MSIX, PCI_IRQ_MSI, PCI_IRQ_INTX };

#define PCI_IRQ_MAX_VECTORS 8

struct pci_irqs {
	enum pci_irq_mode mode;
	unsigned int nvec;
	struct pirq_binding vec[PCI_IRQ_MAX_VECTORS];
};

/* Set by the `pci_nomsi` boot option. */
extern bool pci_nomsi;

/*
 * Sets up to `want` vectors (<= PCI_IRQ_MAX_VECTORS) for d, each with its own
 * handler context ctxs[i] (handler h for all).  Enables MSI-X/MSI in the
 * device (bus mastering must already be on).  0 or -errno; on success
 * irqs->nvec >= 1 and irqs->mode says what was obtained.  May sleep.
 */
int pci_irq_setup(struct pci_dev *d, struct pci_irqs *irqs, unsigned int want, pirq_handler_t h,
		  void *const ctxs[]);
/* Unbinds and unmaps every vector and disables MSI-X/MSI in the device. */
void pci_irq_teardown(struct pci_dev *d, struct pci_irqs *irqs);
const char *pci_irq_mode_name(enum pci_irq_mode m);

#endif
