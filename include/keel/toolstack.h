/*
 * The toolstack's view of the domains keel created (toolstack/domain.c) and
 * the calls the xl-style commands make.  Thread context only; may sleep.
 */
#ifndef KEEL_TOOLSTACK_H
#define KEEL_TOOLSTACK_H

#include <keel/builder.h>
#include <keel/kernel.h>
#include <keel/xlcfg.h>

struct domain {
	domid_t domid;
	char name[64];
	uint8_t uuid[16];
	char uuid_str[37];
	char cfg_path[256];
	struct domain_config cfg;   /* kept for restarts */
	struct build_result build;
	uint64_t create_ns;         /* when create began (system time) */
	uint64_t started_ns;        /* when it was unpaused */
	unsigned int restarts;
	unsigned int shutdown_reason;
	bool preserved;             /* shut down, kept by on_*=preserve */
	struct waitq gone_wq;       /* woken when it ends or is preserved */
	struct domain *next;
};

void toolstack_init(void);
/* Attaches every disk of cfg to domid through blkback; on error prints
 * "FILE:LINE: disk ...: why" and returns -errno (toolstack/xl_block.c). */
struct domain_config;
int toolstack_attach_disks(domid_t domid, const struct domain_config *cfg, const char *cfg_path);
/*
 * xl create: parses the config at path (in the boot archive), builds and
 * starts the domain.  Prints xl-style messages; returns 0 or -errno.
 */
int toolstack_create(const char *path, const char *override_name, domid_t *out);
int toolstack_destroy(domid_t domid);
/* Tears a domain down (backends, xenstore, Xen) without freeing *d. */
void toolstack_cleanup(struct domain *d);
/* Waits until the domain is gone (or preserved); false on timeout. */
bool toolstack_wait_gone(domid_t domid, uint64_t timeout_ns);

struct domain *toolstack_domain_by_id(domid_t domid);
struct domain *toolstack_domain_by_name(const char *name);
/* "Domain-0", a domU's name, or NULL. */
const char *toolstack_domain_name(domid_t domid);
/* NAME or ID as xl accepts them: 0 or -ENOENT. */
int toolstack_resolve(const char *arg, domid_t *out);
struct domain *toolstack_domains(void);

#endif
