/* libFuzzer target for `network-attach DOM SPEC`'s vif spec parser.
 * fuzz-srcs: toolstack/xlcfg.c
 * fuzz-seeds: tests/data/vif/seeds
 *
 * Any bytes (up to the first NUL) are a spec: parsing ends in 0 or -EINVAL
 * with a terminated one-line message, never a crash or a leak; an accepted
 * spec keeps the promises of struct xlcfg_vif; parsing it twice gives the
 * same result.
 */
#include <lib/base.h>
#include <keel/xlcfg.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xlcfg_vif v, again;
	char err[256], spec[1024];
	int rc;

	if (size >= sizeof(spec))
		return 0;
	memcpy(spec, data, size);
	spec[size] = 0;
	memset(err, 'x', sizeof(err));
	rc = xlcfg_parse_vif_spec(spec, &v, err, sizeof(err));
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (!memchr(err, 0, sizeof(err)))
		abort();
	if (rc) {
		if (strncmp(err, "vif specification `", 19) != 0 || strchr(err, '\n') ||
		    v.bridge || v.ip || v.script || v.model)
			abort();
		return 0;
	}
	if (!v.bridge || !*v.bridge || v.nr_ips > XLCFG_VIF_MAX_IPS || (v.nr_ips && !v.ip) ||
	    (v.mac_set && (v.mac[0] & 1)) ||
	    (!v.rate_bytes_per_interval != !v.rate_interval_usecs) ||
	    !memchr(v.note, 0, sizeof(v.note)) || v.devid < -1)
		abort();
	for (unsigned int i = 0; i < v.nr_ips; i++) {
		const uint8_t *b = (const uint8_t *)&v.ips[i];
		if ((b[0] | b[1] | b[2] | b[3]) == 0 || (b[0] & 0xf0) == 0xe0)
			abort();
	}
	if (xlcfg_parse_vif_spec(spec, &again, err, sizeof(err)) != 0 ||
	    strcmp(again.bridge, v.bridge) || memcmp(again.mac, v.mac, 6) ||
	    again.nr_ips != v.nr_ips || memcmp(again.ips, v.ips, sizeof(v.ips)) ||
	    again.rate_bytes_per_interval != v.rate_bytes_per_interval ||
	    strcmp(again.note, v.note))
		abort();
	xlcfg_vif_free(&again);
	xlcfg_vif_free(&v);
	return 0;
}
