/*
 * The uplink port: joins a NIC to a bridge (the first NIC to xenbr0).
 * Frames from the switch are copied into this port's own DMA pages (the
 * NIC never reads a guest's page, so a guest that revokes a grant cannot
 * make a device read freed memory), checksummed and cut in software when
 * the NIC cannot, and handed to the driver.
 */
#include <keel/kernel.h>
#include <keel/nic.h>

void net_uplink_nic_added(struct nic *n)
{
	(void)n; /* joined to xenbr0 once the switch lands (net/bridge.c) */
}
