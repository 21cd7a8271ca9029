/*
 * MSI-X, MSI and INTx for keel's PCI drivers.
 *
 * Under Xen a PV dom0 never writes MSI addresses or data itself: Xen owns
 * the interrupt remapping and the MSI-X table (it maps the table read-only
 * for dom0).  dom0 asks Xen to map each vector to a PIRQ, binds the PIRQ to
 * an event channel, and only toggles the enable and function-mask bits in
 * the capability's control register, which Xen watches.  The order follows
 * what Xen expects: map (Xen programs the vector, masked), bind (Xen
 * unmasks it at startup), then enable in the device.
 */
#include <keel/kernel.h>
#include <keel/pci_irq.h>

#define MSIX_CTRL_ENABLE 0x8000
#define MSIX_CTRL_MASKALL 0x4000
#define MSI_CTRL_ENABLE 0x0001
#define MSI_CTRL_MME_MASK 0x0070

bool pci_nomsi;

const char *pci_irq_mode_name(enum pci_irq_mode m)
{
	switch (m) {
	case PCI_IRQ_MSIX:
		return "MSI-X";
	case PCI_IRQ_MSI:
		return "MSI";
	case PCI_IRQ_INTX:
		return "INTx";
	default:
		return "none";
	}
}

static void unwind(struct pci_irqs *irqs, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		pirq_unbind(&irqs->vec[i]);
		if (irqs->mode != PCI_IRQ_INTX && irqs->vec[i].pirq >= 0)
			pirq_unmap(irqs->vec[i].pirq);
		irqs->vec[i].pirq = -1;
	}
	irqs->nvec = 0;
	irqs->mode = PCI_IRQ_NONE;
}

static int setup_msix(struct pci_dev *d, struct pci_irqs *irqs, unsigned int want,
		      pirq_handler_t h, void *const ctxs[])
{
	uint16_t ctrl = pci_cfg_read16(d, d->msix_cap + 2);
	unsigned int table_size = (ctrl & 0x7ff) + 1;
	uint32_t tbl = pci_cfg_read32(d, d->msix_cap + 4);
	unsigned int bir = tbl & 7;
	uint8_t devfn = (uint8_t)(d->slot << 3 | d->fn);
	int rc = 0;

	if (bir >= PCI_BARS || !d->bars[bir].size_bytes || d->bars[bir].is_io)
		return -ENODEV;
	if (want > table_size)
		want = table_size;
	irqs->mode = PCI_IRQ_MSIX;
	/* Function-masked and enabled while the vectors are set up, as Linux
	 * does: Xen programs each entry through the table, which the device
	 * only decodes with MSI-X enabled. */
	pci_cfg_write16(d, d->msix_cap + 2, ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	for (unsigned int i = 0; i < want; i++) {
		int pirq;
		irqs->vec[i].pirq = -1;
		rc = pirq_map_msi(d->seg, d->bus, devfn, true, i, d->bars[bir].base, &pirq);
		if (rc)
			break;
		irqs->vec[i].pirq = pirq;
		rc = pirq_bind(&irqs->vec[i], pirq, h, ctxs[i]);
		if (rc) {
			pirq_unmap(pirq);
			irqs->vec[i].pirq = -1;
			break;
		}
		irqs->nvec = i + 1;
	}
	if (irqs->nvec == 0) {
		pci_cfg_write16(d, d->msix_cap + 2, ctrl & ~(MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL));
		irqs->mode = PCI_IRQ_NONE;
		return rc ? rc : -ENODEV;
	}
	ctrl = pci_cfg_read16(d, d->msix_cap + 2);
	pci_cfg_write16(d, d->msix_cap + 2, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
	return 0;
}

static int setup_msi(struct pci_dev *d, struct pci_irqs *irqs, pirq_handler_t h, void *ctx)
{
	uint8_t devfn = (uint8_t)(d->slot << 3 | d->fn);
	int pirq;
	int rc = pirq_map_msi(d->seg, d->bus, devfn, false, 0, 0, &pirq);

	if (rc)
		return rc;
	irqs->mode = PCI_IRQ_MSI;
	irqs->vec[0].pirq = pirq;
	rc = pirq_bind(&irqs->vec[0], pirq, h, ctx);
	if (rc) {
		pirq_unmap(pirq);
		irqs->mode = PCI_IRQ_NONE;
		return rc;
	}
	irqs->nvec = 1;
	uint16_t ctrl = pci_cfg_read16(d, d->msi_cap + 2);
	pci_cfg_write16(d, d->msi_cap + 2, (ctrl & ~MSI_CTRL_MME_MASK) | MSI_CTRL_ENABLE);
	return 0;
}

/*
 * INTx: the firmware's interrupt-line register names the legacy IRQ, which
 * on the chipsets keel targets is the IO-APIC input of the same number
 * (PCI interrupts are level-triggered, active low).
 */
static int setup_intx(struct pci_dev *d, struct pci_irqs *irqs, pirq_handler_t h, void *ctx)
{
	int pirq;

	if (!d->irq_pin || d->irq_line == 0 || d->irq_line >= 0xff)
		return -ENODEV;
	int rc = pirq_map_gsi(d->irq_line, true, true, &pirq);
	if (rc)
		return rc;
	irqs->mode = PCI_IRQ_INTX;
	irqs->vec[0].pirq = pirq;
	rc = pirq_bind(&irqs->vec[0], pirq, h, ctx);
	if (rc) {
		irqs->mode = PCI_IRQ_NONE;
		return rc;
	}
	irqs->nvec = 1;
	uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
	pci_cfg_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_INTX_DISABLE);
	return 0;
}

int pci_irq_setup(struct pci_dev *d, struct pci_irqs *irqs, unsigned int want, pirq_handler_t h,
		  void *const ctxs[])
{
	int rc = -ENODEV;
	char bdf[16];

	pci_format_bdf(d, bdf, sizeof(bdf));
	irqs->mode = PCI_IRQ_NONE;
	irqs->nvec = 0;
	if (want == 0 || want > PCI_IRQ_MAX_VECTORS)
		return -EINVAL;
	if (!pci_nomsi && d->xen_added && d->msix_cap) {
		rc = setup_msix(d, irqs, want, h, ctxs);
		if (rc == 0)
			return 0;
		klog("pci: %s: MSI-X setup failed (%d), trying MSI\n", bdf, rc);
	}
	if (!pci_nomsi && d->xen_added && d->msi_cap) {
		rc = setup_msi(d, irqs, h, ctxs[0]);
		if (rc == 0)
			return 0;
		klog("pci: %s: MSI setup failed (%d), trying INTx\n", bdf, rc);
	}
	rc = setup_intx(d, irqs, h, ctxs[0]);
	if (rc)
		klog("pci: %s: no interrupt (INTx: %d)\n", bdf, rc);
	return rc;
}

void pci_irq_teardown(struct pci_dev *d, struct pci_irqs *irqs)
{
	if (irqs->mode == PCI_IRQ_MSIX) {
		uint16_t ctrl = pci_cfg_read16(d, d->msix_cap + 2);
		pci_cfg_write16(d, d->msix_cap + 2, ctrl & ~MSIX_CTRL_ENABLE);
	} else if (irqs->mode == PCI_IRQ_MSI) {
		uint16_t ctrl = pci_cfg_read16(d, d->msi_cap + 2);
		pci_cfg_write16(d, d->msi_cap + 2, ctrl & ~MSI_CTRL_ENABLE);
	} else if (irqs->mode == PCI_IRQ_INTX) {
		uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
		pci_cfg_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_INTX_DISABLE);
	}
	unwind(irqs, irqs->nvec);
}
