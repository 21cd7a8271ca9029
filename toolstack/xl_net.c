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
		xlcfg_vif_default_mac(dom_name, devid, p->mac);
	}
	if (x->bridge) {
		if (strlen(x->bridge) >= sizeof(p->bridge)) {
			*why = "bridge name too long";
			return -EINVAL;
		}
		ksnprintf(p->bridge, sizeof(p->bridge), "%s", x->bridge);
	}
	if (x->nr_ips > ARRAY_SIZE(p->ips)) {
		*why = "more than 4 addresses in ip=";
		return -EINVAL;
	}
	p->n_ips = x->nr_ips;
	memcpy(p->ips, x->ips, x->nr_ips * sizeof(x->ips[0]));
	p->rate_bytes = x->rate_bytes_per_interval;
	p->rate_interval_us = x->rate_interval_usecs;
	if (x->backend && strcmp(x->backend, "0") && strcmp(x->backend, "Domain-0")) {
		*why = "driver domains are not supported: the backend is dom0";
		return -EOPNOTSUPP;
	}
	return 0;
}

static void notes(const char *where, int line, const struct xlcfg_vif *x)
{
	if (x->note[0] && line)
		kprintf("%s:%d: %s\n", where, line, x->note);
	else if (x->note[0])
		kprintf("%s: %s\n", where, x->note);
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

/* The words after DOMAIN as one vif spec, parsed as `vif = [ ... ]` is. */
static int parse_spec(int argc, char **argv, struct xlcfg_vif *x)
{
	char spec[768], err[256];
	size_t n = 0;

	spec[0] = 0;
	for (int i = 0; i < argc; i++) {
		if (n + strlen(argv[i]) + 2 >= sizeof(spec)) {
			kprintf("network-attach: vif spec too long\n");
			return -EINVAL;
		}
		n += (size_t)ksnprintf(spec + n, sizeof(spec) - n, "%s%s", i ? "," : "", argv[i]);
	}
	int rc = xlcfg_parse_vif_spec(spec, x, err, sizeof(err));
	if (rc)
		kprintf("network-attach: %s\n", err);
	return rc;
}

static int cmd_network_attach(int argc, char **argv)
{
	struct xlcfg_vif x_;
	struct xlcfg_vif *x = &x_;
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
	int rc = parse_spec(argc - 2, argv + 2, x);
	if (rc)
		return rc;
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
		notes("network-attach", 0, x);
	xlcfg_vif_free(x);
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
	if (argc >= 3 && !strcmp(argv[1], "showmacs")) {
		int rc = net_bridge_showmacs(argv[2]);
		if (rc)
			kprintf("brctl: %s: no such bridge\n", argv[2]);
		return rc;
	}
	kprintf("usage: brctl show | brctl showmacs BRIDGE | brctl addbr NAME\n");
	return -EINVAL;
}

const struct command xl_net_commands[] = {
	{ "network-attach", cmd_network_attach, "DOM [SPEC]", "attach a vif to a running domain" },
	{ "network-detach", cmd_network_detach, "DOM DEVID|MAC", "detach a vif" },
	{ "network-list", cmd_network_list, "DOM", "list a domain's vifs" },
	{ "netback-stats", cmd_netback_stats, "", "per-vif counters" },
	{ "brctl", cmd_brctl, "show|showmacs BR|addbr BR", "bridges, ports, learnt MACs" },
	{ NULL, NULL, NULL, NULL },
};
