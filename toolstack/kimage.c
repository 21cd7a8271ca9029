/*
 * Guest kernel image parsing and loading for the PV domain builder: bzImage
 * and compressed-ELF unwrapping, ELF64 validation, Xen notes, segment copy.
 * Guest memory allocation and page tables belong to the builder.
 *
 * Every field read from the image is treated as hostile: offsets and sizes
 * are checked against the buffer with 64-bit arithmetic that cannot wrap
 * before anything is read through them, and all reads go through the rd*()
 * helpers, which take a checked offset (the buffer may be unaligned).
 *
 * Flow: kimage_parse() -> unwrap() finds the ELF (decompressing through
 * lib/decompress.c) -> parse_elf() checks the headers and collects PT_LOADs
 * -> the notes of PT_NOTE segments, else SHT_NOTE sections, else the
 * __xen_guest section -> check_notes() and calc_addresses(), libelf's
 * elf_xen_note_check() and elf_xen_addr_calc_check().
 */
#include <lib/base.h>
#include <keel/kimage.h>

/* ---- ELF64 layout (System V gABI), as byte offsets ---- */

#define EHDR_BYTES 64
#define PHDR_BYTES 56
#define SHDR_BYTES 64
#define E_TYPE 16
#define E_MACHINE 18
#define E_VERSION 20
#define E_ENTRY 24
#define E_PHOFF 32
#define E_SHOFF 40
#define E_EHSIZE 52
#define E_PHENTSIZE 54
#define E_PHNUM 56
#define E_SHENTSIZE 58
#define E_SHNUM 60
#define E_SHSTRNDX 62
#define P_TYPE 0
#define P_FLAGS 4
#define P_OFFSET 8
#define P_VADDR 16
#define P_PADDR 24
#define P_FILESZ 32
#define P_MEMSZ 40
#define SH_NAME 0
#define SH_TYPE 4
#define SH_OFFSET 24
#define SH_SIZE 32

#define ELFCLASS32 1
#define ELFCLASS64 2
#define ELFDATA2LSB 1
#define ET_EXEC 2
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_NOTE 4
#define PF_RWX 7
#define SHT_NOBITS 8
#define SHT_NOTE 7

/* libelf's ELF_MAX_TOTAL_NOTE_COUNT. */
#define MAX_TOTAL_NOTES 65536

/* ---- bzImage setup header (Documentation/x86/boot.rst) ---- */

#define BZ_SETUP_SECTS 0x1f1
#define BZ_HEADER 0x202     /* "HdrS" */
#define BZ_VERSION 0x206
#define BZ_PAYLOAD_OFFSET 0x248 /* protocol 2.08+ */
#define BZ_PAYLOAD_LENGTH 0x24c
#define BZ_HEADER_END 0x250

static uint16_t rd16(const uint8_t *p, uint64_t off)
{
	return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint32_t rd32(const uint8_t *p, uint64_t off)
{
	return (uint32_t)rd16(p, off) | (uint32_t)rd16(p, off + 2) << 16;
}

static uint64_t rd64(const uint8_t *p, uint64_t off)
{
	return (uint64_t)rd32(p, off) | (uint64_t)rd32(p, off + 4) << 32;
}

/* [off, off + len) lies inside a buffer of size bytes, without wrapping. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static void copy_str(char *dst, size_t dst_bytes, const char *src)
{
	size_t n = strnlen(src, dst_bytes - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- unwrapping: bzImage, compressed ELF, plain ELF ---- */

static bool is_elf(const uint8_t *p, size_t len)
{
	return len >= 4 && p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' &&
	       p[3] == 'F';
}

static int inflate_to(struct kimage *ki, const uint8_t *in, size_t in_len,
		      size_t size_hint, size_t max_out)
{
	struct decompress_stream *ds;
	size_t out_len;
	int rc;

	ki->compression = decompress_detect(in, in_len);
	rc = decompress_begin(&ds, in, in_len, max_out, size_hint);
	if (rc < 0)
		return rc;
	while ((rc = decompress_step(ds)) > 0)
		decompress_pause_point();
	if (rc == 0) {
		ki->owned = decompress_take(ds, &out_len);
		ki->elf = ki->owned;
		ki->elf_bytes = out_len;
	}
	decompress_end(ds);
	return rc;
}

/*
 * A bzImage's payload is the compressed vmlinux ELF.  Its offset is counted
 * from the end of the real-mode setup: (setup_sects + 1) sectors, where
 * setup_sects 0 means 4.  Linux appends the decompressed size as le32 to
 * every payload; it is only a hint for the first allocation.
 */
static int unwrap_bzimage(struct kimage *ki, const uint8_t *f, size_t len,
			  size_t max_out)
{
	uint16_t version = rd16(f, BZ_VERSION);
	uint64_t sects = f[BZ_SETUP_SECTS] ? f[BZ_SETUP_SECTS] : 4;
	uint64_t off = (sects + 1) * 512 + rd32(f, BZ_PAYLOAD_OFFSET);
	uint64_t plen = rd32(f, BZ_PAYLOAD_LENGTH);
	size_t hint = 0;
	int rc;

	if (version < 0x0208) {
		klog("kimage: bzImage boot protocol %x.%02x too old (need 2.08)\n",
		     version >> 8, version & 0xff);
		return -EINVAL;
	}
	if (plen == 0 || !in_bounds(off, plen, len)) {
		klog("kimage: bzImage payload [%#llx, +%#llx) outside the %zu-byte file\n",
		     (unsigned long long)off, (unsigned long long)plen, len);
		return -EINVAL;
	}
	ki->bzimage = true;
	if (plen >= 4)
		hint = rd32(f + off, plen - 4);
	rc = inflate_to(ki, f + off, (size_t)plen, hint, max_out);
	if (rc == -ENOEXEC)
		klog("kimage: bzImage payload has an unknown compression format\n");
	return rc;
}

static int unwrap(struct kimage *ki, const uint8_t *f, size_t len,
		  size_t max_out)
{
	int rc;

	if (is_elf(f, len)) {
		ki->elf = f;
		ki->elf_bytes = len;
		return 0;
	}
	if (len >= BZ_HEADER_END && memcmp(f + BZ_HEADER, "HdrS", 4) == 0)
		rc = unwrap_bzimage(ki, f, len, max_out);
	else if (decompress_detect(f, len) != DECOMPRESS_UNKNOWN)
		rc = inflate_to(ki, f, len, 0, max_out);
	else
		return -ENOEXEC;
	if (rc < 0)
		return rc == -ENOEXEC ? -EINVAL : rc;
	if (!is_elf(ki->elf, ki->elf_bytes)) {
		klog("kimage: decompressed %s image is not an ELF\n",
		     decompress_format_name(ki->compression));
		return -EINVAL;
	}
	return 0;
}

/* ---- Xen features ---- */

/* The names libelf's elf_xen_parse_features() knows, and only those. */
static const char *const feature_names[] = {
	[XENFEAT_writable_page_tables] = "writable_page_tables",
	[XENFEAT_writable_descriptor_tables] = "writable_descriptor_tables",
	[XENFEAT_auto_translated_physmap] = "auto_translated_physmap",
	[XENFEAT_supervisor_mode_kernel] = "supervisor_mode_kernel",
	[XENFEAT_pae_pgdir_above_4gb] = "pae_pgdir_above_4gb",
	[XENFEAT_hvm_callback_vector] = "hvm_callback_vector",
	[XENFEAT_dom0] = "dom0",
};

static void feature_set(uint32_t *map, unsigned int bit)
{
	map[bit / 32] |= 1u << (bit % 32);
}

/*
 * "name|!name|...": a name is supported, "!name" required (and supported).
 * An unknown supported name is ignored; an unknown required one fails the
 * image, since the guest would not run without it.
 */
static int parse_features(struct kimage *ki, const char *s)
{
	while (*s) {
		const char *bar = strchr(s, '|');
		size_t len = bar ? (size_t)(bar - s) : strlen(s);
		bool required = len > 0 && s[0] == '!';
		const char *name = s + required;
		size_t name_len = len - required;
		size_t i;

		for (i = 0; i < ARRAY_SIZE(feature_names); i++)
			if (feature_names[i] &&
			    strlen(feature_names[i]) == name_len &&
			    memcmp(feature_names[i], name, name_len) == 0)
				break;
		if (i < ARRAY_SIZE(feature_names)) {
			feature_set(ki->features_supported, (unsigned int)i);
			if (required)
				feature_set(ki->features_required,
					    (unsigned int)i);
		} else if (required) {
			klog("kimage: image requires unknown feature \"%.*s\"\n",
			     (int)(name_len > 64 ? 64 : name_len), name);
			return -EINVAL;
		}
		s += len + (bar != NULL);
	}
	return 0;
}

/* ---- Xen ELF notes ---- */

struct note {
	uint32_t type;
	const uint8_t *desc;
	uint32_t descsz;
	uint64_t desc_room; /* bytes from desc to the end of the ELF */
};

/* libelf's elf_note_numeric(): 1, 2, 4 or 8 bytes, else 0. */
static uint64_t note_numeric(const struct note *n)
{
	switch (n->descsz) {
	case 1: return n->desc[0];
	case 2: return rd16(n->desc, 0);
	case 4: return rd32(n->desc, 0);
	case 8: return rd64(n->desc, 0);
	}
	return 0;
}

/*
 * The note's string, or NULL if no NUL ends it before the end of the ELF.
 * As libelf's elf_strval(), the NUL may lie past descsz: Linux's FEATURES
 * note is 41 characters with descsz 41, ended by the padding.
 */
static const char *note_string(const struct note *n)
{
	if (!memchr(n->desc, '\0', (size_t)n->desc_room))
		return NULL;
	return (const char *)n->desc;
}

static int parse_note(struct kimage *ki, const struct note *n)
{
	const char *str = NULL;
	uint64_t val;

	switch (n->type) {
	case XEN_ELFNOTE_XEN_VERSION:
	case XEN_ELFNOTE_GUEST_OS:
	case XEN_ELFNOTE_GUEST_VERSION:
	case XEN_ELFNOTE_LOADER:
	case XEN_ELFNOTE_PAE_MODE:
	case XEN_ELFNOTE_FEATURES:
	case XEN_ELFNOTE_BSD_SYMTAB:
		str = note_string(n);
		if (!str)
			return 0; /* libelf skips an unterminated string */
		break;
	}
	val = note_numeric(n);

	switch (n->type) {
	case XEN_ELFNOTE_ENTRY:
		ki->entry = val;
		break;
	case XEN_ELFNOTE_HYPERCALL_PAGE:
		ki->hypercall_page = val;
		break;
	case XEN_ELFNOTE_VIRT_BASE:
		ki->virt_base = val;
		break;
	case XEN_ELFNOTE_PADDR_OFFSET:
		ki->paddr_offset = val;
		break;
	case XEN_ELFNOTE_INIT_P2M:
		ki->init_p2m = val;
		break;
	case XEN_ELFNOTE_HV_START_LOW:
		ki->hv_start_low = val;
		break;
	case XEN_ELFNOTE_MOD_START_PFN:
		ki->mod_start_pfn = val != 0;
		break;
	case XEN_ELFNOTE_SUSPEND_CANCEL:
		ki->suspend_cancel = val != 0;
		break;
	case XEN_ELFNOTE_PHYS32_ENTRY:
		ki->phys32_entry = val;
		break;
	case XEN_ELFNOTE_XEN_VERSION:
		copy_str(ki->xen_version, sizeof(ki->xen_version), str);
		break;
	case XEN_ELFNOTE_GUEST_OS:
		copy_str(ki->guest_os, sizeof(ki->guest_os), str);
		break;
	case XEN_ELFNOTE_GUEST_VERSION:
		copy_str(ki->guest_version, sizeof(ki->guest_version), str);
		break;
	case XEN_ELFNOTE_LOADER:
		copy_str(ki->loader, sizeof(ki->loader), str);
		break;
	case XEN_ELFNOTE_BSD_SYMTAB:
		ki->bsd_symtab = strcmp(str, "yes") == 0;
		break;
	case XEN_ELFNOTE_FEATURES:
		return parse_features(ki, str);
	case XEN_ELFNOTE_SUPPORTED_FEATURES:
		/* A bitmap of 32-bit words (libelf's elf_note_numeric_array). */
		for (uint32_t i = 0; i < XENFEAT_NR_SUBMAPS; i++)
			if (n->descsz % 4 == 0 && i < n->descsz / 4)
				ki->features_supported[i] |=
					rd32(n->desc, 4 * (uint64_t)i);
		break;
	default:
		/* PAE_MODE (32-bit only), L1_MFN_VALID, unknown types. */
		break;
	}
	return 0;
}

/*
 * Walks the notes in elf[off, off + size): each is namesz, descsz, type
 * (le32), then the name and the descriptor, each padded to 4 bytes.  Counts
 * the Xen notes parsed into *xen_notes.
 */
static int parse_notes(struct kimage *ki, uint64_t off, uint64_t size,
		       unsigned int *total, unsigned int *xen_notes)
{
	const uint8_t *e = ki->elf;
	uint64_t end = off + size, pos = off;

	while (pos < end && end - pos >= 12) {
		uint32_t namesz = rd32(e, pos), descsz = rd32(e, pos + 4);
		uint64_t name_off = pos + 12;
		uint64_t desc_off = name_off + ALIGN_UP((uint64_t)namesz, 4);
		uint64_t next = desc_off + ALIGN_UP((uint64_t)descsz, 4);
		struct note n;
		int rc;

		/*
		 * Both padded sizes are < 2^33, so nothing here wraps.  The
		 * last note's padding may run past the end, as libelf allows.
		 */
		if (desc_off > end || desc_off + descsz > end) {
			klog("kimage: ELF note at %#llx overruns its segment\n",
			     (unsigned long long)pos);
			return -EINVAL;
		}
		if (++*total > MAX_TOTAL_NOTES) {
			klog("kimage: too many ELF notes\n");
			return -EINVAL;
		}
		if (namesz == 4 && memcmp(e + name_off, "Xen", 4) == 0) {
			n.type = rd32(e, pos + 8);
			n.desc = e + desc_off;
			n.descsz = descsz;
			n.desc_room = ki->elf_bytes - desc_off;
			rc = parse_note(ki, &n);
			if (rc < 0)
				return rc;
			++*xen_notes;
		}
		pos = next;
	}
	return 0;
}

/* ---- the legacy __xen_guest section ---- */

static uint64_t guest_info_number(const char *value)
{
	return strtoull(value, NULL, 0);
}

/*
 * "NAME=value,NAME=value,...", as libelf's elf_xen_parse_guest_info():
 * names over 31 and values over 127 characters are cut there.
 */
static int parse_guest_info(struct kimage *ki, const char *s, size_t len)
{
	size_t pos = 0;
	int rc = 0;

	ki->legacy_guest_info = true;
	while (pos < len && s[pos]) {
		char name[32] = "", value[128] = "";
		size_t n = 0;

		while (pos < len && s[pos] && s[pos] != ',' && s[pos] != '=') {
			if (n < sizeof(name) - 1)
				name[n++] = s[pos];
			pos++;
		}
		if (pos < len && s[pos] == '=') {
			pos++;
			n = 0;
			while (pos < len && s[pos] && s[pos] != ',') {
				if (n < sizeof(value) - 1)
					value[n++] = s[pos];
				pos++;
			}
		}
		if (pos < len && s[pos] == ',')
			pos++;

		if (!strcmp(name, "LOADER"))
			copy_str(ki->loader, sizeof(ki->loader), value);
		else if (!strcmp(name, "GUEST_OS"))
			copy_str(ki->guest_os, sizeof(ki->guest_os), value);
		else if (!strcmp(name, "GUEST_VER"))
			copy_str(ki->guest_version, sizeof(ki->guest_version),
				 value);
		else if (!strcmp(name, "XEN_VER"))
			copy_str(ki->xen_version, sizeof(ki->xen_version),
				 value);
		else if (!strcmp(name, "BSD_SYMTAB"))
			ki->bsd_symtab = true;
		else if (!strcmp(name, "VIRT_BASE"))
			ki->virt_base = guest_info_number(value);
		else if (!strcmp(name, "VIRT_ENTRY"))
			ki->entry = guest_info_number(value);
		else if (!strcmp(name, "ELF_PADDR_OFFSET"))
			ki->paddr_offset = guest_info_number(value);
		else if (!strcmp(name, "HYPERCALL_PAGE"))
			ki->hypercall_page = guest_info_number(value) << 12;
		else if (!strcmp(name, "FEATURES") && rc == 0)
			rc = parse_features(ki, value);
	}
	/* Here HYPERCALL_PAGE is a page number relative to VIRT_BASE. */
	if (ki->virt_base != KIMAGE_UNSET && ki->hypercall_page != KIMAGE_UNSET)
		ki->hypercall_page += ki->virt_base;
	return rc;
}

/* ---- section headers ---- */

struct sections {
	uint64_t off;     /* of the header table; 0 if none */
	unsigned int count;
	uint64_t strtab_off, strtab_size; /* section names; size 0 if none */
};

static uint64_t shdr(const struct sections *sh, unsigned int i)
{
	return sh->off + (uint64_t)i * SHDR_BYTES;
}

/* Section i's file range, if it has one inside the ELF. */
static bool section_range(const struct kimage *ki, const struct sections *sh,
			  unsigned int i, uint64_t *off, uint64_t *size)
{
	uint64_t h = shdr(sh, i);

	if (rd32(ki->elf, h + SH_TYPE) == SHT_NOBITS)
		return false;
	*off = rd64(ki->elf, h + SH_OFFSET);
	*size = rd64(ki->elf, h + SH_SIZE);
	return in_bounds(*off, *size, ki->elf_bytes);
}

static bool section_named(const struct kimage *ki, const struct sections *sh,
			  unsigned int i, const char *want)
{
	uint64_t name = rd32(ki->elf, shdr(sh, i) + SH_NAME);
	size_t len = strlen(want) + 1;

	return in_bounds(name, len, sh->strtab_size) &&
	       memcmp(ki->elf + sh->strtab_off + name, want, len) == 0;
}

static int find_sections(struct kimage *ki, struct sections *sh)
{
	const uint8_t *e = ki->elf;
	uint64_t off = rd64(e, E_SHOFF);
	unsigned int count = rd16(e, E_SHNUM), strndx = rd16(e, E_SHSTRNDX);

	memset(sh, 0, sizeof(*sh));
	/* No table, or an extended count (SHN_XINDEX games): no sections. */
	if (off == 0 || count == 0)
		return 0;
	if (rd16(e, E_SHENTSIZE) != SHDR_BYTES ||
	    !in_bounds(off, (uint64_t)count * SHDR_BYTES, ki->elf_bytes)) {
		klog("kimage: ELF section header table out of bounds\n");
		return -EINVAL;
	}
	sh->off = off;
	sh->count = count;
	if (strndx < count &&
	    !section_range(ki, sh, strndx, &sh->strtab_off, &sh->strtab_size))
		sh->strtab_size = 0;
	return 0;
}

/* ---- checks, as libelf's elf_xen_note_check and addr_calc_check ---- */

static int check_notes(const struct kimage *ki)
{
	if (strncmp(ki->loader, "generic", 7) != 0 &&
	    strncmp(ki->guest_os, "linux", 5) != 0) {
		klog("kimage: will only load images for the generic loader or Linux (not \"%s\"/\"%s\")\n",
		     ki->loader, ki->guest_os);
		return -EINVAL;
	}
	if (strncmp(ki->xen_version, "xen-3.0", 7) != 0) {
		klog("kimage: image is built for \"%s\", not xen-3.0\n",
		     ki->xen_version);
		return -EINVAL;
	}
	if (ki->features_required[XENFEAT_dom0 / 32] & (1u << (XENFEAT_dom0 % 32))) {
		klog("kimage: kernel does not support unprivileged (domU) operation\n");
		return -EINVAL;
	}
	return 0;
}

static int calc_addresses(struct kimage *ki, uint64_t pstart, uint64_t pend,
			  uint64_t e_entry)
{
	if (ki->paddr_offset != KIMAGE_UNSET && ki->virt_base == KIMAGE_UNSET) {
		klog("kimage: PADDR_OFFSET set but VIRT_BASE unset\n");
		return -EINVAL;
	}
	if (ki->virt_base == KIMAGE_UNSET)
		ki->virt_base = 0;
	/* Old hypervisors set p_paddr to virt_base for __xen_guest images. */
	if (ki->paddr_offset == KIMAGE_UNSET)
		ki->paddr_offset = ki->legacy_guest_info ? ki->virt_base : 0;
	ki->virt_offset = ki->virt_base - ki->paddr_offset;
	ki->virt_kstart = pstart + ki->virt_offset;
	ki->virt_kend = pend + ki->virt_offset;
	if (ki->entry == KIMAGE_UNSET)
		ki->entry = e_entry;

	if (ki->virt_kstart > ki->virt_kend || ki->entry < ki->virt_kstart ||
	    ki->entry > ki->virt_kend || ki->virt_base > ki->virt_kstart) {
		klog("kimage: ELF start or entry out of bounds (base %#llx, [%#llx, %#llx), entry %#llx)\n",
		     (unsigned long long)ki->virt_base,
		     (unsigned long long)ki->virt_kstart,
		     (unsigned long long)ki->virt_kend,
		     (unsigned long long)ki->entry);
		return -EINVAL;
	}
	if (ki->virt_kend - ki->virt_kstart > KIMAGE_MAX_SPAN_BYTES) {
		klog("kimage: image spans %llu MiB, over the %llu MiB limit\n",
		     (unsigned long long)((ki->virt_kend - ki->virt_kstart) >> 20),
		     KIMAGE_MAX_SPAN_BYTES >> 20);
		return -EFBIG;
	}
	if (ki->init_p2m != KIMAGE_UNSET && ki->init_p2m >= ki->virt_kstart &&
	    ki->init_p2m < ki->virt_kend) {
		klog("kimage: INIT_P2M %#llx lies inside the kernel\n",
		     (unsigned long long)ki->init_p2m);
		return -EINVAL;
	}
	/*
	 * Stricter than libelf, which leaves it to the builder: the builder
	 * writes the hypercall page here, so it must be a page of the image.
	 */
	if (ki->hypercall_page != KIMAGE_UNSET &&
	    (ki->hypercall_page % KIMAGE_PAGE_BYTES ||
	     ki->hypercall_page < ki->virt_kstart ||
	     ki->virt_kend - ki->hypercall_page < KIMAGE_PAGE_BYTES)) {
		klog("kimage: HYPERCALL_PAGE %#llx is not a page of the image\n",
		     (unsigned long long)ki->hypercall_page);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < ki->nr_segments; i++)
		ki->segments[i].vaddr = ki->segments[i].paddr + ki->virt_offset;
	return 0;
}

/* ---- the ELF ---- */

static int check_ehdr(const struct kimage *ki)
{
	const uint8_t *e = ki->elf;

	if (ki->elf_bytes < EHDR_BYTES) {
		klog("kimage: ELF shorter than its header\n");
		return -EINVAL;
	}
	if (e[4] == ELFCLASS32) {
		/* grub-i386-xen.bin sits beside grub-x86_64-xen.bin: say which. */
		klog("kimage: a 32-bit ELF (ELFCLASS32): keel builds 64-bit PV guests only "
		     "(PV GRUB: grub-x86_64-xen.bin)\n");
		return -EINVAL;
	}
	if (e[4] != ELFCLASS64 || e[5] != ELFDATA2LSB || e[6] != 1 ||
	    rd16(e, E_MACHINE) != EM_X86_64 || rd32(e, E_VERSION) != 1) {
		klog("kimage: not a little-endian x86_64 ELF64\n");
		return -EINVAL;
	}
	if (rd16(e, E_TYPE) != ET_EXEC) {
		klog("kimage: ELF type %u is not ET_EXEC\n", rd16(e, E_TYPE));
		return -EINVAL;
	}
	if (rd16(e, E_EHSIZE) < EHDR_BYTES) {
		klog("kimage: ELF header size %u too small\n", rd16(e, E_EHSIZE));
		return -EINVAL;
	}
	return 0;
}

/*
 * Checks the program headers, records the loadable ones (libelf's
 * elf_phdr_is_loadable(): PT_LOAD with any of R, W, X) and their paddr
 * bounds.
 */
static int collect_segments(struct kimage *ki, uint64_t *pstart,
			    uint64_t *pend)
{
	const uint8_t *e = ki->elf;
	uint64_t phoff = rd64(e, E_PHOFF);
	unsigned int phnum = rd16(e, E_PHNUM);

	if (phnum == 0 || rd16(e, E_PHENTSIZE) != PHDR_BYTES ||
	    !in_bounds(phoff, (uint64_t)phnum * PHDR_BYTES, ki->elf_bytes)) {
		klog("kimage: ELF program header table missing or out of bounds\n");
		return -EINVAL;
	}
	*pstart = ~0ull;
	*pend = 0;
	for (unsigned int i = 0; i < phnum; i++) {
		uint64_t ph = phoff + (uint64_t)i * PHDR_BYTES;
		struct kimage_segment *s;

		if (rd32(e, ph + P_TYPE) != PT_LOAD ||
		    !(rd32(e, ph + P_FLAGS) & PF_RWX))
			continue;
		if (ki->nr_segments == KIMAGE_MAX_SEGMENTS) {
			klog("kimage: more than %u loadable segments\n",
			     KIMAGE_MAX_SEGMENTS);
			return -EINVAL;
		}
		s = &ki->segments[ki->nr_segments++];
		s->flags = rd32(e, ph + P_FLAGS);
		s->file_offset = rd64(e, ph + P_OFFSET);
		s->elf_vaddr = rd64(e, ph + P_VADDR);
		s->paddr = rd64(e, ph + P_PADDR);
		s->filesz = rd64(e, ph + P_FILESZ);
		s->memsz = rd64(e, ph + P_MEMSZ);
		if (s->filesz > s->memsz ||
		    !in_bounds(s->file_offset, s->filesz, ki->elf_bytes) ||
		    s->paddr + s->memsz < s->paddr) {
			klog("kimage: ELF segment %u out of bounds\n", i);
			return -EINVAL;
		}
		*pstart = MIN(*pstart, s->paddr);
		*pend = MAX(*pend, s->paddr + s->memsz);
	}
	if (ki->nr_segments == 0) {
		klog("kimage: ELF has no loadable segment\n");
		return -EINVAL;
	}
	return 0;
}

static int find_xen_info(struct kimage *ki, unsigned int *xen_notes)
{
	const uint8_t *e = ki->elf;
	uint64_t phoff = rd64(e, E_PHOFF), off, size;
	unsigned int phnum = rd16(e, E_PHNUM), total = 0;
	struct sections sh;
	int rc;

	*xen_notes = 0;
	for (unsigned int i = 0; i < phnum; i++) {
		uint64_t ph = phoff + (uint64_t)i * PHDR_BYTES;

		if (rd32(e, ph + P_TYPE) != PT_NOTE)
			continue;
		off = rd64(e, ph + P_OFFSET);
		size = rd64(e, ph + P_FILESZ);
		/* Some binutils leave p_offset 0 in note segments: skip. */
		if (off == 0)
			continue;
		if (!in_bounds(off, size, ki->elf_bytes)) {
			klog("kimage: ELF note segment %u out of bounds\n", i);
			return -EINVAL;
		}
		rc = parse_notes(ki, off, size, &total, xen_notes);
		if (rc < 0)
			return rc;
	}
	rc = find_sections(ki, &sh);
	if (rc < 0 || *xen_notes)
		return rc;

	/* No Xen notes in note segments: try note sections. */
	for (unsigned int i = 1; i < sh.count; i++) {
		if (rd32(e, shdr(&sh, i) + SH_TYPE) != SHT_NOTE)
			continue;
		if (!section_range(ki, &sh, i, &off, &size)) {
			klog("kimage: ELF note section %u out of bounds\n", i);
			return -EINVAL;
		}
		rc = parse_notes(ki, off, size, &total, xen_notes);
		if (rc < 0)
			return rc;
	}
	if (*xen_notes)
		return 0;

	/* Finally the pre-3.0.4 string section. */
	for (unsigned int i = 1; i < sh.count; i++) {
		if (!section_named(ki, &sh, i, "__xen_guest"))
			continue;
		if (!section_range(ki, &sh, i, &off, &size))
			return -EINVAL;
		return parse_guest_info(ki, (const char *)e + off, (size_t)size);
	}
	return 0;
}

static int parse_elf(struct kimage *ki)
{
	uint64_t pstart, pend;
	unsigned int xen_notes;
	int rc;

	rc = check_ehdr(ki);
	if (rc < 0)
		return rc;
	rc = collect_segments(ki, &pstart, &pend);
	if (rc < 0)
		return rc;
	rc = find_xen_info(ki, &xen_notes);
	if (rc < 0)
		return rc;
	if (!xen_notes && !ki->legacy_guest_info) {
		klog("kimage: not a Xen ELF image: no Xen notes or __xen_guest section\n");
		return -EINVAL;
	}
	rc = check_notes(ki);
	if (rc < 0)
		return rc;
	return calc_addresses(ki, pstart, pend, rd64(ki->elf, E_ENTRY));
}

int kimage_parse(struct kimage *ki, const void *file, size_t file_bytes,
		 size_t max_elf_bytes)
{
	int rc;

	memset(ki, 0, sizeof(*ki));
	ki->virt_base = ki->paddr_offset = ki->entry = KIMAGE_UNSET;
	ki->hypercall_page = ki->init_p2m = KIMAGE_UNSET;
	ki->hv_start_low = ki->phys32_entry = KIMAGE_UNSET;
	rc = unwrap(ki, file, file_bytes,
		    max_elf_bytes ? max_elf_bytes : KIMAGE_MAX_ELF_BYTES);
	if (rc == 0)
		rc = parse_elf(ki);
	if (rc < 0)
		kimage_free(ki);
	return rc;
}

void kimage_free(struct kimage *ki)
{
	kfree(ki->owned);
	memset(ki, 0, sizeof(*ki));
}

/* ---- loading ---- */

/* Copies (src) or zeroes (src NULL) len bytes at guest vaddr, page by page. */
static int put(void *(*map)(void *, uint64_t, size_t), void *ctx,
	       uint64_t vaddr, const uint8_t *src, uint64_t len)
{
	while (len) {
		size_t n = (size_t)MIN(len, KIMAGE_PAGE_BYTES -
					     vaddr % KIMAGE_PAGE_BYTES);
		uint8_t *dst = map(ctx, vaddr, n);

		if (!dst)
			return -EFAULT;
		if (src) {
			memcpy(dst, src, n);
			src += n;
		} else {
			memset(dst, 0, n);
		}
		vaddr += n;
		len -= n;
	}
	return 0;
}

int kimage_load(const struct kimage *ki,
		void *(*map)(void *ctx, uint64_t vaddr, size_t len), void *ctx)
{
	int rc;

	/* Zero everything first so gaps and bss read as zero, then copy. */
	rc = put(map, ctx, ki->virt_kstart, NULL,
		 ki->virt_kend - ki->virt_kstart);
	for (unsigned int i = 0; rc == 0 && i < ki->nr_segments; i++) {
		const struct kimage_segment *s = &ki->segments[i];

		rc = put(map, ctx, s->vaddr, ki->elf + s->file_offset,
			 s->filesz);
	}
	return rc;
}

struct flat {
	uint8_t *dst;
	uint64_t vaddr;
};

static void *flat_map(void *ctx, uint64_t vaddr, size_t len)
{
	struct flat *f = ctx;

	(void)len;
	return f->dst + (vaddr - f->vaddr);
}

int kimage_load_flat(const struct kimage *ki, void *dst, uint64_t dst_vaddr,
		     size_t dst_bytes)
{
	struct flat f = { dst, dst_vaddr };

	if (ki->virt_kstart < dst_vaddr ||
	    ki->virt_kend - dst_vaddr > dst_bytes)
		return -ERANGE;
	return kimage_load(ki, flat_map, &f);
}

void kimage_log(const struct kimage *ki)
{
	klog("kimage: %s%s%s ELF, %zu bytes, %u segments\n",
	     ki->bzimage ? "bzImage, " : "",
	     ki->compression ? decompress_format_name(ki->compression) : "plain",
	     ki->compression ? "-compressed" : "", ki->elf_bytes,
	     ki->nr_segments);
	klog("kimage: loader \"%s\" guest_os \"%s\" %s xen \"%s\"%s\n",
	     ki->loader, ki->guest_os, ki->guest_version, ki->xen_version,
	     ki->legacy_guest_info ? " (__xen_guest)" : "");
	klog("kimage: virt_base %#llx paddr_offset %#llx kernel [%#llx, %#llx) entry %#llx\n",
	     (unsigned long long)ki->virt_base,
	     (unsigned long long)ki->paddr_offset,
	     (unsigned long long)ki->virt_kstart,
	     (unsigned long long)ki->virt_kend, (unsigned long long)ki->entry);
	klog("kimage: hypercall_page %#llx init_p2m %#llx features supported %#x required %#x%s\n",
	     (unsigned long long)ki->hypercall_page,
	     (unsigned long long)ki->init_p2m, ki->features_supported[0],
	     ki->features_required[0],
	     ki->mod_start_pfn ? " mod_start_pfn" : "");
}
