/*
 * xl's network commands (network-attach, network-detach, network-list),
 * the toolstack's use of netback when a domain is created or torn down,
 * and the switch's admin commands (brctl show, netback-stats).
 */
#include <keel/commands.h>
#include <keel/kernel.h>
#include <keel/net.h>
#include <keel/netback.h>
#include <keel/toolstack.h>
#include <keel/xenstored.h>
#include <keel/xsd.h>
#include <keel/xlcfg.h>
#include <lib/printf.h>

/* "a.b.c.d" to network byte order; -EINVAL if it is not one. */
static int parse_ipv4(const char *s, size_t len, uint32_t *out)
{
	uint32_t parts[4];
	unsigned int n = 0;
	size_t i = 0;

	while (n < 4) {
		uint32_t v = 0;
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (uint32_t)(s[i++] - '0');
		if (i == start || v > 255)
			return -EINVAL;
		parts[n++] = v;
		if (n < 4) {
			if (i >= len || s[i] != '.')
				return -EINVAL;
			i++;
		}
	}
	if (i != len)
		return -EINVAL;
	uint8_t *b = (uint8_t *)out;
	for (unsigned int k = 0; k < 4; k++)
		b[k] = (uint8_t)parts[k];
	return 0;
}

/* The MAC xl would not pick but that stays the same for one domain name
 * and devid: 00:16:3e (Xen's range) and three bytes of a hash. */
static void default_mac(const char *name, uint32_t devid, uint8_t mac[ETH_ALEN])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ devid) * 16777619u;
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = (uint8_t)((h >> 16) & 0x7f);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

/* An xlcfg_vif to netback's parameters; *why says what is wrong. */
static int vif_params(const char *dom_name, const struct xlcfg_vif *x, uint32_t devid,
		      struct netback_params *p, const char **why)
{
	memset(p, 0, sizeof(*p));
	p->devid = devid;
	if (x->mac_set) {
		if (x->mac[0] & 1) {
			*why = "the MAC is a multicast address";
			return -EINVAL;
		}
		memcpy(p->mac, x->mac, ETH_ALEN);
		p->lock_mac = true;
	} else {
		default_mac(dom_name, devid, p->mac);
	}
	if (x->bridge) {
		if (strlen(x->bridge) >= sizeof(p->bridge)) {
			*why = "bridge name too long";
			return -EINVAL;
		}
		ksnprintf(p->bridge, sizeof(p->bridge), "%s", x->bridge);
	}
	if (x->ip) {
		const char *s = x->ip;
		while (*s) {
			while (*s == ' ')
				s++;
			const char *e = s;
			while (*e && *e != ' ')
				e++;
			if (e == s)
				break;
			if (p->n_ips == ARRAY_SIZE(p->ips)) {
				*why = "more than 4 addresses in ip=";
				return -EINVAL;
			}
			if (parse_ipv4(s, (size_t)(e - s), &p->ips[p->n_ips++])) {
				*why = "ip= is not a list of IPv4 addresses";
				return -EINVAL;
			}
			s = e;
		}
	}
	if (x->backend && strcmp(x->backend, "0") && strcmp(x->backend, "Domain-0")) {
		*why = "driver domains are not supported: the backend is dom0";
		return -EOPNOTSUPP;
	}
	return 0;
}

static void notes(const char *where, int line, const struct xlcfg_vif *x)
{
	if (x->script)
		kprintf("%s:%d: vif script=%s ignored: keel's switch joins the vif to its bridge\n",
			where, line, x->script);
	if (x->model)
		kprintf("%s:%d: vif model=%s ignored: PV guests get a netfront vif\n", where, line,
			x->model);
	if (x->vifname)
		kprintf("%s:%d: vif vifname=%s ignored: keel names ports vifDOMID.DEVID\n", where,
			line, x->vifname);
}

int toolstack_attach_vifs(domid_t domid, const char *name, const struct domain_config *cfg,
			  const char *cfg_path)
{
	for (unsigned int i = 0; i < cfg->nr_vifs; i++) {
		const struct xlcfg_vif *x = &cfg->vifs[i];
		struct netback_params p;
		const char *why;
		uint32_t devid = x->devid >= 0 ? (uint32_t)x->devid : i;
		int rc = vif_params(name, x, devid, &p, &why);
		if (rc == 0)
			rc = netback_attach(domid, &p, &why);
		if (rc) {
			kprintf("%s:%d: vif %u: %s\n", cfg_path, x->line, devid, why);
			return rc;
		}
		notes(cfg_path, x->line, x);
	}
	return 0;
}

/* One vif spec through the config parser, so `network-attach` accepts
 * exactly what `vif = [ ... ]` does and reports the same errors. */
static int parse_spec(int argc, char **argv, struct domain_config *cfg)
{
	char text[1024], spec[768], err[256];
	size_t n = 0;

	spec[0] = 0;
	for (int i = 0; i < argc; i++) {
		if (strchr(argv[i], '\'') || n + strlen(argv[i]) + 2 >= sizeof(spec)) {
			kprintf("network-attach: bad vif spec\n");
			return -EINVAL;
		}
		n += (size_t)ksnprintf(spec + n, sizeof(spec) - n, "%s%s", i ? "," : "", argv[i]);
	}
	int len = ksnprintf(text, sizeof(text), "name='x'\nkernel='x'\nvif=['%s']\n", spec);
	int rc = xlcfg_parse("network-attach", text, (size_t)len, cfg, err, sizeof(err));
	if (rc) {
		kprintf("%s\n", err);
		return rc;
	}
	if (cfg->nr_vifs != 1) {
		kprintf("network-attach: expected one vif spec\n");
		xlcfg_free(cfg);
		return -EINVAL;
	}
	return 0;
}

static int cmd_network_attach(int argc, char **argv)
{
	struct domain_config cfg;
	domid_t domid;

	if (argc < 2) {
		kprintf("usage: network-attach DOMAIN [VIF-SPEC] (xl-network-configuration)\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("network-attach: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	struct domain *d = toolstack_domain_by_id(domid);
	memset(&cfg, 0, sizeof(cfg));
	int rc;
	if (argc == 2) {
		char *none[] = { (char *)"" };
		rc = parse_spec(1, none, &cfg);
	} else {
		rc = parse_spec(argc - 2, argv + 2, &cfg);
	}
	if (rc)
		return rc;
	struct xlcfg_vif *x = &cfg.vifs[0];
	uint32_t devid = 0;
	if (x->devid >= 0) {
		devid = (uint32_t)x->devid;
	} else {
		/* The next free devid, as libxl picks it. */
		char path[96];
		for (;; devid++) {
			char *val;
			size_t vlen;
			ksnprintf(path, sizeof(path), "/libxl/%u/device/vif/%u/backend", domid, devid);
			if (xs_read(xenstore, path, &val, &vlen))
				break;
			kfree(val);
		}
	}
	struct netback_params p;
	const char *why;
	rc = vif_params(d ? d->name : argv[1], x, devid, &p, &why);
	if (rc == 0)
		rc = netback_attach(domid, &p, &why);
	if (rc)
		kprintf("network-attach: vif %u: %s\n", devid, why);
	else
		notes("network-attach", 1, x);
	xlcfg_free(&cfg);
	return rc;
}

static int parse_mac_arg(const char *s, uint8_t mac[ETH_ALEN])
{
	if (strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		char *end;
		char byte[3] = { s[3 * i], s[3 * i + 1], 0 };
		unsigned long v = strtoul(byte, &end, 16);
		if (*end || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

static int cmd_network_detach(int argc, char **argv)
{
	domid_t domid;
	bool force = argc > 3 && !strcmp(argv[3], "--force");
	uint8_t mac[ETH_ALEN];
	int devid;

	if (argc < 3) {
		kprintf("usage: network-detach DOMAIN DEVID|MAC [--force]\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("network-detach: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	if (parse_mac_arg(argv[2], mac) == 0) {
		devid = netback_find_mac(domid, mac);
	} else {
		char *end;
		devid = (int)strtoul(argv[2], &end, 10);
		if (*end || end == argv[2]) {
			kprintf("network-detach: %s: not a devid or MAC\n", argv[2]);
			return -EINVAL;
		}
	}
	int rc = devid < 0 ? -ENOENT : netback_detach(domid, (uint32_t)devid, 10000000000ull, force);
	if (rc == -ENOENT)
		kprintf("network-detach: domain %u has no vif %s\n", domid, argv[2]);
	else if (rc == -ETIMEDOUT)
		kprintf("network-detach: the guest did not release vif %s in 10 s%s\n", argv[2],
			force ? "; removed anyway" : " (use --force)");
	return rc;
}

static int cmd_network_list(int argc, char **argv)
{
	domid_t domid;

	if (argc < 2) {
		kprintf("usage: network-list DOMAIN\n");
		return -EINVAL;
	}
	if (toolstack_resolve(argv[1], &domid)) {
		kprintf("network-list: %s: no such domain\n", argv[1]);
		return -ESRCH;
	}
	netback_list(domid);
	return 0;
}

static int cmd_netback_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	netback_show_stats();
	return 0;
}

static int cmd_brctl(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "show")) {
		net_bridge_show();
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "addbr")) {
		int rc = net_bridge_create(argv[2]);
		if (rc == -EEXIST)
			kprintf("brctl: bridge %s already exists\n", argv[2]);
		else if (rc)
			kprintf("brctl: %s: bad bridge name\n", argv[2]);
		return rc;
	}
	kprintf("usage: brctl show | brctl addbr NAME\n");
	return -EINVAL;
}

const struct command xl_net_commands[] = {
	{ "network-attach", cmd_network_attach, "DOM [SPEC]", "attach a vif to a running domain" },
	{ "network-detach", cmd_network_detach, "DOM DEVID|MAC", "detach a vif" },
	{ "network-list", cmd_network_list, "DOM", "list a domain's vifs" },
	{ "netback-stats", cmd_netback_stats, "", "per-vif counters" },
	{ "brctl", cmd_brctl, "show|addbr NAME", "bridges and their ports" },
	{ NULL, NULL, NULL, NULL },
};
