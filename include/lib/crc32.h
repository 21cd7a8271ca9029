/*
 * CRC-32 with the reflected polynomial 0xEDB88320 (IEEE 802.3, zlib, UEFI's
 * GPT).  Pure; a 1 KiB table built on first use.  Two entry points because two
 * on-disk formats use the same polynomial differently:
 *   - GPT (UEFI 2.x, 5.3.2) uses the standard CRC: initial value ~0 and a final
 *     inversion, which is crc32_ieee();
 *   - LVM2 (lib/misc/crc.c, calc_crc) starts from 0xf597a6cf and does no final
 *     inversion, which is crc32_update(LVM_INITIAL_CRC, ...).
 */
#ifndef KEEL_LIB_CRC32_H
#define KEEL_LIB_CRC32_H

#include <lib/base.h>

/* Runs the raw register over buf: no initial or final inversion.  Chain calls
 * to checksum a buffer in pieces. */
uint32_t crc32_update(uint32_t crc, const void *buf, size_t len);

/* The standard CRC-32 of buf (crc32_ieee("123456789") == 0xCBF43926). */
/* Not named crc32(): zlib, linked into the kernel, owns that symbol and
 * calls it from its inflate code with another signature. */
uint32_t crc32_ieee(const void *buf, size_t len);

#endif
