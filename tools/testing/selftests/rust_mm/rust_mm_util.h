/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the rust_mm selftests share: the ioctl wrappers (each returns 0 or the
 * errno of the failed call), the counters' invariant, and the seeded random
 * numbers of the race test and the contract fuzzer.
 */
#ifndef RUST_MM_UTIL_H
#define RUST_MM_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
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

/* Every page the driver took is held, zapped, reclaimed or freed. */
static inline bool stats_consistent(const struct rust_mm_sample_stats *st)
{
	return st->held == st->inserted - st->zapped - st->reclaimed - st->freed;
}

/* xorshift64*: the next number of the state @s (never 0). */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

/* A number below @n from the state @s. */
static inline unsigned int below(uint64_t *s, unsigned int n)
{
	return (rnd(s) >> 32) % n;
}

/*
 * The state for stream @n (a thread's role, a sequence's number) of the run
 * seeded with @seed: splitmix64, never 0.
 */
static inline uint64_t seed_for(uint64_t seed, unsigned int n)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (n + 1);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ? z : 1;
}

#endif /* RUST_MM_UTIL_H */
