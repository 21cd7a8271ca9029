/*
 * What keel's NIC drivers (virtio_net.c, e1000.c) share and the `nic`
 * command reads: the driver's private state starts with struct nicdrv, so
 * nic->priv tells the shell the interrupt mode and the negotiated offloads
 * without knowing the driver, and a helper of the transmit path.
 * transmit paths.  Not part of the NIC API (include/keel/nic.h).
 */
#ifndef DRIVERS_NET_NICDRV_H
#define DRIVERS_NET_NICDRV_H

#include <keel/nic.h>
#include <keel/pci_irq.h>

struct nicdrv {
	const struct pci_irqs *irqs;
	char offloads[96];      /* what the device and keel agreed, for `nic` */
	bool stopped;           /* failed (device misbehaved) or shut down */
	uint64_t wakeups;       /* passes of the driver thread */
};

/*
 * The CPU address of a transmit fragment, if it is dom0's own RAM (the
 * uplink's DMA pages): the P2M must map the M2P's answer back to the same
 * frame, which a guest's frame never does.  NULL otherwise.  Used where a
 * device needs the headers edited (e1000's TSO, virtio's header length).
 */
void *nicdrv_tx_va(dma_addr_t a);

/* Ones' complement 16-bit sum helpers (RFC 1071), host order values. */
static inline uint16_t nicdrv_csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

#endif
