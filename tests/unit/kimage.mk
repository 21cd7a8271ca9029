# Guest kernel images and decompression: toolstack/kimage.c, lib/decompress.c.
# Needs the host's xz, gzip, zstd and lz4 tools, the -dev packages of their
# libraries, a Debian /boot/vmlinuz-* (linux-image-amd64) and Debian's PV GRUB
# images in /usr/lib/grub-xen (grub-xen-host).
UNIT_TESTS += test_kimage
test_kimage_SRCS := tests/unit/test_kimage.c toolstack/kimage.c lib/decompress.c
test_kimage_LIBS := -llzma -lz -lzstd -llz4
