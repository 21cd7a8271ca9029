# lwIP (dom0's own IP address, net/ip.c), built from Debian bookworm's
# source package `lwip` (2.1.3+dfsg1): scripts/fetch-lwip.sh downloads and
# unpacks it under build/lwip-src on the first build (no lwIP source is kept
# in this repository).  Compiled with keel's own flags, freestanding, against
# the port headers in net/lwip/include (lwipopts.h, arch/cc.h and the small
# libc shims), into build/liblwip.a; the linker takes only what keel uses.
# KEEL_LWIP_CACHE=DIR keeps the download and tree out of build/ (kept across
# `make clean`).
LWIP_CACHE := $(or $(KEEL_LWIP_CACHE),$(BUILD)/lwip-src)
LWIP_TREE  := $(LWIP_CACHE)/tree
LWIP_STAMP := $(LWIP_TREE)/.keel-version
LWIP_SRCS  := core/def.c core/dns.c core/inet_chksum.c core/init.c core/ip.c core/mem.c \
	core/memp.c core/netif.c core/pbuf.c core/raw.c core/stats.c core/sys.c core/tcp.c \
	core/tcp_in.c core/tcp_out.c core/timeouts.c core/udp.c \
	core/ipv4/dhcp.c core/ipv4/etharp.c core/ipv4/icmp.c core/ipv4/ip4.c \
	core/ipv4/ip4_addr.c core/ipv4/ip4_frag.c \
	netif/ethernet.c apps/lwiperf/lwiperf.c
LWIP_OBJS  := $(patsubst %.c,$(BUILD)/obj/lwip/%.o,$(LWIP_SRCS))
LWIP_INC   := -Inet/lwip/include -I$(LWIP_TREE)/src/include
LWIP_LIB   := $(BUILD)/liblwip.a

# This file is included before the Makefile's first rule: keep `all` the default.
.DEFAULT_GOAL := all

KERNEL_LIBS += $(LWIP_LIB)
# keel's files that include lwIP's headers.
LWIP_USERS := $(BUILD)/obj/net/ip.o $(BUILD)/obj/net/commands_ip.o $(BUILD)/obj/net/lwip/sys_arch.o
KERNEL_OBJ += $(BUILD)/obj/net/lwip/sys_arch.o $(BUILD)/obj/net/lwip/ipcfg.o
$(LWIP_USERS): KCFLAGS += $(LWIP_INC)
$(LWIP_USERS): | $(LWIP_STAMP)

$(LWIP_STAMP): scripts/fetch-lwip.sh $(wildcard net/lwip/patches/*.patch)
	@echo "  FETCH   lwip (Debian source package)"
	@scripts/fetch-lwip.sh $(LWIP_CACHE)
	@touch $@

# The tree's files appear with the fetch; a new fetch (patch set changed)
# rebuilds every lwIP object.
$(addprefix $(LWIP_TREE)/src/,$(LWIP_SRCS)): | $(LWIP_STAMP) ;

$(BUILD)/obj/lwip/%.o: $(LWIP_TREE)/src/%.c $(LWIP_STAMP) | $(BUILD)/include/xen
	@mkdir -p $(dir $@)
	@echo "  CC      lwip/$*.c"
	@$(CC) $(KCFLAGS) $(LWIP_INC) -c $< -o $@

$(LWIP_LIB): $(LWIP_OBJS)
	@rm -f $@
	@ar rcs $@ $^

-include $(LWIP_OBJS:.o=.d)
