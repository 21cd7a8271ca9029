/*
 * Guest kernel images for the PV domain builder: recognises a Linux bzImage
 * (decompressing its payload), a compressed ELF or a plain ELF64, validates
 * the ELF as hostile input, reads the Xen ELF notes (or the legacy
 * __xen_guest string) and copies the loadable segments into guest memory.
 * It does not allocate or map guest memory; the builder does.
 *
 * The rules mirror Xen's libelf and libxenguest (xen/common/libelf/
 * libelf-dominfo.c, tools/libs/guest/xg_dom_elfloader.c and
 * xg_dom_bzimageloader.c) for 64-bit PV guests; notes are those of
 * xen/include/public/elfnote.h, features those of features.h.
 */
#ifndef KEEL_KIMAGE_H
#define KEEL_KIMAGE_H

#include <lib/base.h>
#include <lib/decompress.h>
#include <xen/elfnote.h>
#include <xen/features.h>

/* An address the image did not give (libelf's UNSET_ADDR). */
#define KIMAGE_UNSET (~0ull)
/* Loadable segments kept; a kernel has 3 to 6. */
#define KIMAGE_MAX_SEGMENTS 16
/* Largest span [virt_kstart, virt_kend) accepted: Linux needs under 100 MiB. */
#define KIMAGE_MAX_SPAN_BYTES (1ull << 30)
/* Default bound on a decompressed kernel, for max_elf_bytes == 0. */
#define KIMAGE_MAX_ELF_BYTES (512u * 1024 * 1024)
/* kimage_load() never hands map() a range crossing one of these pages. */
#define KIMAGE_PAGE_BYTES 4096u

/* One PT_LOAD program header, checked against the ELF buffer. */
struct kimage_segment {
	uint64_t vaddr;       /* guest virtual address: paddr + virt_offset */
	uint64_t paddr;       /* p_paddr, what libelf places by */
	uint64_t elf_vaddr;   /* p_vaddr, informational (Linux's percpu is 0) */
	uint64_t file_offset; /* p_offset into kimage.elf */
	uint64_t filesz;      /* bytes copied from the ELF */
	uint64_t memsz;       /* bytes in the guest; memsz - filesz zeroed */
	uint32_t flags;       /* p_flags: 1 X, 2 W, 4 R */
};

struct kimage {
	/*
	 * The ELF: inside the caller's file buffer when that was a plain ELF
	 * (owned == NULL: keep the file alive as long as the kimage), else the
	 * decompressed copy in owned, freed by kimage_free().  A kimage is
	 * read-only after kimage_parse(), so one can serve many builds.
	 */
	const uint8_t *elf;
	size_t elf_bytes;
	void *owned;
	bool bzimage;                      /* came out of a bzImage payload */
	enum decompress_format compression; /* DECOMPRESS_UNKNOWN: plain */

	uint64_t virt_base;      /* VIRT_BASE, default 0 */
	uint64_t paddr_offset;   /* PADDR_OFFSET, default 0 (notes) or virt_base */
	uint64_t virt_offset;    /* virt_base - paddr_offset */
	uint64_t entry;          /* ENTRY, default e_entry */
	uint64_t hypercall_page; /* HYPERCALL_PAGE virtual address, or UNSET */
	uint64_t virt_kstart;    /* lowest p_paddr of a PT_LOAD + virt_offset */
	uint64_t virt_kend;      /* highest p_paddr + p_memsz + virt_offset */
	uint64_t init_p2m;       /* INIT_P2M virtual address, or UNSET */
	uint64_t hv_start_low;   /* HV_START_LOW, or UNSET */
	uint64_t phys32_entry;   /* PHYS32_ENTRY (PVH), or UNSET */
	bool mod_start_pfn;      /* MOD_START_PFN != 0: initrd may be unmapped */
	bool suspend_cancel;     /* SUSPEND_CANCEL note present and != 0 */
	bool bsd_symtab;         /* BSD_SYMTAB "yes"; the symtab is not loaded */
	bool legacy_guest_info;  /* parsed from __xen_guest, not notes */
	/* Bit XENFEAT_x of word x / 32: FEATURES and SUPPORTED_FEATURES. */
	uint32_t features_supported[XENFEAT_NR_SUBMAPS];
	uint32_t features_required[XENFEAT_NR_SUBMAPS];
	/* Note strings, NUL-terminated, truncated to fit; "" if absent. */
	char loader[32];
	char guest_os[32];
	char guest_version[32];
	char xen_version[32];

	unsigned int nr_segments;
	struct kimage_segment segments[KIMAGE_MAX_SEGMENTS];
};

/*
 * Recognises file (bzImage, compressed ELF or ELF64), decompressing into at
 * most max_elf_bytes (0: KIMAGE_MAX_ELF_BYTES), and fills *ki.  The image
 * must be an x86_64 ET_EXEC with Xen notes or __xen_guest, for the
 * "generic" loader or a "linux" guest, "xen-3.0", not requiring XENFEAT_dom0.
 * Returns 0; -ENOEXEC (not a format above), -EINVAL (malformed or refused,
 * with a klog line saying why), -EOPNOTSUPP (bzip2/lzo payload), -EFBIG,
 * -ENOMEM (out of memory while decompressing).  On error *ki holds nothing
 * to free.  Decompression runs the library in chunks under
 * decompress_set_guard() and may sleep between them, only through the
 * decompress_set_yield() hook.
 */
int kimage_parse(struct kimage *ki, const void *file, size_t file_bytes,
		 size_t max_elf_bytes);
/* Frees what kimage_parse() allocated.  Safe on a zeroed kimage. */
void kimage_free(struct kimage *ki);

/*
 * Writes the image into guest memory: every byte of [virt_kstart,
 * virt_kend) is either segment data or zero (bss and gaps alike, as
 * libxenguest's freshly zeroed kernel segment gives).  map(ctx, vaddr, len)
 * returns a writable pointer to len bytes at guest virtual vaddr, never
 * asked for a range crossing a KIMAGE_PAGE_BYTES boundary, or NULL
 * (-EFAULT).  Returns 0 or -EFAULT.
 */
int kimage_load(const struct kimage *ki,
		void *(*map)(void *ctx, uint64_t vaddr, size_t len), void *ctx);
/*
 * The same into one buffer dst standing for guest virtual addresses
 * [dst_vaddr, dst_vaddr + dst_bytes), which must cover [virt_kstart,
 * virt_kend) (else -ERANGE).  Bytes of dst outside that range are untouched.
 */
int kimage_load_flat(const struct kimage *ki, void *dst, uint64_t dst_vaddr,
		     size_t dst_bytes);

/* One klog line per field of interest, for boot logs and debugging. */
void kimage_log(const struct kimage *ki);

#endif
