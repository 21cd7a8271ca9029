/*
 * lwIP's configuration for keel's own IP address (net/ip.c).
 *
 * NO_SYS=1: keel's threads are cooperative, so lwIP runs without its
 * OS layer (no tcpip thread, mailboxes or semaphores): the `net-ip` thread
 * runs lwIP's timers and the queue of frames the switch delivered, and the
 * shell's commands (ping, net-bench) call the raw API directly; a thread is
 * never switched out in the middle of an lwIP call.  IPv4 only: ARP, ICMP,
 * UDP, TCP, DHCP, DNS and raw sockets (ping).
 */
#ifndef KEEL_LWIPOPTS_H
#define KEEL_LWIPOPTS_H

#define NO_SYS                          1
#define SYS_LIGHTWEIGHT_PROT            0
#define LWIP_SOCKET                     0
#define LWIP_NETCONN                    0
#define LWIP_TIMERS                     1

/* Memory: lwIP's heap is keel's (kmalloc never sleeps); the pools are
 * static arrays in keel's image. */
#define MEM_LIBC_MALLOC                 1
#define mem_clib_malloc                 kmalloc
#define mem_clib_free                   kfree
#define mem_clib_calloc                 lwip_port_calloc
#define MEM_ALIGNMENT                   8
#define MEMP_NUM_PBUF                   64
#define MEMP_NUM_RAW_PCB                4
#define MEMP_NUM_UDP_PCB                6
#define MEMP_NUM_TCP_PCB                8
#define MEMP_NUM_TCP_PCB_LISTEN         4
#define MEMP_NUM_TCP_SEG                128
#define MEMP_NUM_SYS_TIMEOUT            (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)
/* Received frames: 256 pool buffers of one Ethernet frame each (~400 KiB),
 * enough for a full TCP window plus the input queue. */
#define PBUF_POOL_SIZE                  256

#define LWIP_IPV4                       1
#define LWIP_IPV6                       0
#define LWIP_ARP                        1
#define ARP_TABLE_SIZE                  16
#define ARP_QUEUEING                    1
#define ETHARP_SUPPORT_STATIC_ENTRIES   0
#define IP_FORWARD                      0
#define IP_REASSEMBLY                   1
#define IP_FRAG                         1
#define LWIP_ICMP                       1
#define LWIP_RAW                        1
#define LWIP_UDP                        1
#define LWIP_TCP                        1
#define LWIP_DHCP                       1
#define LWIP_DNS                        1
#define DNS_MAX_SERVERS                 2
#define LWIP_AUTOIP                     0
#define LWIP_IGMP                       0

#define TCP_MSS                         1460
#define TCP_WND                         (32 * TCP_MSS)
#define TCP_SND_BUF                     (16 * TCP_MSS)
#define TCP_SND_QUEUELEN                ((4 * TCP_SND_BUF) / TCP_MSS)
#define LWIP_TCP_KEEPALIVE              1

#define LWIP_NETIF_STATUS_CALLBACK      1
#define LWIP_NETIF_LINK_CALLBACK        1
#define LWIP_NETIF_HOSTNAME             1
#define LWIP_SINGLE_NETIF               1

/* Checksums are computed and checked in software (the switch hands keel's
 * port complete frames: it fills a guest's blank checksums first). */
#define CHECKSUM_GEN_IP                 1
#define CHECKSUM_GEN_UDP                1
#define CHECKSUM_GEN_TCP                1
#define CHECKSUM_GEN_ICMP               1
#define CHECKSUM_CHECK_IP               1
#define CHECKSUM_CHECK_UDP              1
#define CHECKSUM_CHECK_TCP              1
#define CHECKSUM_CHECK_ICMP             1

#define LWIP_STATS                      1
#define LWIP_STATS_DISPLAY              0

#endif
