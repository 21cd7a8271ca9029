/*
 * xl's block-device commands (block-attach, block-detach, block-list) and
 * the toolstack's use of blkback when a domain is created or torn down.
 */
#include <keel/blkback.h>
#include <keel/blkdev.h>
#include <keel/commands.h>
#include <keel/kernel.h>
#include <keel/toolstack.h>
#include <keel/xlcfg.h>
#include <lib/printf.h>

int toolstack_attach_disks(domid_t domid, const struct domain_config *cfg, const char *cfg_path)
{
	for (unsigned int i = 0; i < cfg->nr_disks; i++) {
		const struct xlcfg_disk *disk = &cfg->disks[i];
		const char *why;
		int rc = blkback_attach(domid, disk, &why);
		if (rc) {
			kprintf("%s:%d: disk '%s' (%s): %s\n", cfg_path, disk->line, disk->target,
				disk->vdev, why);
			return rc;
		}
		if (disk->script)
			kprintf("%s:%d: disk '%s' (%s): script=%s ignored: keel serves its block "
				"devices itself, with no hotplug script\n", cfg_path, disk->line,
				disk->target, disk->vdev, disk->script);
	}
	return 0;
}

/*
 * One disk spec through the config parser, so `block-attach` accepts
 * exactly what `disk = [ ... ]` does and reports the same errors.
 */
static int parse_spec(int argc, char **argv, struct domain_config *cfg)
{
	char text[1024], spec[768], err[256];
	size_t n = 0;

	spec[0] = 0;
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], '\'') || n + strlen(argv[i]) + 2 >= sizeof(spec)) {
			kprintf("block-attach: bad disk spec\n");
			return -EINVAL;
		}
		n += (size_t)ksnprintf(spec + n, sizeof(spec) - n, "%s%s", i ? "," : "", argv[i]);
	}
	int len = ksnprintf(text, sizeof(text), "name='x'\nkernel='x'\ndisk=['%s']\n", spec);
	int rc = xlcfg_parse("block-attach", text, (size_t)len, cfg, err, sizeof(err));
	if (rc) {
		kprintf("%s\n", err);
		return rc;
	}
	if (cfg->nr_disks != 1) {
		kprintf("block-attach: expected one disk spec\n");
		xlcfg_free(cfg);
		return -EINVAL;
	}
	return 0;
}

static int cmd_block_attach(int argc, char **argv)
{
	struct domain_config cfg;
	domid_t domid;

	if (argc < 3) {
		kprintf("usage: block-attach DOMAIN DISK-SPEC (xl-disk-configuration)\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("block-attach: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	memset(&cfg, 0, sizeof(cfg));
	int rc = parse_spec(argc - 2, argv + 2, &cfg);
	if (rc)
		return rc;
	const char *why;
	rc = blkback_attach(domid, &cfg.disks[0], &why);
	if (rc)
		kprintf("block-attach: %s (%s): %s\n", cfg.disks[0].target, cfg.disks[0].vdev, why);
	xlcfg_free(&cfg);
	return rc;
}

static int cmd_block_detach(int argc, char **argv)
{
	domid_t domid;
	uint32_t devid;
	bool force = argc > 3 && !strcmp(argv[3], "--force");

	if (argc < 3) {
		kprintf("usage: block-detach DOMAIN VDEV [--force]\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("block-detach: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	if (xlcfg_vdev_to_devid(argv[2], &devid)) {
		char *end;
		devid = (uint32_t)strtoul(argv[2], &end, 10);
		if (*end || end == argv[2]) {
			kprintf("block-detach: %s: not a virtual device\n", argv[2]);
			return -EINVAL;
		}
	}
	int rc = blkback_detach(domid, devid, 10000000000ull, force);
	if (rc == -ENOENT)
		kprintf("block-detach: domain %u has no virtual device %s\n", domid, argv[2]);
	else if (rc == -ETIMEDOUT)
		kprintf("block-detach: the guest did not release %s in 10 s%s\n", argv[2],
			force ? "; removed anyway" : " (use --force)");
	return rc;
}

static int cmd_block_list(int argc, char **argv)
{
	domid_t domid;

	if (argc < 2) {
		kprintf("usage: block-list DOMAIN\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("block-list: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	blkback_list(domid);
	return 0;
}

static int cmd_blkback_stats(int argc, char **argv)
{
	struct blkback_stats st;

	(void)argc;
	(void)argv;
	blkback_get_stats(&st);
	kprintf("vbds           : %llu\n", (unsigned long long)st.vbds);
	kprintf("requests       : %llu\n", (unsigned long long)st.requests);
	kprintf("error responses: %llu\n", (unsigned long long)st.errors);
	kprintf("bad requests   : %llu\n", (unsigned long long)st.bad_requests);
	kprintf("persistent     : %llu grant uses without a map, %llu grants mapped\n",
		(unsigned long long)st.pgrant_hits, (unsigned long long)st.pgrant_maps);
	kprintf("discards       : %llu done, %llu sectors\n", (unsigned long long)st.discards,
		(unsigned long long)st.discard_sectors);
	kprintf("polls          : %llu answered in the window, %llu not, %llu passes slept "
		"without (window %u us)\n", (unsigned long long)st.poll_hits,
		(unsigned long long)st.poll_misses, (unsigned long long)st.poll_skips,
		__atomic_load_n(&blkback_poll_us, __ATOMIC_RELAXED));
	const struct blkback_latency *l = &st.lat;
	static const char *const cls[BLKBACK_LAT_CLASSES] = { "<= 4 KiB", "> 4 KiB" };
	for (int c = 0; c < BLKBACK_LAT_CLASSES; c++) {
		uint64_t n = l->c[c].nr_done, g = l->c[c].nr_guest;
		if (!n)
			continue;
		kprintf("latency %-8s: %llu requests, mean us: checks+map %llu, device %llu, "
			"completion to response %llu; guest side %llu (%llu samples)\n", cls[c],
			(unsigned long long)n, (unsigned long long)(l->c[c].map_ns / n / 1000),
			(unsigned long long)(l->c[c].device_ns / n / 1000),
			(unsigned long long)(l->c[c].reap_ns / n / 1000),
			(unsigned long long)(g ? l->c[c].guest_ns / g / 1000 : 0),
			(unsigned long long)g);
	}
	if (l->nr_wake)
		kprintf("event to thread : %llu us (mean of %llu events)\n",
			(unsigned long long)(l->wake_ns / l->nr_wake / 1000),
			(unsigned long long)l->nr_wake);
	uint64_t ho_ns, nr_ho;
	sched_handoff_stats(&ho_ns, &nr_ho);
	if (nr_ho)
		kprintf("notify to idle  : %llu us (mean of %llu: dom0 keeps the CPU after answering "
			"a guest; part of the guest side)\n",
			(unsigned long long)(ho_ns / nr_ho / 1000), (unsigned long long)nr_ho);
	/* What reached each disk, from blkback and from keel itself. */
	for (struct blkdev *d = blkdev_first(); d; d = d->next) {
		if (d->type != BLKDEV_DISK)
			continue;
		kprintf("disk %-10s: %llu reads, %llu writes, %llu flushes, %llu discards "
			"(%llu done, %llu sectors), %llu write-zeroes, %llu errors\n", d->name,
			(unsigned long long)d->reads, (unsigned long long)d->writes,
			(unsigned long long)d->flushes, (unsigned long long)d->discards,
			(unsigned long long)__atomic_load_n(&d->discards_done, __ATOMIC_RELAXED),
			(unsigned long long)__atomic_load_n(&d->discard_sectors_done,
							    __ATOMIC_RELAXED),
			(unsigned long long)d->write_zeroes, (unsigned long long)d->errors);
	}
	return 0;
}

static int cmd_blkback_poll(int argc, char **argv)
{
	if (argc == 2) {
		char *end;
		unsigned long us = strtoul(argv[1], &end, 10);
		if (*end || end == argv[1] || us > 1000) {
			kprintf("blkback-poll: '%s' is not a number of microseconds (0-1000)\n", argv[1]);
			return -EINVAL;
		}
		__atomic_store_n(&blkback_poll_us, (uint32_t)us, __ATOMIC_RELAXED);
	} else if (argc != 1) {
		kprintf("usage: blkback-poll [US]\n");
		return -EINVAL;
	}
	kprintf("blkback-poll: %u us\n", __atomic_load_n(&blkback_poll_us, __ATOMIC_RELAXED));
	return 0;
}

const struct command xl_block_commands[] = {
	{ "block-attach", cmd_block_attach, "DOM SPEC", "attach a disk to a running domain" },
	{ "block-detach", cmd_block_detach, "DOM VDEV", "detach a virtual disk" },
	{ "block-list", cmd_block_list, "DOM", "list a domain's virtual disks" },
	{ "blkback-poll", cmd_blkback_poll, "[US]", "poll the disk after sending (0: off)" },
	{ "blkback-stats", cmd_blkback_stats, "", "block backend and per-disk counters" },
	{ NULL, NULL, NULL, NULL },
};
