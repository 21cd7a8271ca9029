/*
 * The xl.cfg parser: turns a domain configuration file, as `xl create` reads
 * it, into a struct domain_config for the domain builder.  It owns the syntax
 * (xl's libxlu grammar), the meaning of the keys keel supports and their
 * validation; it does not touch files, xenstore or hypercalls.  Pure: the
 * same source runs in the kernel, in host unit tests and under libFuzzer.
 *
 * Syntax, as libxlu parses it (xl.cfg(5)):
 *   file      := { [ KEY ("=" | "+=") VALUE ] (NEWLINE | ";") } [ KEY "=" VALUE ]
 *   VALUE     := STRING | NUMBER | "[" newlines [ item { "," newlines item } [ "," ] ] "]"
 *   item      := VALUE newlines           (lists nest; newlines inside are free)
 *   KEY       := [a-z][a-z0-9_]*          NUMBER := [0-9][0-9a-fx]*
 *   STRING    := "..." or '...' on one line, with C escapes \n \t \\ \" \' \xHH \ooo ...
 *   "#" starts a comment that runs to the end of the line.
 * A NUMBER and a STRING are the same to a key: memory = "256" is memory = 256,
 * and integers are read like strtol(s, NULL, 0) (so 0x100 and octal 0400 work).
 * A key given twice: the later one wins.  "+=" appends to the earlier value
 * (string to string, list to list).  Whatever the first error, parsing stops
 * there and err holds one line "FILE:LINE: message" (without a newline):
 *   syntax:   FILE:3: config parsing error near `banana': syntax error, unexpected
 *             IDENT, expecting STRING or NUMBER or '['      (xl's exact text)
 *   lexical:  FILE:3: config parsing error near `-5': lexical error
 *   meaning:  FILE:3: memory: `-5' is not a positive number of MiB
 * An error about something missing (no name, no kernel) names the last line.
 *
 * Keys.  keel builds PV guests without graphics or device models, so:
 *   accepted and stored:
 *     name uuid memory maxmem vcpus maxvcpus kernel ramdisk cmdline extra root
 *     on_poweroff on_reboot on_crash on_watchdog on_soft_reset type builder
 *     disk vif max_grant_frames max_maptrack_frames
 *   accepted and ignored (they change nothing for such a guest; xl ignores them
 *   too for PV, or they are xm leftovers xl never read):
 *     serial (an HVM emulated UART), dhcp (xm), nomigrate (keel never
 *     migrates), vnc = 0, sdl = 0, and these device lists when empty:
 *     vfb vkb pci vtpm channel usbctrl usbdev p9 vdispl vsnd iomem ioports irqs
 *   rejected with "... is not supported by keel" (they would change the guest):
 *     type = "hvm"/"pvh", builder = "hvm", bootloader, bootloader_args,
 *     vnc/sdl other than 0, a non-empty list above, cpus, cpus_soft,
 *     cpu_weight, cap, seclabel, gatewaydev vifs
 *   anything else: "unknown parameter" error.
 * Defaults, as xl: memory 128 MiB, maxmem = memory, vcpus 1, maxvcpus =
 * vcpus, on_poweroff destroy, on_reboot restart, on_crash destroy,
 * on_watchdog destroy, on_soft_reset soft-reset.  name and kernel are required.
 * The kernel command line: cmdline if given (root and extra are then ignored,
 * as xl does), else "root=ROOT EXTRA", "root=ROOT" or "EXTRA".
 *
 * disk entries follow xl-disk-configuration(5): key=value parameters (target=,
 * format=, vdev=, access=, devtype=, backendtype=, backend=, script=, cdrom)
 * and positional ones <target>,<format>,<vdev>,<access>, where an old
 * "phy:"/"file:"/"aio:"/"tap:"... prefix on the target means the format was
 * left out ('phy:/dev/loop0,xvda,w'); "raw:"/"qcow2:" prefixes set it.
 * vif entries are key=value lists: mac, bridge, ip, rate, script, vifname,
 * backend, model, type, mtu, devid (see struct xlcfg_vif).
 */
#ifndef KEEL_XLCFG_H
#define KEEL_XLCFG_H

#include <lib/base.h>

/* Bounds on what one file may hold; past them parsing fails cleanly. */
/* Where Debian's grub-xen-host puts PV GRUB, and keel's boot archive too. */
#define KEEL_PVGRUB_HINT "/usr/lib/grub-xen/grub-x86_64-xen.bin"
#define XLCFG_MAX_FILE_BYTES (128 * 1024)
#define XLCFG_MAX_LINE_BYTES 4096
#define XLCFG_MAX_SETTINGS 256
#define XLCFG_MAX_LIST_ITEMS 256
#define XLCFG_MAX_LIST_DEPTH 8
#define XLCFG_MAX_NAME_BYTES 64     /* domain name, without the NUL */
#define XLCFG_MAX_CMDLINE_BYTES 1023 /* start_info.cmd_line[MAX_GUEST_CMDLINE] */
#define XLCFG_MAX_VCPUS 4096
#define XLCFG_MAX_MEMORY_MIB (16ull * 1024 * 1024) /* 16 TiB */

#define XLCFG_DEFAULT_MEMORY_MIB 128

/* What to do with a domain that shut down for a reason (libxl_action_on_shutdown). */
enum xlcfg_action {
	XLCFG_ACTION_DESTROY,
	XLCFG_ACTION_RESTART,
	XLCFG_ACTION_RENAME_RESTART,
	XLCFG_ACTION_PRESERVE,
	XLCFG_ACTION_COREDUMP_DESTROY,
	XLCFG_ACTION_COREDUMP_RESTART,
	XLCFG_ACTION_SOFT_RESET,
};

enum xlcfg_disk_format {
	XLCFG_DISK_FORMAT_RAW,
	XLCFG_DISK_FORMAT_QCOW,
	XLCFG_DISK_FORMAT_QCOW2,
	XLCFG_DISK_FORMAT_VHD,
	XLCFG_DISK_FORMAT_QED,
	XLCFG_DISK_FORMAT_EMPTY,    /* a cdrom drive with no medium */
};

enum xlcfg_disk_backendtype {
	XLCFG_DISK_BACKENDTYPE_UNSET,   /* let the toolstack choose */
	XLCFG_DISK_BACKENDTYPE_PHY,
	XLCFG_DISK_BACKENDTYPE_TAP,
	XLCFG_DISK_BACKENDTYPE_QDISK,
	XLCFG_DISK_BACKENDTYPE_STANDALONE,
};

struct xlcfg_disk {
	char *target;           /* backing path; "" for an empty cdrom */
	char *vdev;             /* as written: "xvda", "hdc", "sdb1", "d0p1" */
	uint32_t devid;         /* vdev as a Xen virtual device number (vbd-interface) */
	enum xlcfg_disk_format format;
	enum xlcfg_disk_backendtype backendtype;
	char *backend;          /* backend domain name, NULL: dom0 */
	char *script;           /* hotplug script, NULL: none */
	bool readwrite;
	bool cdrom;
	int line;
};

#define XLCFG_VIF_MAX_IPS 4          /* as struct net_port holds */
#define XLCFG_VIF_NOTE_BYTES 192
#define XLCFG_VIF_DEFAULT_BRIDGE "xenbr0"
#define XLCFG_VIF_DEFAULT_RATE_INTERVAL_USECS 50000  /* xl: 50 ms */

/*
 * One vif = [ ... ] entry (xl-network-configuration(5)).  Keys:
 *   mac=XX:XX:XX:XX:XX:XX   6 hex pairs, unicast (00:00:00:00:00:00 means
 *                           unset, as in libxl); unset: the toolstack uses
 *                           xlcfg_vif_default_mac
 *   bridge=NAME             default xenbr0
 *   ip="A.B.C.D A.B.C.D"    up to XLCFG_VIF_MAX_IPS IPv4 addresses the guest
 *                           may send from (anti-spoofing)
 *   rate=RATE/s[@INTERVAL]  xl's syntax: RATE digits with an optional G/M/K
 *                           (powers of 1000) and B (bytes) or b (bits);
 *                           INTERVAL digits with us, ms, s (or m, u; none:
 *                           seconds), default 50 ms; stored as bytes per
 *                           interval (credit-based, as netback does); a
 *                           rate that gives 0 bytes per interval is refused
 *   type=vif | ioemu        ioemu is a PV vif here too (with a note)
 *   script=, model=         accepted and ignored, with a note
 *   vifname=, backend=, mtu=, devid=, accel=  as xl (accel ignored)
 *   gatewaydev=, netdev=, forwarddev=  "not supported by keel"
 *   anything else           "unknown parameter"
 */
struct xlcfg_vif {
	uint8_t mac[6];
	bool mac_set;           /* false: the toolstack picks 00:16:3e:xx:xx:xx */
	char *bridge;           /* never NULL after parsing: default xenbr0 */
	char *ip;               /* as written, NULL when not given */
	uint32_t ips[XLCFG_VIF_MAX_IPS];   /* ip= parsed, IPv4 network byte order */
	unsigned int nr_ips;
	uint64_t rate_bytes_per_interval;  /* 0: no rate limit; else >= 1 */
	uint32_t rate_interval_usecs;      /* 0 when no rate limit */
	char *script;           /* kept to show; keel runs no hotplug script */
	char *vifname;
	char *backend;
	char *model;
	unsigned int mtu;       /* 0: default */
	int devid;              /* -1: next free */
	int line;
	/* What was accepted but ignored, for the toolstack to print: one line,
	 * "" when nothing was. */
	char note[XLCFG_VIF_NOTE_BYTES];
};

/* Unknown keys remembered for the caller's warnings (the rest are counted). */
#define XLCFG_MAX_UNKNOWN_KEPT 8

/* A key xl does not know: ignored, as xl ignores it, with its line kept. */
struct xlcfg_unknown_key {
	char key[64];           /* truncated to fit; an identifier, printable */
	int line;
};

struct domain_config {
	char *name;
	char *uuid;             /* NULL when not given; else lower-case, 36 chars */
	uint8_t uuid_bytes[16];
	uint64_t memory_mib;
	uint64_t maxmem_mib;
	unsigned int vcpus;     /* online at boot */
	unsigned int maxvcpus;
	char *kernel;
	char *ramdisk;          /* NULL when not given */
	int kernel_line;        /* lines of those keys, for "FILE:LINE:" errors */
	int ramdisk_line;
	char *cmdline;          /* never NULL; "" when nothing was given */
	enum xlcfg_action on_poweroff;
	enum xlcfg_action on_reboot;
	enum xlcfg_action on_crash;
	enum xlcfg_action on_watchdog;
	enum xlcfg_action on_soft_reset;
	int max_grant_frames;   /* -1: Xen's default */
	int max_maptrack_frames;
	struct xlcfg_disk *disks;
	unsigned int nr_disks;
	struct xlcfg_vif *vifs;
	unsigned int nr_vifs;
	/* Keys ignored as unknown: the first XLCFG_MAX_UNKNOWN_KEPT, and a count. */
	struct xlcfg_unknown_key unknown[XLCFG_MAX_UNKNOWN_KEPT];
	unsigned int nr_unknown;
};

/*
 * Parses the len bytes at text (need not be NUL-terminated; a NUL byte is a
 * lexical error) read from filename, which only names the file in messages.
 * Returns 0 with *out filled (free it with xlcfg_free), -EINVAL with a
 * one-line message in err (always NUL-terminated when errlen > 0), or
 * -ENOMEM.  On error *out holds nothing to free.  Allocates; never sleeps.
 */
int xlcfg_parse(const char *filename, const char *text, size_t len,
		struct domain_config *out, char *err, size_t errlen);

/* Frees what xlcfg_parse allocated and zeroes *cfg.  NULL-safe, idempotent. */
void xlcfg_free(struct domain_config *cfg);

/* "destroy", "restart", ... as xl.cfg spells them. */
const char *xlcfg_action_name(enum xlcfg_action action);

/*
 * Converts a virtual disk name ("xvda", "xvdb3", "hdc", "sda1", "d0p1") to
 * the Xen virtual device number, per xen/include/public/io/blkif.h and
 * docs/misc/vbd-interface.txt.  Returns 0 or -EINVAL.
 */
int xlcfg_vdev_to_devid(const char *vdev, uint32_t *devid);

/*
 * Parses one vif spec outside a file (`network-attach DOM SPEC`), with the
 * same keys and checks as a vif = [ ... ] entry.  0 with *out filled (free
 * with xlcfg_vif_free), -EINVAL with a one-line message in err (no file or
 * line in it), or -ENOMEM.  On error *out holds nothing to free.
 */
int xlcfg_parse_vif_spec(const char *spec, struct xlcfg_vif *out, char *err, size_t errlen);

/* Frees what a vif's parse allocated and zeroes it.  NULL-safe. */
void xlcfg_vif_free(struct xlcfg_vif *v);

/*
 * The MAC a vif gets when its spec names none: 00:16:3e (Xen's OUI) and
 * three bytes of a hash of the domain name and devid, so the same config
 * gives the same MAC each time it is started (xl picks a random one).  Two
 * names can share a MAC (24 bits): the toolstack checks the bridge.
 */
void xlcfg_vif_default_mac(const char *domain_name, unsigned int devid, uint8_t mac[6]);

#endif
