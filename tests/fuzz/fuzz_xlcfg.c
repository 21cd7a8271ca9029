/* libFuzzer target for the xl.cfg parser.  fuzz-srcs: toolstack/xlcfg.c
 *
 * Any bytes are a config file: parsing must end in 0 or -EINVAL with a
 * terminated one-line message, never a crash, leak or unbounded allocation.
 * A success must give a config that satisfies the parser's own promises.
 */
#include <lib/base.h>
#include <keel/xlcfg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct domain_config cfg;
	char err[256];
	int rc;

	memset(err, 'x', sizeof(err));
	rc = xlcfg_parse("/fuzz.cfg", (const char *)data, size, &cfg, err, sizeof(err));
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (!memchr(err, 0, sizeof(err)))
		abort();
	if (rc == -EINVAL) {
		/* Every message names the file (and the line). */
		if (strncmp(err, "/fuzz.cfg:", 10) != 0 || strchr(err, '\n'))
			abort();
		if (cfg.name || cfg.disks || cfg.vifs)
			abort();
		return 0;
	}
	if (!cfg.name || !cfg.kernel || !cfg.cmdline || cfg.memory_mib < 1 ||
	    cfg.maxmem_mib < cfg.memory_mib || cfg.vcpus < 1 || cfg.maxvcpus < cfg.vcpus ||
	    strlen(cfg.cmdline) > XLCFG_MAX_CMDLINE_BYTES)
		abort();
	for (unsigned int i = 0; i < cfg.nr_disks; i++) {
		uint32_t devid;

		if (!cfg.disks[i].target || !cfg.disks[i].vdev ||
		    xlcfg_vdev_to_devid(cfg.disks[i].vdev, &devid) || devid != cfg.disks[i].devid)
			abort();
	}
	for (unsigned int i = 0; i < cfg.nr_vifs; i++) {
		const struct xlcfg_vif *v = &cfg.vifs[i];

		/* A bridge always; IPs bounded; a set MAC is unicast and not zero;
		 * a rate names both its bytes and interval; the note is a string. */
		if (!v->bridge || !*v->bridge || v->nr_ips > XLCFG_VIF_MAX_IPS ||
		    (v->nr_ips && !v->ip) || (v->mac_set && (v->mac[0] & 1)) ||
		    (!v->rate_bytes_per_interval != !v->rate_interval_usecs) ||
		    !memchr(v->note, 0, sizeof(v->note)))
			abort();
	}
	xlcfg_free(&cfg);
	return 0;
}
