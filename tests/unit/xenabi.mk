# Host tests of the per-release domctl/sysctl tables (xen/abi/): each
# release's file is compiled on its own, with that release's headers first
# on the include path, as the kernel build does (Makefile).
UNIT_TESTS += test_xenabi
test_xenabi_SRCS := tests/unit/test_xenabi.c $(BUILD)/host/xenabi/v417.o $(BUILD)/host/xenabi/v420.o

$(BUILD)/host/xenabi/v417.o: xen/abi/v417.c xen/abi/template.h include/keel/xenabi.h | $(BUILD)/include/xen
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOSTCFLAGS) -I$(BUILD)/include -c $< -o $@

$(BUILD)/host/xenabi/v420.o: xen/abi/v420.c xen/abi/template.h include/keel/xenabi.h | $(XEN420_CACHE)/include/xen/domctl.h
	@mkdir -p $(dir $@)
	$(HOSTCC) -I$(XEN420_CACHE)/include $(HOSTCFLAGS) -c $< -o $@
