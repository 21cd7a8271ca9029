/*
 * Backend-side xenbus helpers shared by keel's backends (blkback, netback,
 * and the ones to come): reading and writing the nodes of a device's
 * backend and frontend directories in keel's own xenstore (xenbus/xenbus.c).
 * Thread context; they may sleep (the store's lock).
 */
#ifndef KEEL_XENBUS_H
#define KEEL_XENBUS_H

#include <lib/base.h>
#include <xen/io/xenbus.h>

/* Writes dir/node = the formatted value.  0 or -errno. */
int xenbus_printf(const char *dir, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads dir/node as a decimal number.  0, -ENOENT (no node) or -EINVAL
 * (not a number: a frontend's word is checked, never trusted); *out is
 * written only on success. */
int xenbus_read_uint(const char *dir, const char *node, uint64_t *out);

/* A frontend's feature flag: true only if dir/node reads exactly 1. */
bool xenbus_read_flag(const char *dir, const char *node);

/* Writes dir/state = s (the backend's side of the handshake). */
int xenbus_set_state(const char *dir, enum xenbus_state s);

/* Reads dir/state; XenbusStateUnknown when it is missing or garbage. */
enum xenbus_state xenbus_read_state(const char *dir);

#endif
