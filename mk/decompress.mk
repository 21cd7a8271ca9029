# Debian's static decompressors, linked into the kernel after its objects
# (lib/decompress.c drives them; lib/libc_shim.c gives them malloc, free and
# __stack_chk_fail).  Packages: liblzma-dev zlib1g-dev libzstd-dev liblz4-dev.
DECOMPRESS_LIBDIR := /usr/lib/x86_64-linux-gnu
KERNEL_LIBS += $(DECOMPRESS_LIBDIR)/liblzma.a $(DECOMPRESS_LIBDIR)/libz.a \
	$(DECOMPRESS_LIBDIR)/libzstd.a $(DECOMPRESS_LIBDIR)/liblz4.a
