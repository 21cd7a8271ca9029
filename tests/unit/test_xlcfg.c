/*
 * Host tests for the xl.cfg parser (toolstack/xlcfg.c): a realistic PV
 * config, xl's exact syntax-error text, each semantic error naming its line,
 * disk and vif specs, and hostile input.
 */
#include <lib/base.h>
#include <keel/xlcfg.h>
#include "harness.h"

static char err[512];
static struct domain_config cfg;

static int parse(const char *text)
{
	xlcfg_free(&cfg);
	return xlcfg_parse("/kt/t.cfg", text, strlen(text), &cfg, err, sizeof(err));
}

#define MIN_OK "name = \"g\"\nkernel = \"/boot/vmlinuz\"\n"

/* Parses MIN_OK + extra and expects the error message want. */
#define CHECK_ERR(text, want) \
	do { \
		CHECK_EQ(parse(text), -EINVAL); \
		CHECK_STR(err, want); \
	} while (0)

TEST(realistic_pv_config)
{
	const char *text =
		"# Debian guest made by xen-create-image\n"
		"type        = 'pv'\n"
		"name        = \"web1\"\n"
		"uuid        = \"6F1C2F6A-8B0E-4C3D-9A7B-0123456789AB\"\n"
		"kernel      = '/boot/vmlinuz-6.1.0'\n"
		"ramdisk     = '/boot/initrd.img-6.1.0'\n"
		"vcpus       = '2'\n"
		"maxvcpus    = 4\n"
		"memory      = 512\n"
		"maxmem      = 1024;\n"
		"root        = '/dev/xvda2 ro'\n"
		"extra       = 'console=hvc0 elevator=noop'\n"
		"disk        = [\n"
		"                'phy:/dev/vg0/web1-disk,xvda2,w',\n"
		"                'file:/srv/web1-swap.img,xvda1,w',  # swap\n"
		"                'format=raw, vdev=xvdb, access=ro, target=/srv/data,1.img',\n"
		"              ]\n"
		"vif         = [ 'mac=00:16:3E:4A:5B:6C,bridge=xenbr0,ip=10.0.0.5', 'bridge=xenbr1' ]\n"
		"on_poweroff = 'destroy'\n"
		"on_reboot   = 'restart'\n"
		"on_crash    = 'coredump-restart'\n"
		"dhcp        = 'dhcp'\n"
		"vfb = [ ]\n";

	CHECK_EQ(parse(text), 0);
	CHECK_STR(cfg.name, "web1");
	CHECK_STR(cfg.uuid, "6f1c2f6a-8b0e-4c3d-9a7b-0123456789ab");
	CHECK_EQ(cfg.uuid_bytes[0], 0x6f);
	CHECK_EQ(cfg.uuid_bytes[15], 0xab);
	CHECK_STR(cfg.kernel, "/boot/vmlinuz-6.1.0");
	CHECK_STR(cfg.ramdisk, "/boot/initrd.img-6.1.0");
	CHECK_EQ(cfg.vcpus, 2);
	CHECK_EQ(cfg.maxvcpus, 4);
	CHECK_EQ(cfg.memory_mib, 512);
	CHECK_EQ(cfg.maxmem_mib, 1024);
	CHECK_STR(cfg.cmdline, "root=/dev/xvda2 ro console=hvc0 elevator=noop");
	CHECK_EQ(cfg.on_poweroff, XLCFG_ACTION_DESTROY);
	CHECK_EQ(cfg.on_reboot, XLCFG_ACTION_RESTART);
	CHECK_EQ(cfg.on_crash, XLCFG_ACTION_COREDUMP_RESTART);
	CHECK_STR(xlcfg_action_name(cfg.on_crash), "coredump-restart");

	CHECK_EQ(cfg.nr_disks, 3);
	CHECK_STR(cfg.disks[0].target, "/dev/vg0/web1-disk");
	CHECK_STR(cfg.disks[0].vdev, "xvda2");
	CHECK_EQ(cfg.disks[0].devid, (202 << 8) | 2);
	CHECK(cfg.disks[0].readwrite);
	CHECK_EQ(cfg.disks[0].format, XLCFG_DISK_FORMAT_RAW);
	CHECK_EQ(cfg.disks[0].line, 14);
	CHECK_STR(cfg.disks[1].target, "/srv/web1-swap.img");
	CHECK_STR(cfg.disks[1].vdev, "xvda1");
	CHECK_EQ(cfg.disks[1].line, 15);
	CHECK_STR(cfg.disks[2].target, "/srv/data,1.img");
	CHECK_STR(cfg.disks[2].vdev, "xvdb");
	CHECK(!cfg.disks[2].readwrite);
	CHECK_EQ(cfg.disks[2].devid, (202 << 8) | (1 << 4));

	CHECK_EQ(cfg.nr_vifs, 2);
	CHECK(cfg.vifs[0].mac_set);
	CHECK_EQ(cfg.vifs[0].mac[2], 0x3e);
	CHECK_EQ(cfg.vifs[0].mac[5], 0x6c);
	CHECK_STR(cfg.vifs[0].bridge, "xenbr0");
	CHECK_STR(cfg.vifs[0].ip, "10.0.0.5");
	CHECK(!cfg.vifs[1].mac_set);
	CHECK_STR(cfg.vifs[1].bridge, "xenbr1");
	CHECK_EQ(cfg.vifs[1].devid, -1);
	xlcfg_free(&cfg);
}

TEST(defaults_as_xl)
{
	CHECK_EQ(parse(MIN_OK), 0);
	CHECK_EQ(cfg.memory_mib, 128);
	CHECK_EQ(cfg.maxmem_mib, 128);
	CHECK_EQ(cfg.vcpus, 1);
	CHECK_EQ(cfg.maxvcpus, 1);
	CHECK_EQ(cfg.on_poweroff, XLCFG_ACTION_DESTROY);
	CHECK_EQ(cfg.on_reboot, XLCFG_ACTION_RESTART);
	CHECK_EQ(cfg.on_crash, XLCFG_ACTION_DESTROY);
	CHECK(cfg.uuid == NULL);
	CHECK(cfg.ramdisk == NULL);
	CHECK_STR(cfg.cmdline, "");
	CHECK_EQ(cfg.nr_disks, 0);
	CHECK_EQ(cfg.nr_vifs, 0);
	CHECK_EQ(cfg.max_grant_frames, -1);
	/* maxmem follows memory when unset. */
	CHECK_EQ(parse(MIN_OK "memory = 300\n"), 0);
	CHECK_EQ(cfg.maxmem_mib, 300);
	xlcfg_free(&cfg);
}

TEST(banana_is_xls_exact_text)
{
	CHECK_ERR("name = \"g\"\nkernel = \"/k\"\nmemory = banana\n",
		  "/kt/t.cfg:3: config parsing error near `banana': syntax error, "
		  "unexpected IDENT, expecting STRING or NUMBER or '['");
	/* The same without a final newline. */
	CHECK_ERR("name = \"g\"\n\nmemory = banana",
		  "/kt/t.cfg:3: config parsing error near `banana': syntax error, "
		  "unexpected IDENT, expecting STRING or NUMBER or '['");
}

TEST(other_syntax_errors_bison_wording)
{
	CHECK_ERR("memory =\n",
		  "/kt/t.cfg:1: config parsing error near <newline>: syntax error, "
		  "unexpected NEWLINE, expecting STRING or NUMBER or '['");
	CHECK_ERR("memory = # none\n",
		  "/kt/t.cfg:1: config parsing error near `# none': syntax error, "
		  "unexpected NEWLINE, expecting STRING or NUMBER or '['");
	CHECK_ERR("\n\nmemory 5\n",
		  "/kt/t.cfg:3: config parsing error near `5': syntax error, "
		  "unexpected NUMBER, expecting += or '='");
	CHECK_ERR("name = \"a\" \"b\"\n",
		  "/kt/t.cfg:1: config parsing error near `\"b\"': syntax error, "
		  "unexpected STRING, expecting $end");
	CHECK_ERR("= 5\n",
		  "/kt/t.cfg:1: config parsing error near `=': syntax error, "
		  "unexpected '=', expecting $end or IDENT or NEWLINE or ';'");
	CHECK_ERR("disk = [ 'a' 'b' ]\n",
		  "/kt/t.cfg:1: config parsing error near `'b'': syntax error, "
		  "unexpected STRING, expecting ']'");
	CHECK_ERR("disk = [ 'a',\n 'b',\n",
		  "/kt/t.cfg:2: config parsing error near end of file: syntax error, "
		  "unexpected $end, expecting ']'");
	CHECK_ERR("disk = [ 'a', , ]\n",
		  "/kt/t.cfg:1: config parsing error near `,': syntax error, "
		  "unexpected ',', expecting ']'");
}

TEST(lexical_errors)
{
	CHECK_ERR(MIN_OK "memory = -5\n",
		  "/kt/t.cfg:3: config parsing error near `-5': lexical error");
	CHECK_ERR(MIN_OK "Memory = 5\n",
		  "/kt/t.cfg:3: config parsing error near `Memory': lexical error");
	CHECK_ERR(MIN_OK "kernel = \"/unterminated\n",
		  "/kt/t.cfg:3: config parsing error near `\"/unterminated': lexical error");
	CHECK_ERR(MIN_OK "extra = \"a\\qb\"\n",
		  "/kt/t.cfg:3: config parsing error near `\"a\\qb\"': invalid character after "
		  "backslash in quoted string");
}

TEST(semantic_errors_name_their_line)
{
	CHECK_ERR(MIN_OK "memory = \"-5\"\n",
		  "/kt/t.cfg:3: parameter `memory' is -5 MiB; it must be between 1 and 16777216 MiB");
	CHECK_ERR(MIN_OK "memory = 0\n",
		  "/kt/t.cfg:3: parameter `memory' is 0 MiB; it must be between 1 and 16777216 MiB");
	CHECK_ERR(MIN_OK "memory = \"lots\"\n",
		  "/kt/t.cfg:3: parameter `memory' is not a valid number: `lots'");
	CHECK_ERR(MIN_OK "memory = 12abc\n",
		  "/kt/t.cfg:3: parameter `memory' is not a valid number: `12abc'");
	CHECK_ERR(MIN_OK "memory = 99999999999999999999999\n",
		  "/kt/t.cfg:3: parameter `memory' is 99999999999999999999999 MiB; it must be "
		  "between 1 and 16777216 MiB");
	CHECK_ERR(MIN_OK "vcpus = 0\n",
		  "/kt/t.cfg:3: parameter `vcpus' is 0; it must be between 1 and 4096");
	CHECK_ERR(MIN_OK "uuid = \"6f1c2f6a-8b0e-4c3d-9a7b-0123456789a\"\n",
		  "/kt/t.cfg:3: uuid `6f1c2f6a-8b0e-4c3d-9a7b-0123456789a' is not of the form "
		  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
	CHECK_ERR(MIN_OK "uuid = \"6f1c2f6a-8b0e-4c3d-9a7b0-123456789ab\"\n",
		  "/kt/t.cfg:3: uuid `6f1c2f6a-8b0e-4c3d-9a7b0-123456789ab' is not of the form "
		  "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
	CHECK_ERR(MIN_OK "on_crash = 'explode'\n",
		  "/kt/t.cfg:3: unknown on_crash action `explode' (destroy, restart, rename-restart, "
		  "preserve, coredump-destroy, coredump-restart or soft-reset)");
	CHECK_ERR(MIN_OK "memory = [ 5 ]\n",
		  "/kt/t.cfg:3: parameter `memory' is a list but should be a single value");
	CHECK_ERR(MIN_OK "disk = 'phy:/x,xvda,w'\n",
		  "/kt/t.cfg:3: parameter `disk' is a single value but should be a list");
	CHECK_ERR(MIN_OK "memory = 256\nmaxmem = 128\n",
		  "/kt/t.cfg:4: maxmem (128 MiB) is less than memory (256 MiB)");
	CHECK_ERR(MIN_OK "vcpus = 4\nmaxvcpus = 2\n",
		  "/kt/t.cfg:4: maxvcpus (2) is less than vcpus (4)");
	CHECK_ERR(MIN_OK "memory += 5\n",
		  "/kt/t.cfg:3: can't use += with numbers for parameter `memory'");
	CHECK_ERR(MIN_OK "name = \"42\"\n",
		  "/kt/t.cfg:3: name `42' is all digits, which xl would read as a domid");
	CHECK_ERR(MIN_OK "name = \"a b\"\n",
		  "/kt/t.cfg:3: name `a b' contains a blank, control character or '/'");
	CHECK_ERR(MIN_OK "name = ''\n", "/kt/t.cfg:3: name is empty");
	CHECK_ERR(MIN_OK "kernel = ''\n", "/kt/t.cfg:3: parameter `kernel' is an empty path");
}

TEST(unknown_keys_are_ignored_with_their_line)
{
	CHECK_EQ(parse(MIN_OK "\nfoo = 1\nmemory = 64\nbar_baz = [ 'x' ]\n"), 0);
	CHECK_EQ(cfg.nr_unknown, 2u);
	CHECK_STR(cfg.unknown[0].key, "foo");
	CHECK_EQ(cfg.unknown[0].line, 4);
	CHECK_STR(cfg.unknown[1].key, "bar_baz");
	CHECK_EQ(cfg.unknown[1].line, 6);
	CHECK_EQ(cfg.memory_mib, 64u);
	/* More than are kept: all counted, the first ones remembered. */
	CHECK_EQ(parse(MIN_OK "a1=1\na2=1\na3=1\na4=1\na5=1\na6=1\na7=1\na8=1\na9=1\na10=1\n"), 0);
	CHECK_EQ(cfg.nr_unknown, 10u);
	CHECK_STR(cfg.unknown[XLCFG_MAX_UNKNOWN_KEPT - 1].key, "a8");
	/* A known key with a wrong value is still an error. */
	CHECK_ERR(MIN_OK "\nfoo = 1\nmemory = \"lots\"\n",
		  "/kt/t.cfg:5: parameter `memory' is not a valid number: `lots'");
	/* A very long unknown key is cut, never overflows. */
	char text[600];
	snprintf(text, sizeof(text), MIN_OK "%0200d = 1\n", 0);
	text[sizeof(MIN_OK) - 1] = 'k';
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.nr_unknown, 1u);
	CHECK_EQ(strlen(cfg.unknown[0].key), sizeof(cfg.unknown[0].key) - 1);
}

TEST(missing_name_and_kernel)
{
	CHECK_ERR("kernel = \"/k\"\nmemory = 64\n",
		  "/kt/t.cfg:2: no domain name: name = \"...\" is required");
	CHECK_ERR("name = \"g\"\n\n# the end\n",
		  "/kt/t.cfg:3: no kernel: kernel = \"/path\" is required (keel runs no bootloader; "
		  "PV GRUB boots from the guest's disk: kernel = \"/usr/lib/grub-xen/grub-x86_64-xen.bin\")");
	CHECK_ERR("", "/kt/t.cfg:1: no domain name: name = \"...\" is required");
}

TEST(type_and_unsupported_keys)
{
	CHECK_ERR(MIN_OK "type = \"hvm\"\n",
		  "/kt/t.cfg:3: type \"hvm\" is not supported by keel: it builds PV guests only");
	CHECK_ERR(MIN_OK "type = \"pvh\"\n",
		  "/kt/t.cfg:3: type \"pvh\" is not supported by keel: it builds PV guests only");
	CHECK_ERR(MIN_OK "type = \"xx\"\n", "/kt/t.cfg:3: unknown type `xx' (pv, pvh or hvm)");
	CHECK_ERR(MIN_OK "builder = \"hvm\"\n",
		  "/kt/t.cfg:3: builder \"hvm\" is not supported by keel: it builds PV guests only");
	CHECK_EQ(parse(MIN_OK "builder = 'generic'\n"), 0);
	CHECK_ERR(MIN_OK "bootloader = \"pygrub\"\n",
		  "/kt/t.cfg:3: parameter `bootloader' is not supported by keel: to boot from the "
		  "guest's disk use kernel = \"/usr/lib/grub-xen/grub-x86_64-xen.bin\" (PV GRUB)");
	/* Refused even with no kernel: the bootloader line is the one named. */
	CHECK_ERR("name = \"g\"\nbootloader = \"/usr/bin/pygrub\"\nbootloader_args = [ '-q' ]\n",
		  "/kt/t.cfg:2: parameter `bootloader' is not supported by keel: to boot from the "
		  "guest's disk use kernel = \"/usr/lib/grub-xen/grub-x86_64-xen.bin\" (PV GRUB)");
	CHECK_ERR(MIN_OK "vfb = [ 'vnc=1' ]\n",
		  "/kt/t.cfg:3: a non-empty `vfb' list is not supported by keel");
	CHECK_ERR(MIN_OK "vnc = 1\n",
		  "/kt/t.cfg:3: vnc = 1 is not supported by keel: it has no graphics");
	CHECK_EQ(parse(MIN_OK "vnc = 0\nsdl = 0\nserial = 'pty'\nnomigrate = 1\npci = []\n"), 0);
	xlcfg_free(&cfg);
}

TEST(cmdline_from_extra_and_root)
{
	CHECK_EQ(parse(MIN_OK "root = '/dev/xvda1'\n"), 0);
	CHECK_STR(cfg.cmdline, "root=/dev/xvda1");
	CHECK_EQ(parse(MIN_OK "extra = 'quiet'\n"), 0);
	CHECK_STR(cfg.cmdline, "quiet");
	CHECK_EQ(parse(MIN_OK "extra = 'quiet'\nroot = '/dev/xvda1 ro'\n"), 0);
	CHECK_STR(cfg.cmdline, "root=/dev/xvda1 ro quiet");
	/* cmdline wins over both, as in xl. */
	CHECK_EQ(parse(MIN_OK "extra = 'quiet'\ncmdline = 'console=hvc0'\nroot = '/dev/x'\n"), 0);
	CHECK_STR(cfg.cmdline, "console=hvc0");
	/* Escapes, += on strings, the later of two settings. */
	CHECK_EQ(parse(MIN_OK "extra = \"a\\tb\\x41\\101\"\nextra += ' c'\n"), 0);
	CHECK_STR(cfg.cmdline, "a\tbAA c");
	CHECK_EQ(parse(MIN_OK "memory = 1\nmemory = 0x100\nvcpus = 010\n"), 0);
	CHECK_EQ(cfg.memory_mib, 256);
	CHECK_EQ(cfg.vcpus, 8);
	xlcfg_free(&cfg);
}

TEST(cmdline_too_long)
{
	static char text[4096];
	int n = snprintf(text, sizeof(text), MIN_OK "extra = '");

	memset(text + n, 'x', 1020);
	snprintf(text + n + 1020, sizeof(text) - n - 1020, "'\nroot = 'abc'\n");
	CHECK_ERR(text, "/kt/t.cfg:4: the kernel command line is 1029 bytes; a PV guest takes at most 1023");
}

TEST(lists_across_lines_and_nesting)
{
	CHECK_EQ(parse(MIN_OK
		       "disk = [\n"
		       "\n"
		       "  'phy:/dev/loop0,xvda,w'   # first\n"
		       "  ,\n"
		       "  'file:/x.img,xvdb,r'\n"
		       "\n"
		       "]\n"
		       "vif = [ ] ; vcpus = 2 ;\n"), 0);
	CHECK_EQ(cfg.nr_disks, 2);
	CHECK_STR(cfg.disks[0].target, "/dev/loop0");
	CHECK_EQ(cfg.disks[0].line, 5);
	CHECK_STR(cfg.disks[1].target, "/x.img");
	CHECK_STR(cfg.disks[1].vdev, "xvdb");
	CHECK(!cfg.disks[1].readwrite);
	CHECK_EQ(cfg.disks[1].line, 7);
	CHECK_EQ(cfg.vcpus, 2);
	/* += appends lists. */
	CHECK_EQ(parse(MIN_OK "disk = [ '/a,raw,xvda' ]\ndisk += [ '/b,raw,xvdb' ]\n"), 0);
	CHECK_EQ(cfg.nr_disks, 2);
	CHECK_STR(cfg.disks[1].target, "/b");
	/* Nested lists parse, but are not disk specs. */
	CHECK_ERR(MIN_OK "disk = [ [ 'a' ] ]\n",
		  "/kt/t.cfg:3: disk entry 1 is a list but should be a string");
	CHECK_ERR(MIN_OK "disk = [ 'a' ]\ndisk += 'b'\n",
		  "/kt/t.cfg:4: config parsing error near `disk': can't add [list] to \"string\" or vice versa");
	xlcfg_free(&cfg);
}

TEST(disk_specs)
{
	struct xlcfg_disk *d;

	CHECK_EQ(parse(MIN_OK "disk = [ '/img,qcow2,hdc,r', ',,hdd:cdrom', "
		       "'vdev=xvdc, devtype=cdrom, target=/iso', 'raw:/r.img,sda1,w', "
		       "'backendtype=phy,script=block-x,/dev/sdb,raw,xvde' ]\n"), 0);
	CHECK_EQ(cfg.nr_disks, 5);
	d = &cfg.disks[0];
	CHECK_EQ(d->format, XLCFG_DISK_FORMAT_QCOW2);
	CHECK_STR(d->vdev, "hdc");
	CHECK_EQ(d->devid, (22 << 8) | 0);
	CHECK(!d->readwrite);
	d = &cfg.disks[1];
	CHECK(d->cdrom);
	CHECK_STR(d->target, "");
	CHECK_STR(d->vdev, "hdd");
	CHECK_EQ(d->format, XLCFG_DISK_FORMAT_EMPTY);
	CHECK_EQ(d->devid, (22 << 8) | (1 << 6));
	d = &cfg.disks[2];
	CHECK(d->cdrom);
	CHECK(!d->readwrite);
	CHECK_STR(d->target, "/iso");
	d = &cfg.disks[3];
	CHECK_EQ(d->format, XLCFG_DISK_FORMAT_RAW);
	CHECK_STR(d->target, "/r.img");
	CHECK_EQ(d->devid, (8 << 8) | 1);
	d = &cfg.disks[4];
	CHECK_EQ(d->backendtype, XLCFG_DISK_BACKENDTYPE_PHY);
	CHECK_STR(d->script, "block-x");
	CHECK_STR(d->target, "/dev/sdb");

	CHECK_ERR(MIN_OK "disk = [ '/x.img,xvda,w' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: unknown value for format: "
		  "near `xvda' in `/x.img,xvda,w'");
	CHECK_ERR(MIN_OK "disk = [ 'phy:/x' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: no vdev specified in `phy:/x'");
	CHECK_ERR(MIN_OK "disk = [ 'phy:/x,xvda,w,extra' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: too many positional "
		  "parameters: near `extra' in `phy:/x,xvda,w,extra'");
	CHECK_ERR(MIN_OK "disk = [ 'phy:/x,xvda,rx' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: unknown value for access: "
		  "near `rx' in `phy:/x,xvda,rx'");
	CHECK_ERR(MIN_OK "disk = [ 'color=red,phy:/x,xvda' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: unknown parameter: "
		  "near `color=red' in `color=red,phy:/x,xvda'");
	CHECK_ERR(MIN_OK "disk = [ 'foo:/x,xvda' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: unknown deprecated disk "
		  "prefix: near `foo:' in `foo:/x,xvda'");
	CHECK_ERR(MIN_OK "disk = [ 'phy:/x,xvdA' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: invalid virtual device: "
		  "near `xvdA' in `phy:/x,xvdA'");
	CHECK_ERR(MIN_OK "disk = [ 'phy:/x,xvda',\n 'phy:/y,xvda' ]\n",
		  "/kt/t.cfg:4: disk vdev `xvda' is the same device as `xvda' (line 3)");
	CHECK_ERR(MIN_OK "disk = [ 'vdev=xvda' ]\n",
		  "/kt/t.cfg:3: config parsing error in disk specification: no target specified in `vdev=xvda'");
	xlcfg_free(&cfg);
}

TEST(vdev_numbers)
{
	uint32_t id;

	CHECK_EQ(xlcfg_vdev_to_devid("xvda", &id), 0);
	CHECK_EQ(id, 51712);
	CHECK_EQ(xlcfg_vdev_to_devid("xvdb1", &id), 0);
	CHECK_EQ(id, 51729);
	CHECK_EQ(xlcfg_vdev_to_devid("xvdq", &id), 0);       /* disk 16: extended */
	CHECK_EQ(id, (1 << 28) | (16 << 8));
	CHECK_EQ(xlcfg_vdev_to_devid("xvdaa", &id), 0);      /* disk 26 */
	CHECK_EQ(id, (1 << 28) | (26 << 8));
	CHECK_EQ(xlcfg_vdev_to_devid("hda", &id), 0);
	CHECK_EQ(id, 768);
	CHECK_EQ(xlcfg_vdev_to_devid("d5p3", &id), 0);
	CHECK_EQ(id, (1 << 28) | (5 << 8) | 3);
	CHECK_EQ(xlcfg_vdev_to_devid("xvda01", &id), -EINVAL);
	CHECK_EQ(xlcfg_vdev_to_devid("hde", &id), -EINVAL);
	CHECK_EQ(xlcfg_vdev_to_devid("xvd", &id), -EINVAL);
	CHECK_EQ(xlcfg_vdev_to_devid("xvda256", &id), -EINVAL);
	CHECK_EQ(xlcfg_vdev_to_devid("nvme0", &id), -EINVAL);
}

TEST(vif_specs)
{
	CHECK_EQ(parse(MIN_OK "vif = [ 'mac=aa:bb:cc:dd:ee:0f , bridge=br0,script=vif-bridge,"
		       "vifname=web,mtu=9000,devid=3,type=vif,model=e1000', '' ]\n"), 0);
	CHECK_EQ(cfg.nr_vifs, 2);
	CHECK_EQ(cfg.vifs[0].mac[0], 0xaa);
	CHECK_EQ(cfg.vifs[0].mac[5], 0x0f);
	CHECK_STR(cfg.vifs[0].bridge, "br0");
	CHECK_STR(cfg.vifs[0].script, "vif-bridge");
	CHECK_STR(cfg.vifs[0].vifname, "web");
	CHECK_EQ(cfg.vifs[0].mtu, 9000);
	CHECK_EQ(cfg.vifs[0].devid, 3);
	CHECK(!cfg.vifs[1].mac_set);
	CHECK_ERR(MIN_OK "vif = [ 'mac=00:16:3e:00:00' ]\n",
		  "/kt/t.cfg:3: vif specification `mac=00:16:3e:00:00': invalid MAC address `00:16:3e:00:00'");
	CHECK_ERR(MIN_OK "vif = [ 'mac=00:16:3g:00:00:01' ]\n",
		  "/kt/t.cfg:3: vif specification `mac=00:16:3g:00:00:01': invalid MAC address "
		  "`00:16:3g:00:00:01'");
	CHECK_ERR(MIN_OK "vif = [ 'bridge=br0',\n 'colour=blue' ]\n",
		  "/kt/t.cfg:4: vif specification `colour=blue': unknown parameter `colour'");
	CHECK_ERR(MIN_OK "vif = [ 'gatewaydev=eth0' ]\n",
		  "/kt/t.cfg:3: vif specification `gatewaydev=eth0': not supported by keel: `gatewaydev'");
	CHECK_ERR(MIN_OK "vif = [ 'mtu=9' ]\n",
		  "/kt/t.cfg:3: vif specification `mtu=9': invalid mtu `9'");
	xlcfg_free(&cfg);
}

/* Parses one standalone spec; returns its rc (v holds the result). */
static struct xlcfg_vif v;

static int spec(const char *text)
{
	xlcfg_vif_free(&v);
	return xlcfg_parse_vif_spec(text, &v, err, sizeof(err));
}

TEST(vif_rate_as_xl)
{
	/* libxl's own test vectors (tools/libxl/check-xl-vif-parse). */
	static const struct { const char *rate; uint64_t bytes; uint32_t usecs; } ok[] = {
		{ "16000000b/s", 100000, 50000 }, { "16000000b/s@50ms", 100000, 50000 },
		{ "2000000B/s", 100000, 50000 }, { "2000000B/s@50ms", 100000, 50000 },
		{ "16Kb/s", 100, 50000 }, { "2KB/s@50ms", 100, 50000 },
		{ "16Mb/s", 100000, 50000 }, { "2MB/s@50ms", 100000, 50000 },
		{ "8Gb/s", 50000000, 50000 }, { "1GB/s@50ms", 50000000, 50000 },
		{ "80Mb/s@1s", 10000000, 1000000 }, { "10MB/s@1s", 10000000, 1000000 },
		{ "1MB/s@20ms", 20000, 20000 }, { "10Mb/s", 62500, 50000 },
		{ "1MB/s@20000us", 20000, 20000 }, { "1MB/s@2", 2000000, 2000000 },
		{ "1MB/s@20m", 20000, 20000 }, { "1MB/s@20000u", 20000, 20000 },
	};
	static const char *const bad[] = {
		"foo", "10MB", "10MB/m", "10ZB", "10ZB/s", "10ZB/m",
		"4294967296b/s", "4294967296Kb/s", "4294967296Mb/s", "4294967296Gb/s", "0B/s",
		"10Mb/s@foo", "10Mb/s@10h", "10MB/s@foo", "10MB/s@10h",
		"1B/s@4294967296us", "1B/s@4294968ms", "1B/s@4295s", "1B/s@0us",
		"4294967295GB/s@5us", "4296MB/s@4294s", "1B/s@1us", "", "@50ms", "10MB/s@", "-1MB/s", "10 MB/s",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		char text[64];
		snprintf(text, sizeof(text), "rate=%s", ok[i].rate);
		CHECK_EQ(spec(text), 0);
		if (v.rate_bytes_per_interval != ok[i].bytes || v.rate_interval_usecs != ok[i].usecs)
			printf("  rate=%s\n", ok[i].rate);
		CHECK_EQ(v.rate_bytes_per_interval, ok[i].bytes);
		CHECK_EQ(v.rate_interval_usecs, ok[i].usecs);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char text[64];
		snprintf(text, sizeof(text), "rate=%s", bad[i]);
		if (spec(text) != -EINVAL)
			printf("  rate=%s accepted\n", bad[i]);
		CHECK_EQ(spec(text), -EINVAL);
	}
	CHECK_EQ(spec("rate=4294967296b/s"), -EINVAL);
	CHECK_STR(err, "vif specification `rate=4294967296b/s': rate overflow `4294967296b/s'");
	CHECK_EQ(spec("rate=10Mb/s@10h"), -EINVAL);
	CHECK_STR(err, "vif specification `rate=10Mb/s@10h': invalid replenishment interval `10Mb/s@10h'");
	/* No rate: unlimited. */
	CHECK_EQ(spec("bridge=xenbr0"), 0);
	CHECK_EQ(v.rate_bytes_per_interval, 0);
	CHECK_EQ(v.rate_interval_usecs, 0);
	xlcfg_vif_free(&v);
}

TEST(vif_ip_list)
{
	CHECK_EQ(spec("ip=10.0.0.5"), 0);
	CHECK_EQ(v.nr_ips, 1);
	CHECK(!memcmp(&v.ips[0], "\x0a\x00\x00\x05", 4));   /* network byte order */
	CHECK_STR(v.ip, "10.0.0.5");
	CHECK_EQ(spec("ip=10.0.0.5 192.168.1.254  172.16.0.1 1.2.3.4,bridge=br1"), 0);
	CHECK_EQ(v.nr_ips, 4);
	CHECK(!memcmp(&v.ips[1], "\xc0\xa8\x01\xfe", 4));
	CHECK(!memcmp(&v.ips[3], "\x01\x02\x03\x04", 4));
	CHECK_STR(v.bridge, "br1");
	CHECK_EQ(spec("ip=1.2.3.4 1.2.3.5 1.2.3.6 1.2.3.7 1.2.3.8"), -EINVAL);
	CHECK_STR(err, "vif specification `ip=1.2.3.4 1.2.3.5 1.2.3.6 1.2.3.7 1.2.3.8': "
		  "more than 4 addresses in `1.2.3.4 1.2.3.5 1.2.3.6 1.2.3.7 1.2.3.8'");
	static const char *const bad[] = {
		"ip=10.0.0", "ip=10.0.0.256", "ip=10.0.0.5.6", "ip=10.0.0.x", "ip=0.0.0.0",
		"ip=255.255.255.255", "ip=224.0.0.1", "ip=", "ip=10.0.0.5/24", "ip=1..2.3",
		"ip=0010.0.0.1", "ip=-1.0.0.1",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (spec(bad[i]) != -EINVAL)
			printf("  %s accepted\n", bad[i]);
		CHECK_EQ(spec(bad[i]), -EINVAL);
	}
	CHECK_EQ(spec("ip=10.0.0.x"), -EINVAL);
	CHECK_STR(err, "vif specification `ip=10.0.0.x': invalid IPv4 address `10.0.0.x'");
	xlcfg_vif_free(&v);
}

TEST(vif_mac_and_defaults)
{
	CHECK_EQ(spec(""), 0);
	CHECK(!v.mac_set);
	CHECK_STR(v.bridge, "xenbr0");
	CHECK_EQ(v.devid, -1);
	CHECK(v.ip == NULL);
	CHECK_EQ(v.nr_ips, 0);
	CHECK_STR(v.note, "");
	CHECK_EQ(spec("mac=01:16:3e:00:00:01"), -EINVAL);
	CHECK_STR(err, "vif specification `mac=01:16:3e:00:00:01': multicast MAC address "
		  "`01:16:3e:00:00:01'");
	CHECK_EQ(spec("mac=ff:ff:ff:ff:ff:ff"), -EINVAL);
	CHECK_EQ(spec("mac=00:00:00:00:00:00"), 0);   /* libxl: not given */
	CHECK(!v.mac_set);
	CHECK_EQ(spec("mac=00:16:3e:0a:0B:0c"), 0);
	CHECK(v.mac_set);
	CHECK_EQ(v.mac[4], 0x0b);
	CHECK_EQ(spec("mac=00-16-3e-00-00-01"), -EINVAL);
	CHECK_EQ(spec("mac=00:16:3e:00:00:001"), -EINVAL);
	CHECK_EQ(spec("bridge="), -EINVAL);
	CHECK_EQ(spec("type=hvm"), -EINVAL);
	CHECK_STR(err, "vif specification `type=hvm': unknown type `hvm'");
	CHECK_EQ(spec("colour=blue"), -EINVAL);
	CHECK_STR(err, "vif specification `colour=blue': unknown parameter `colour'");
	CHECK_EQ(spec("bridge"), -EINVAL);
	/* The standalone parser frees what it built on error. */
	CHECK_EQ(spec("bridge=br0,script=x,colour=blue"), -EINVAL);
	CHECK(v.bridge == NULL && v.script == NULL);
	xlcfg_vif_free(&v);
}

TEST(vif_ignored_keys_leave_a_note)
{
	CHECK_EQ(spec("script=vif-bridge,model=e1000,type=ioemu"), 0);
	CHECK_STR(v.script, "vif-bridge");
	CHECK_STR(v.model, "e1000");
	CHECK_STR(v.note, "script=vif-bridge ignored: keel joins the vif to its built-in switch "
		  "itself; model=e1000 ignored: keel's PV guests get a netfront vif; "
		  "type=ioemu taken as type=vif: keel runs no device model");
	/* Many notes are cut, never overflow. */
	CHECK_EQ(spec("script=a,script=b,script=c,script=d,script=e,model=f,model=g"), 0);
	CHECK(strlen(v.note) < XLCFG_VIF_NOTE_BYTES);
	/* And in a file: the same note on the parsed vif. */
	CHECK_EQ(parse(MIN_OK "vif = [ 'model=rtl8139' ]\n"), 0);
	CHECK_STR(cfg.vifs[0].note, "model=rtl8139 ignored: keel's PV guests get a netfront vif");
	CHECK_STR(cfg.vifs[0].bridge, "xenbr0");
	CHECK_EQ(parse(MIN_OK "vif = [ 'ip=10.1.2.3 10.1.2.4,rate=1MB/s@20ms' ]\n"), 0);
	CHECK_EQ(cfg.vifs[0].nr_ips, 2);
	CHECK_EQ(cfg.vifs[0].rate_bytes_per_interval, 20000);
	CHECK_ERR(MIN_OK "\nvif = [ 'bridge=xenbr0', 'rate=10ZB/s' ]\n",
		  "/kt/t.cfg:4: vif specification `rate=10ZB/s': invalid rate `10ZB/s'");
	CHECK_ERR(MIN_OK "vif = [ 'ip=10.0.0.300' ]\n",
		  "/kt/t.cfg:3: vif specification `ip=10.0.0.300': invalid IPv4 address `10.0.0.300'");
	xlcfg_free(&cfg);
	xlcfg_vif_free(&v);
}

TEST(vif_default_mac_is_stable)
{
	uint8_t a[6], b[6], c[6], d[6];
	xlcfg_vif_default_mac("web1", 0, a);
	xlcfg_vif_default_mac("web1", 0, b);
	xlcfg_vif_default_mac("web1", 1, c);
	xlcfg_vif_default_mac("web2", 0, d);
	CHECK(!memcmp(a, b, 6));
	CHECK(memcmp(a, c, 6) != 0);
	CHECK(memcmp(a, d, 6) != 0);
	CHECK_EQ(a[0], 0x00);
	CHECK_EQ(a[1], 0x16);
	CHECK_EQ(a[2], 0x3e);
	CHECK(!(a[3] & 0x80));
	/* Spread: 2000 names give (nearly) 2000 MACs. */
	static uint8_t seen[2000][6];
	unsigned int dup = 0;
	for (int i = 0; i < 2000; i++) {
		char name[24];
		snprintf(name, sizeof(name), "guest%d", i);
		xlcfg_vif_default_mac(name, 0, seen[i]);
		for (int j = 0; j < i; j++)
			dup += !memcmp(seen[i], seen[j], 6);
	}
	CHECK(dup <= 2);
}

TEST(hostile_input_is_bounded)
{
	size_t big = 1024 * 1024;
	char *text = malloc(big + 64);
	size_t n;

	CHECK(text);
	/* A 1 MB line. */
	memset(text, 'a', big);
	CHECK_EQ(xlcfg_parse("/h.cfg", text, big, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "/h.cfg:1: line is longer than 4096 bytes");
	/* Many short lines past the file limit. */
	for (size_t i = 0; i < big; i += 2)
		text[i] = '#', text[i + 1] = '\n';
	CHECK_EQ(xlcfg_parse("/h.cfg", text, big, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "/h.cfg:65537: config file is larger than 131072 bytes");
	/* A NUL byte. */
	CHECK_EQ(xlcfg_parse("/h.cfg", "name = \"a\0b\"\n", 13, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "/h.cfg:1: config file contains a NUL byte");
	/* 10k list items. */
	n = (size_t)snprintf(text, big, "disk = [");
	for (int i = 0; i < 10000 && n < big - 16; i++)
		n += (size_t)snprintf(text + n, big - n, "'a',\n");
	n += (size_t)snprintf(text + n, big - n, "]\n");
	CHECK_EQ(xlcfg_parse("/h.cfg", text, n, &cfg, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "/h.cfg:257: config parsing error near `'a'': list has too many items");
	/* Deep nesting. */
	CHECK_ERR("x = [[[[[[[[[[ 1 ]]]]]]]]]]\n",
		  "/kt/t.cfg:1: config parsing error near `[': lists nested too deeply");
	/* Unterminated list, string at end of file. */
	CHECK_EQ(parse("disk = [ 'a"), -EINVAL);
	CHECK_EQ(parse("disk = [ "), -EINVAL);
	/* A tiny err buffer still gets a terminated, cut message. */
	{
		char small[8];

		CHECK_EQ(xlcfg_parse("/kt/t.cfg", "x", 1, &cfg, small, sizeof(small)), -EINVAL);
		CHECK_STR(small, "/kt/t.c");
		CHECK_EQ(xlcfg_parse("/kt/t.cfg", "x", 1, &cfg, NULL, 0), -EINVAL);
	}
	free(text);
}

TEST(crlf_and_semicolons)
{
	CHECK_EQ(parse("name = 'a';kernel = '/k'\r\nmemory = 64 ; vcpus = 2\r\n"), 0);
	CHECK_STR(cfg.name, "a");
	CHECK_EQ(cfg.memory_mib, 64);
	CHECK_EQ(cfg.vcpus, 2);
	xlcfg_free(&cfg);
	xlcfg_free(&cfg);
}

static const struct test_case tests[] = {
	T(realistic_pv_config),
	T(defaults_as_xl),
	T(banana_is_xls_exact_text),
	T(other_syntax_errors_bison_wording),
	T(lexical_errors),
	T(semantic_errors_name_their_line),
	T(unknown_keys_are_ignored_with_their_line),
	T(missing_name_and_kernel),
	T(type_and_unsupported_keys),
	T(cmdline_from_extra_and_root),
	T(cmdline_too_long),
	T(lists_across_lines_and_nesting),
	T(disk_specs),
	T(vdev_numbers),
	T(vif_specs),
	T(vif_rate_as_xl),
	T(vif_ip_list),
	T(vif_mac_and_defaults),
	T(vif_ignored_keys_leave_a_note),
	T(vif_default_mac_is_stable),
	T(hostile_input_is_bounded),
	T(crlf_and_semicolons),
};

RUN_TESTS(tests)
