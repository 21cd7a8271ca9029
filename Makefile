# keel: a Xen dom0 kernel.
#   make            build build/keel (the dom0 ELF)
#   make unit       build and run the host unit tests
#   make test       everything: unit tests, then in-QEMU integration tests
#   make run        boot Xen + keel in QEMU on this terminal (XEN=4.17|4.20, default the newest)
# scripts/deps.sh installs the Debian packages all of this needs.

CC       ?= gcc
HOSTCC   ?= gcc
BUILD    := build
GCCINC   := $(shell $(CC) -print-file-name=include)

# C11 with GNU extensions (-std=gnu11): Xen's public headers (hvm/save.h via
# domctl.h) use anonymous unions and refuse strict ISO mode.
# Every kernel source, by subsystem folder.  Host-only files live in tests/.
KERNEL_DIRS := arch/x86_64 kernel xen lib fs drivers/acpi drivers/pci drivers/virtio drivers/nvme drivers/block \
	xenstored toolstack console xenbus backends/console backends/blk \
	drivers/net net backends/net xen/abi
KERNEL_C    := $(filter-out $(KERNEL_EXCLUDE),$(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.c)))
KERNEL_S    := $(foreach d,$(KERNEL_DIRS),$(wildcard $(d)/*.S))
KERNEL_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(KERNEL_C)) \
               $(patsubst %.S,$(BUILD)/obj/%.o,$(KERNEL_S))

# Extra static libraries linked into the kernel (decompressors, see README).
KERNEL_LIBS ?=
-include mk/*.mk

KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -nostdinc \
	-isystem $(GCCINC) -Iinclude -I$(BUILD)/include \
	-D__XEN_TOOLS__ -DKEEL_KERNEL \
	-mcmodel=kernel -fno-pic -fno-pie -mno-red-zone \
	-mno-sse -mno-sse2 -mno-mmx -mno-avx -mno-3dnow -msoft-float \
	-fno-stack-protector -fno-omit-frame-pointer -fno-strict-aliasing \
	-fno-asynchronous-unwind-tables -fno-common -MMD -MP
KASFLAGS := -D__ASSEMBLY__ -Iinclude -I$(BUILD)/include -MMD -MP
KLDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-z,noexecstack -Wl,--no-warn-rwx-segments

.PHONY: all unit test run clean fuzz bench deps
all: $(BUILD)/keel

# Xen's public headers are reached through a private folder: -I/usr/include
# would drag glibc into a freestanding build (shared/reference fact 2).
$(BUILD)/include/xen:
	@mkdir -p $(BUILD)/include
	@test -d /usr/include/xen || { echo "error: /usr/include/xen missing: run scripts/deps.sh (libxen-dev)" >&2; exit 1; }
	ln -sfn /usr/include/xen $(BUILD)/include/xen

# Xen's domctl/sysctl layouts differ by release: xen/abi/vNNN.c is compiled
# with that release's public headers first (include/keel/xenabi.h).  4.17:
# bookworm's libxen-dev (/usr/include/xen, scripts/deps.sh); 4.20: trixie's,
# fetched by scripts/fetch-xen420.sh with a private apt configuration.
XEN420_CACHE ?= $(or $(KEEL_XEN420_CACHE),$(HOME)/.cache/keel-xen420)
$(BUILD)/obj/xen/abi/v417.o: KCFLAGS := -I$(BUILD)/include $(KCFLAGS)
$(BUILD)/obj/xen/abi/v420.o: KCFLAGS := -I$(XEN420_CACHE)/include $(KCFLAGS)
$(BUILD)/obj/xen/abi/v420.o: | $(XEN420_CACHE)/include/xen/domctl.h
$(XEN420_CACHE)/include/xen/domctl.h:
	@scripts/fetch-xen420.sh $(XEN420_CACHE) || { echo "error: Xen 4.20's headers are missing" \
		"and scripts/fetch-xen420.sh could not fetch them" >&2; exit 1; }

$(BUILD)/obj/%.o: %.c | $(BUILD)/include/xen
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(KCFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.S | $(BUILD)/include/xen
	@mkdir -p $(dir $@)
	@echo "  AS      $<"
	@$(CC) $(KASFLAGS) -c $< -o $@

$(BUILD)/keel: $(KERNEL_OBJ) arch/x86_64/keel.lds $(KERNEL_LIBS)
	$(CC) $(KLDFLAGS) -T arch/x86_64/keel.lds -o $@ $(KERNEL_OBJ) $(KERNEL_LIBS) -lgcc
	@size $@ | tail -1 | awk '{printf "keel: text %d data %d bss %d bytes\n", $$1, $$2, $$3}'

# ---- host unit tests ------------------------------------------------------
# Each tests/unit/NAME.mk says: UNIT_TESTS += NAME and NAME_SRCS := files...
UNIT_TESTS :=
-include tests/unit/*.mk
HOSTCFLAGS := -std=gnu11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-DKEEL_HOST -Iinclude -I$(BUILD)/include -D__XEN_TOOLS__ \
	-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
UNIT_BINS := $(patsubst %,$(BUILD)/host/%,$(UNIT_TESTS))

define unit_rule
$(BUILD)/host/$(1): $$($(1)_SRCS) tests/unit/harness.h $(wildcard include/*/*.h include/*.h) | $(BUILD)/include/xen
	@mkdir -p $(BUILD)/host
	$(HOSTCC) $(HOSTCFLAGS) $$($(1)_CFLAGS) -o $$@ $$($(1)_SRCS) $$($(1)_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

# `make run` and `make test` are the README's two commands: both install what
# is missing first, so they work on a fresh Debian machine.
deps:
	@scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh

run: deps
	@$(MAKE) --no-print-directory all
	@scripts/run.sh

bench: all
	@scripts/bench-boot.py

clean:
	rm -rf $(BUILD)

-include $(KERNEL_OBJ:.o=.d)
