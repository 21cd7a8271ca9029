/*
 * virtio-net device layout (virtio 1.0, section 5.1): feature bits, the
 * device configuration space and the per-frame header.  Little-endian, as
 * every virtio 1.0 field.
 */
#ifndef DRIVERS_NET_VIRTIO_NET_REG_H
#define DRIVERS_NET_VIRTIO_NET_REG_H

#include <lib/base.h>

#define VIRTIO_NET_F_CSUM 0             /* device fills partial checksums */
#define VIRTIO_NET_F_GUEST_CSUM 1       /* driver takes partial checksums */
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

/* Device configuration (5.1.4). */
#define VNET_CFG_MAC 0
#define VNET_CFG_STATUS 6
#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_TCPV6 4

/* 5.1.6: with VIRTIO_F_VERSION_1 the header always carries num_buffers. */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr is 12 bytes");

#endif
