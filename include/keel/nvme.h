/*
 * The NVMe driver's entry points outside the PCI driver table
 * (drivers/nvme/nvme.c): the `nvme` shell command.
 */
#ifndef KEEL_NVME_H
#define KEEL_NVME_H

/*
 * `nvme list`: controllers, their state, interrupt counts, resets, and
 * namespaces.  `nvme inject-timeout CTRL [N]`: test hook, the controller's
 * next N I/O completions are dropped as if lost, so the command times out
 * and the controller is reset.  `nvme timeout SECONDS`: the I/O command
 * timeout (default 30).  `nvme prp-test DEV OFFSET`: writes and reads 16
 * KiB at OFFSET (destroying it) through a segment list that breaks the PRP
 * rules, checking the bytes.  Shell thread; may sleep.  0 or -errno.
 */
int nvme_command(int argc, char **argv);

#endif
