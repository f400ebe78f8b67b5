/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctl wrappers that the rust_mm selftests share. Each returns 0 or the
 * errno of the failed call.
 */
#ifndef RUST_MM_UTIL_H
#define RUST_MM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "rust_mm_sample.h"

/* RUST_MM_SAMPLE_INSERT or RUST_MM_SAMPLE_INSERT_WRITE_LOCKED, as @cmd. */
static inline int do_insert(int fd, unsigned long cmd, __u32 index, __u32 fill)
{
	struct rust_mm_sample_insert arg = { .index = index, .fill = fill };

	return ioctl(fd, cmd, &arg) ? errno : 0;
}

static inline int zap(int fd, unsigned long index)
{
	return ioctl(fd, RUST_MM_SAMPLE_ZAP, index) ? errno : 0;
}

/* Fills @st with 0xff first, so that a short copy cannot pass for zeroes. */
static inline int get_stats(int fd, struct rust_mm_sample_stats *st)
{
	memset(st, 0xff, sizeof(*st));
	return ioctl(fd, RUST_MM_SAMPLE_STATS, st) ? errno : 0;
}

static inline void log_stats(const char *what, const struct rust_mm_sample_stats *st)
{
	fprintf(stderr,
		"# %s: held=%llu inserted=%llu zapped=%llu reclaimed=%llu freed=%llu files=%llu faulted=%llu\n",
		what, (unsigned long long)st->held,
		(unsigned long long)st->inserted,
		(unsigned long long)st->zapped,
		(unsigned long long)st->reclaimed,
		(unsigned long long)st->freed,
		(unsigned long long)st->files,
		(unsigned long long)st->faulted);
}

/* Writes @val to @path (a sysctl, a cgroup file); returns 0 or the errno. */
static inline int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (write(fd, val, strlen(val)) != (ssize_t)strlen(val))
		err = errno;
	close(fd);
	return err;
}

/* The number at the start of the file @path, or -1. */
static inline long read_number(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

#endif /* RUST_MM_UTIL_H */
