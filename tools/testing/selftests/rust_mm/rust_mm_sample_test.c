// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of samples/rust/rust_mm_sample.rs through /dev/rust-mm-sample.
 *
 * Every case checks what the driver did, not only what it returned: the bytes
 * a page reads back, the signal an access gives, the driver's counters, and
 * that memory which is not the driver's is left alone.
 *
 * The device must be there (the module loaded): a missing device is a
 * failure, not a skip. The reclaim case writes /proc/sys/vm/drop_caches and
 * so needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rust_mm_sample.h"
#include "rust_mm_probe.h"
#include "rust_mm_util.h"

#define DEV_PATH	"/dev/rust-mm-sample"
#define NPAGES		4

static int insert(int fd, __u32 index, __u32 fill)
{
	return do_insert(fd, RUST_MM_SAMPLE_INSERT, index, fill);
}

static int insert_wl(int fd, __u32 index, __u32 fill)
{
	return do_insert(fd, RUST_MM_SAMPLE_INSERT_WRITE_LOCKED, index, fill);
}

/* Whether the ioctl error is one the driver gives for "not my mapping". */
static bool is_refusal(int err)
{
	return err == EINVAL || err == ENXIO;
}

static int open_dev(void)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

static void *map_dev(int fd, size_t len, int prot, int flags, off_t off)
{
	return mmap(NULL, len, prot, flags, fd, off);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Whether /proc/self/maps has a mapping that starts at @addr. */
static int maps_has(void *addr)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strtoul(line, NULL, 16) == (unsigned long)addr) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

static int run_shrinkers(void)
{
	return write_sysctl("/proc/sys/vm/drop_caches", "2\n");
}

/* A pattern that no driver page (every byte the same) can look like. */
static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i * 31 + 7);
}

FIXTURE(mm)
{
	long psz;
	size_t len;
	int fd;
	char *map;
};

FIXTURE_SETUP(mm)
{
	self->map = MAP_FAILED;
	self->psz = page_size();
	self->len = NPAGES * self->psz;
	self->fd = open_dev();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s (is the rust_mm_sample module loaded?)",
		       DEV_PATH, strerror(errno));
	self->map = map_dev(self->fd, self->len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, self->map)
		TH_LOG("mmap of %d pages: %s", NPAGES, strerror(errno));
}

FIXTURE_TEARDOWN(mm)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->len);
	if (self->fd >= 0)
		close(self->fd);
}

/* Pages inserted with INSERT read their fill byte over the whole page. */
TEST_F(mm, insert_read_back)
{
	static const __u32 fills[NPAGES] = { 'A', 'B', 'C', 0x1c3 };
	struct rust_mm_sample_stats before, after;
	int i;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(0, insert(self->fd, i, fills[i]));
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, page_reads(self->map + i * self->psz,
					(unsigned char)fills[i]))
			TH_LOG("page %d", i);
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.inserted + NPAGES, after.inserted);
	EXPECT_EQ(before.held + NPAGES, after.held);
}

/* The same through the mmap write lock. */
TEST_F(mm, insert_write_locked_read_back)
{
	struct rust_mm_sample_stats before, after;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	ASSERT_EQ(0, insert_wl(self->fd, 2, 'W'));
	ASSERT_EQ(0, insert_wl(self->fd, 0, 0x5a));
	EXPECT_EQ(0, page_reads(self->map + 2 * self->psz, 'W'));
	EXPECT_EQ(0, page_reads(self->map, 0x5a));
	/* The pages next to them were not inserted. */
	EXPECT_TRUE(gives_sigbus(self->map + 1 * self->psz));
	EXPECT_TRUE(gives_sigbus(self->map + 3 * self->psz));
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.inserted + 2, after.inserted);
	EXPECT_EQ(before.held + 2, after.held);
}

/* A page that was never inserted gives SIGBUS. */
TEST_F(mm, untouched_page_sigbus)
{
	int i;

	for (i = 0; i < NPAGES; i++) {
		struct probe r = probe_read(self->map + i * self->psz);

		EXPECT_EQ(SIGBUS, r.signo) TH_LOG("page %d", i);
		EXPECT_EQ(BUS_ADRERR, r.code);
		EXPECT_EQ(self->map + i * self->psz, r.addr);
	}
}

/* ZAP takes the page away: the next access gives SIGBUS. */
TEST_F(mm, zap_then_sigbus)
{
	struct rust_mm_sample_stats before, after;
	char *page1 = self->map + self->psz;
	struct probe r;

	ASSERT_EQ(0, insert(self->fd, 0, 'K'));
	ASSERT_EQ(0, insert(self->fd, 1, 'Z'));
	ASSERT_EQ(0, page_reads(page1, 'Z'));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	ASSERT_EQ(0, zap(self->fd, 1));
	r = probe_read(page1 + 123);
	EXPECT_EQ(SIGBUS, r.signo);
	EXPECT_EQ(BUS_ADRERR, r.code);
	EXPECT_EQ(page1 + 123, r.addr);
	/* Only that page went away. */
	EXPECT_EQ(0, page_reads(self->map, 'K'));
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.zapped + 1, after.zapped);
	EXPECT_EQ(before.held - 1, after.held);
	/* The index is free again. */
	ASSERT_EQ(0, insert(self->fd, 1, 'N'));
	EXPECT_EQ(0, page_reads(page1, 'N'));
}

/* INSERT outside the mapping is EINVAL and inserts nothing. */
TEST_F(mm, insert_out_of_range)
{
	static const __u32 bad[] = { NPAGES, RUST_MM_SAMPLE_MAX_PAGES,
				     RUST_MM_SAMPLE_MAX_PAGES + 1, 0xffffffffu };
	struct rust_mm_sample_stats before, after;
	unsigned int i;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(EINVAL, insert(self->fd, bad[i], 'X'))
			TH_LOG("INSERT index %u", bad[i]);
		EXPECT_EQ(EINVAL, insert_wl(self->fd, bad[i], 'X'))
			TH_LOG("INSERT_WRITE_LOCKED index %u", bad[i]);
	}
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.inserted, after.inserted);
	EXPECT_EQ(before.held, after.held);
}

/* ZAP outside the mapping is EINVAL and zaps nothing. */
TEST_F(mm, zap_out_of_range)
{
	static const unsigned long bad[] = { NPAGES, RUST_MM_SAMPLE_MAX_PAGES,
					     0xffffffffUL, ~0UL };
	struct rust_mm_sample_stats before, after;
	unsigned int i;

	ASSERT_EQ(0, insert(self->fd, NPAGES - 1, 'L'));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(EINVAL, zap(self->fd, bad[i]))
			TH_LOG("ZAP index %lu", bad[i]);
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.zapped, after.zapped);
	EXPECT_EQ(0, page_reads(self->map + (NPAGES - 1) * self->psz, 'L'));
}

/* A second INSERT at the same index is EBUSY and keeps the first page. */
TEST_F(mm, double_insert_ebusy)
{
	struct rust_mm_sample_stats before, after;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	ASSERT_EQ(0, insert(self->fd, 1, 'A'));
	EXPECT_EQ(EBUSY, insert(self->fd, 1, 'B'));
	EXPECT_EQ(EBUSY, insert_wl(self->fd, 1, 'C'));
	EXPECT_EQ(0, page_reads(self->map + self->psz, 'A'));
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.inserted + 1, after.inserted);
	EXPECT_EQ(before.held + 1, after.held);
}

/* A writable mapping is refused, and the refusal leaves no mapping behind. */
TEST_F(mm, writable_mmap_refused)
{
	int fd = open_dev();
	void *p;

	ASSERT_LE(0, fd);
	p = map_dev(fd, self->len, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, p);
	if (p == MAP_FAILED) {
		EXPECT_TRUE(errno == EACCES || errno == EINVAL)
			TH_LOG("MAP_SHARED PROT_WRITE: %s", strerror(errno));
	} else {
		munmap(p, self->len);
	}

	p = map_dev(fd, self->len, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	EXPECT_EQ(MAP_FAILED, p);
	if (p == MAP_FAILED) {
		EXPECT_TRUE(errno == EACCES || errno == EINVAL)
			TH_LOG("MAP_PRIVATE PROT_WRITE: %s", strerror(errno));
	} else {
		munmap(p, self->len);
	}

	/* The failed attempts did not count as "the" mapping of the file. */
	p = map_dev(fd, self->len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("read-only mmap: %s", strerror(errno));
	EXPECT_EQ(0, insert(fd, 0, 'R'));
	EXPECT_EQ(0, page_reads(p, 'R'));
	munmap(p, self->len);
	close(fd);
}

/* mprotect() cannot make the mapping writable later (VM_MAYWRITE is gone). */
TEST_F(mm, mprotect_write_refused)
{
	int fd;
	void *p;

	ASSERT_EQ(0, insert(self->fd, 0, 'P'));
	EXPECT_EQ(-1, mprotect(self->map, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(self->map, self->psz, PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	/* Still mapped and read-only: reads work, the page is unchanged. */
	EXPECT_EQ(0, page_reads(self->map, 'P'));

	/* A private read-only mapping cannot be made writable either. */
	fd = open_dev();
	ASSERT_LE(0, fd);
	p = map_dev(fd, self->len, PROT_READ, MAP_PRIVATE, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("MAP_PRIVATE mmap: %s", strerror(errno));
	EXPECT_EQ(-1, mprotect(p, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, self->len);
	close(fd);
}

/* More than RUST_MM_SAMPLE_MAX_PAGES pages is EINVAL; exactly that is fine. */
TEST_F(mm, mmap_too_large_refused)
{
	size_t max = RUST_MM_SAMPLE_MAX_PAGES * self->psz;
	int fd = open_dev();
	char *p;

	ASSERT_LE(0, fd);
	p = map_dev(fd, max + self->psz, PROT_READ, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, max + self->psz);

	p = map_dev(fd, max, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap of the maximum: %s", strerror(errno));
	EXPECT_EQ(0, insert(fd, RUST_MM_SAMPLE_MAX_PAGES - 1, 'M'));
	EXPECT_EQ(0, page_reads(p + max - self->psz, 'M'));
	EXPECT_EQ(EINVAL, insert(fd, RUST_MM_SAMPLE_MAX_PAGES, 'M'));
	munmap(p, max);
	close(fd);
}

/* A nonzero offset is EINVAL. */
TEST_F(mm, mmap_offset_refused)
{
	int fd = open_dev();
	void *p;

	ASSERT_LE(0, fd);
	p = map_dev(fd, self->psz, PROT_READ, MAP_SHARED, self->psz);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, self->psz);
	close(fd);
}

/* One mapping per open file: a second mmap while it exists is EBUSY. */
TEST_F(mm, second_mmap_ebusy)
{
	void *p = map_dev(self->fd, self->len, PROT_READ, MAP_SHARED, 0);

	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBUSY, errno);
	if (p != MAP_FAILED)
		munmap(p, self->len);
	/* The first mapping is still the one INSERT goes to. */
	ASSERT_EQ(0, insert(self->fd, 0, 'F'));
	EXPECT_EQ(0, page_reads(self->map, 'F'));
}

/* After munmap the same file can be mapped again. */
TEST_F(mm, remap_after_munmap)
{
	char *p;

	ASSERT_EQ(0, insert(self->fd, 0, 'O'));
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	p = map_dev(self->fd, self->len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("second mmap: %s", strerror(errno));
	self->map = p;
	/* The new mapping starts empty. */
	EXPECT_TRUE(gives_sigbus(p));
	ASSERT_EQ(0, insert(self->fd, 0, 'Q'));
	EXPECT_EQ(0, page_reads(p, 'Q'));
}

/* VM_DONTCOPY: a forked child has no mapping at that address. */
TEST_F(mm, fork_child_has_no_mapping)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, insert(self->fd, 0, 'D'));
	ASSERT_EQ(1, maps_has(self->map));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct probe r;

		if (maps_has(self->map) != 0)
			_exit(1);
		r = probe_read(self->map);
		if (r.signo == 0)
			_exit(2);
		if (r.signo != SIGSEGV || r.code != SEGV_MAPERR)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 1 = mapping in its maps, 2 = page readable, 3 = not SEGV_MAPERR");
	/* The parent keeps its mapping and page. */
	EXPECT_EQ(0, page_reads(self->map, 'D'));
}

/*
 * Fills the first half of @p with pattern_byte() and leaves the second half
 * untouched (no page yet: a page inserted there would show as non-zero).
 */
static void fill_half(char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len / 2; i++)
		p[i] = pattern_byte(i);
}

/* Returns the offset of the first byte that fill_half() did not leave, or -1. */
static long check_half(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char want = i < len / 2 ? pattern_byte(i) : 0;

		if ((unsigned char)p[i] != want)
			return i;
	}
	return -1;
}

/*
 * Every INSERT, INSERT_WRITE_LOCKED and ZAP through @fd is refused with an
 * error the driver documents for "not my mapping", and its counters do not
 * move.
 */
static void expect_all_refused(struct __test_metadata *_metadata, int fd)
{
	struct rust_mm_sample_stats before, after;
	int i, err;

	ASSERT_EQ(0, get_stats(fd, &before));
	for (i = 0; i < NPAGES; i++) {
		err = insert(fd, i, 0xab);
		EXPECT_TRUE(is_refusal(err)) TH_LOG("INSERT %d: %s", i, strerror(err));
		err = insert_wl(fd, i, 0xab);
		EXPECT_TRUE(is_refusal(err))
			TH_LOG("INSERT_WRITE_LOCKED %d: %s", i, strerror(err));
		err = zap(fd, i);
		EXPECT_TRUE(is_refusal(err)) TH_LOG("ZAP %d: %s", i, strerror(err));
	}
	ASSERT_EQ(0, get_stats(fd, &after));
	EXPECT_EQ(before.inserted, after.inserted);
	EXPECT_EQ(before.zapped, after.zapped);
}

/*
 * CVE-2026-43434 regression: the driver must not insert into (or zap)
 * whatever the process mapped at the address after the driver's mapping went
 * away.
 */
TEST_F(mm, cve_2026_43434_munmap_remap_anon)
{
	char *anon;
	long bad;

	ASSERT_EQ(0, insert(self->fd, 0, 0xee));
	ASSERT_EQ(0, munmap(self->map, self->len));
	anon = mmap(self->map, self->len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(self->map, anon) TH_LOG("MAP_FIXED: %s", strerror(errno));
	fill_half(anon, self->len);

	expect_all_refused(_metadata, self->fd);

	bad = check_half(anon, self->len);
	EXPECT_EQ(-1, bad)
		TH_LOG("anonymous memory changed at offset %ld: 0x%02x", bad,
		       (unsigned char)anon[bad < 0 ? 0 : bad]);
	/* The teardown unmaps it: it has the same address and length. */
}

/*
 * The end of the mapping that starts at @addr in /proc/self/maps, or 0 if
 * none starts there: the driver's mapping must stay one VMA.
 */
static unsigned long maps_end(void *addr)
{
	unsigned long start, end, found = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 &&
		    start == (unsigned long)addr) {
			found = end;
			break;
		}
	}
	fclose(f);
	return found;
}

/*
 * The mapping is still the driver's, whole, where it was, and with the pages
 * of @fills (0: none) readable; the counters did not move since @before; and
 * a second mmap of the file is still EBUSY.
 */
struct mapping_of_file {
	int fd;
	char *map;
	size_t len;
	long psz;
};

static void expect_intact(struct __test_metadata *_metadata,
			  const struct mapping_of_file *self,
			  const unsigned char *fills,
			  const struct rust_mm_sample_stats *before)
{
	struct rust_mm_sample_stats after;
	void *p;
	int i;

	EXPECT_EQ((unsigned long)self->map + self->len, maps_end(self->map));
	for (i = 0; i < NPAGES; i++) {
		if (fills[i]) {
			EXPECT_EQ(0, page_reads(self->map + i * self->psz, fills[i]))
				TH_LOG("page %d", i);
		} else {
			EXPECT_TRUE(gives_sigbus(self->map + i * self->psz)) TH_LOG("page %d", i);
		}
	}
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(0, memcmp(before, &after, sizeof(after)));
	p = map_dev(self->fd, self->len, PROT_READ, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBUSY, errno);
	if (p != MAP_FAILED)
		munmap(p, self->len);
}

/*
 * The mapping cannot be split: a partial munmap, a MAP_FIXED mapping over
 * part of it, mprotect or madvise on part of it fail with EINVAL and change
 * nothing. Every page can still be zapped and inserted at its own address.
 */
TEST_F(mm, split_refused)
{
	static const unsigned char fills[NPAGES] = { 'a', 0, 'c', 'd' };
	struct rust_mm_sample_stats before, after;
	char *p;
	int i;
	const struct mapping_of_file m = {
		self->fd, self->map, self->len, self->psz,
	};

	for (i = 0; i < NPAGES; i++)
		if (fills[i])
			ASSERT_EQ(0, insert(self->fd, i, fills[i]));
	ASSERT_EQ(0, get_stats(self->fd, &before));

	EXPECT_EQ(-1, munmap(self->map + self->psz, self->psz));
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);
	EXPECT_EQ(-1, munmap(self->map, 2 * self->psz));
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);

	p = mmap(self->map + 3 * self->psz, self->psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);

	EXPECT_EQ(-1, mprotect(self->map + 2 * self->psz, self->psz, PROT_NONE));
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);

	EXPECT_EQ(-1, madvise(self->map + 2 * self->psz, 2 * self->psz, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);

	/* Each page at its own address: zap the last two, insert them anew. */
	ASSERT_EQ(0, zap(self->fd, 3));
	ASSERT_EQ(0, zap(self->fd, 2));
	EXPECT_TRUE(gives_sigbus(self->map + 3 * self->psz));
	ASSERT_EQ(0, insert(self->fd, 3, 'z'));
	ASSERT_EQ(0, insert(self->fd, 1, 'y'));
	EXPECT_EQ(0, page_reads(self->map + 3 * self->psz, 'z'));
	EXPECT_EQ(0, page_reads(self->map + self->psz, 'y'));
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.zapped + 2, after.zapped);
	EXPECT_EQ(before.inserted + 2, after.inserted);
	EXPECT_EQ(before.freed, after.freed);
}

/*
 * mremap cannot move, shrink or grow the mapping: EINVAL, EINVAL, EFAULT.
 * A refused move opens and closes a copy of the VMA at the target: that close
 * must not make the driver forget the mapping.
 */
TEST_F(mm, mremap_refused)
{
	static const unsigned char fills[NPAGES] = { 0, 'm', 0, 'o' };
	struct rust_mm_sample_stats before;
	char *target, *p;
	const struct mapping_of_file m = {
		self->fd, self->map, self->len, self->psz,
	};

	ASSERT_EQ(0, insert(self->fd, 1, 'm'));
	ASSERT_EQ(0, insert(self->fd, 3, 'o'));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	target = mmap(NULL, self->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, target);

	p = mremap(self->map, self->len, self->len, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	/* MREMAP_FIXED unmapped the target first; nothing is left there. */
	EXPECT_EQ(0, maps_has(target));
	expect_intact(_metadata, &m, fills, &before);

	p = mremap(self->map, self->len, self->len - self->psz, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	expect_intact(_metadata, &m, fills, &before);

	p = mremap(self->map, self->len, 2 * self->len, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EFAULT, errno);
	expect_intact(_metadata, &m, fills, &before);

	/* The mapping is still the one INSERT goes to. */
	ASSERT_EQ(0, insert(self->fd, 0, 'n'));
	EXPECT_EQ(0, page_reads(self->map, 'n'));
	munmap(target, self->len);
}

/* PROT_EXEC is refused at mmap (EINVAL) and by mprotect later (EACCES). */
TEST_F(mm, exec_refused)
{
	int fd = open_dev();
	void *p;

	ASSERT_LE(0, fd);
	p = map_dev(fd, self->len, PROT_READ | PROT_EXEC, MAP_SHARED, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, self->len);
	close(fd);

	ASSERT_EQ(0, insert(self->fd, 0, 'x'));
	EXPECT_EQ(-1, mprotect(self->map, self->len, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(0, page_reads(self->map, 'x'));
}

/*
 * After madvise(MADV_DOFORK), fork copies the mapping: the child sees the
 * pages mapped at the fork and nothing the parent inserts or zaps later, and
 * its exit leaves the parent's mapping and the counters alone.
 */
TEST_F(mm, dofork_child_gets_a_copy)
{
	struct rust_mm_sample_stats before, after;
	int go[2], status;
	pid_t pid;
	char c = 0;

	ASSERT_EQ(0, insert(self->fd, 0, 'D'));
	ASSERT_EQ(0, madvise(self->map, self->len, MADV_DOFORK));
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(go[1]);
		if (page_reads(self->map, 'D'))
			_exit(1);
		if (!gives_sigbus(self->map + self->psz))
			_exit(2);
		/* Wait for the parent's INSERT of page 1 and ZAP of page 0. */
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		if (page_reads(self->map, 'D'))
			_exit(4);
		if (!gives_sigbus(self->map + self->psz))
			_exit(5);
		if (maps_end(self->map) != (unsigned long)self->map + self->len)
			_exit(6);
		_exit(0);
	}
	close(go[0]);
	ASSERT_EQ(0, insert(self->fd, 1, 'E'));
	ASSERT_EQ(0, zap(self->fd, 0));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	ASSERT_EQ(1, write(go[1], &c, 1));
	close(go[1]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 1/4 = page 0 not 'D', 2/5 = page 1 not SIGBUS, 3 = pipe, 6 = maps");

	/* The copy's close freed nothing of the parent's. */
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(0, memcmp(&before, &after, sizeof(after)));
	EXPECT_TRUE(gives_sigbus(self->map));
	EXPECT_EQ(0, page_reads(self->map + self->psz, 'E'));
	ASSERT_EQ(0, insert(self->fd, 2, 'F'));
	EXPECT_EQ(0, page_reads(self->map + 2 * self->psz, 'F'));
	EXPECT_EQ(EBUSY, insert(self->fd, 1, 'G'));
}

/*
 * madvise(MADV_DONTNEED) unmaps an inserted page: it gives SIGBUS, and
 * INSERT at its index maps a new page and frees the old one; ZAP after
 * MADV_DONTNEED frees the page the driver still holds.
 */
TEST_F(mm, madvise_dontneed)
{
	struct rust_mm_sample_stats st0, st1, st2, st3;

	ASSERT_EQ(0, insert(self->fd, 0, 'M'));
	ASSERT_EQ(0, insert(self->fd, 1, 'N'));
	ASSERT_EQ(0, get_stats(self->fd, &st0));
	ASSERT_EQ(0, madvise(self->map, 2 * self->psz, MADV_DONTNEED));
	EXPECT_TRUE(gives_sigbus(self->map));
	EXPECT_TRUE(gives_sigbus(self->map + self->psz));
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_EQ(0, memcmp(&st0, &st1, sizeof(st1)));

	ASSERT_EQ(0, insert(self->fd, 0, 'O'));
	EXPECT_EQ(0, page_reads(self->map, 'O'));
	ASSERT_EQ(0, get_stats(self->fd, &st2));
	EXPECT_EQ(st1.inserted + 1, st2.inserted);
	EXPECT_EQ(st1.freed + 1, st2.freed);
	EXPECT_EQ(st1.held, st2.held);
	/* Now mapped again: a second INSERT is EBUSY. */
	EXPECT_EQ(EBUSY, insert(self->fd, 0, 'P'));

	ASSERT_EQ(0, zap(self->fd, 1));
	EXPECT_TRUE(gives_sigbus(self->map + self->psz));
	ASSERT_EQ(0, get_stats(self->fd, &st3));
	EXPECT_EQ(st2.zapped + 1, st3.zapped);
	EXPECT_EQ(st2.held - 1, st3.held);
	EXPECT_TRUE(stats_consistent(&st3));
}

/*
 * Each kind of mapping that the driver must never touch, placed where its
 * mapping was. HUGE is the size of a PMD-mapped huge page on x86_64 (2 MiB):
 * the THP and hugetlb cases need a naturally aligned range of that size.
 */
#define HUGE		(2UL << 20)

enum foreign_kind { FOREIGN_THP, FOREIGN_HUGETLB, FOREIGN_MEMFD };
static const char * const foreign_names[] = { "anonymous THP", "hugetlb", "memfd (shmem)" };

/* A HUGE-aligned address with HUGE bytes free after it, or MAP_FAILED. */
static char *huge_aligned_hole(void)
{
	char *p = mmap(NULL, 2 * HUGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *aligned;

	if (p == MAP_FAILED)
		return p;
	aligned = (char *)(((uintptr_t)p + HUGE - 1) & ~(HUGE - 1));
	munmap(p, 2 * HUGE);
	return aligned;
}

/* The AnonHugePages of the mapping that starts at @addr, in kB, or -1. */
static long anon_huge_kb(void *addr)
{
	char line[256];
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start == (uintptr_t)addr;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Maps HUGE bytes of @kind at @addr and fills them with pattern_byte(). */
static char *map_foreign(enum foreign_kind kind, char *addr)
{
	int flags = MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, fd = -1;
	char *p;
	size_t i;

	switch (kind) {
	case FOREIGN_THP:
		break;
	case FOREIGN_HUGETLB:
		flags |= MAP_HUGETLB;
		break;
	case FOREIGN_MEMFD:
		fd = memfd_create("rust-mm-foreign", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, HUGE))
			return MAP_FAILED;
		flags = MAP_FIXED | MAP_SHARED;
		break;
	}
	p = mmap(addr, HUGE, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (fd >= 0)
		close(fd);
	if (p == MAP_FAILED)
		return p;
	if (kind == FOREIGN_THP && madvise(p, HUGE, MADV_HUGEPAGE))
		return MAP_FAILED;
	for (i = 0; i < HUGE; i++)
		p[i] = pattern_byte(i);
	return p;
}

/*
 * A THP-backed anonymous mapping, a hugetlb mapping or a memfd mapping where
 * the device's mapping was: every INSERT, INSERT_WRITE_LOCKED and ZAP is
 * refused with a documented error, the counters do not move, and every byte
 * of the other mapping stays as written. (A driver that inserted into the THP
 * or hugetlb mapping would corrupt the kernel's page tables; the console check
 * of make test sees that.)
 */
static void foreign_refused(struct __test_metadata *_metadata, int fd, long psz,
			    char **map, enum foreign_kind kind)
{
	char *addr, *dev, *p;
	long bad = -1;
	size_t i;

	/* Map the file again, at an address where a huge page fits. */
	ASSERT_EQ(0, munmap(*map, NPAGES * psz));
	*map = MAP_FAILED;
	addr = huge_aligned_hole();
	ASSERT_NE(MAP_FAILED, addr);
	dev = mmap(addr, NPAGES * psz, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
	ASSERT_EQ(addr, dev) TH_LOG("mmap of the device: %s", strerror(errno));
	ASSERT_EQ(0, insert(fd, 0, 0xd0));
	ASSERT_EQ(0, munmap(dev, NPAGES * psz));
	p = map_foreign(kind, addr);
	ASSERT_EQ(addr, p) TH_LOG("%s at %p: %s", foreign_names[kind], addr, strerror(errno));
	if (kind == FOREIGN_THP)
		ASSERT_EQ(HUGE / 1024, anon_huge_kb(p))
			TH_LOG("the anonymous mapping is not backed by a THP");

	expect_all_refused(_metadata, fd);
	for (i = 0; i < HUGE && bad < 0; i++)
		if ((unsigned char)p[i] != pattern_byte(i))
			bad = i;
	EXPECT_EQ(-1, bad) TH_LOG("%s changed at offset %ld", foreign_names[kind], bad);
	if (kind == FOREIGN_THP)
		EXPECT_EQ(HUGE / 1024, anon_huge_kb(p)) TH_LOG("the THP was split");
	EXPECT_EQ(0, munmap(p, HUGE));
}

TEST_F(mm, foreign_thp_refused)
{
	foreign_refused(_metadata, self->fd, self->psz, &self->map, FOREIGN_THP);
}

TEST_F(mm, foreign_hugetlb_refused)
{
	/* One huge page for the test; the pool is empty at boot. */
	ASSERT_EQ(0, write_sysctl("/proc/sys/vm/nr_hugepages", "1\n"))
		TH_LOG("reserving a huge page (needs root and CONFIG_HUGETLBFS)");
	foreign_refused(_metadata, self->fd, self->psz, &self->map, FOREIGN_HUGETLB);
	EXPECT_EQ(0, write_sysctl("/proc/sys/vm/nr_hugepages", "0\n"));
}

TEST_F(mm, foreign_memfd_refused)
{
	foreign_refused(_metadata, self->fd, self->psz, &self->map, FOREIGN_MEMFD);
}

/*
 * Another file's mapping of the same device where this file's mapping was:
 * the first file's INSERT and ZAP are refused, and the other file's page
 * stays.
 */
TEST_F(mm, other_file_mapping_refused)
{
	int other, n;
	char *p;

	other = open_dev();
	ASSERT_LE(0, other);
	ASSERT_EQ(0, munmap(self->map, self->len));
	p = mmap(self->map, self->len, PROT_READ, MAP_SHARED | MAP_FIXED, other, 0);
	ASSERT_EQ(self->map, p) TH_LOG("MAP_FIXED of another file: %s", strerror(errno));
	ASSERT_EQ(0, insert(other, 0, 'o'));

	expect_all_refused(_metadata, self->fd);
	EXPECT_EQ(0, page_reads(p, 'o'));
	for (n = 1; n < NPAGES; n++)
		EXPECT_TRUE(gives_sigbus(p + n * self->psz)) TH_LOG("page %d", n);
	/* The teardown unmaps it: same address and length. */
	close(other);
}

/* INSERT and ZAP after munmap fail cleanly, with nothing mapped there. */
TEST_F(mm, insert_after_munmap)
{
	struct rust_mm_sample_stats before, after;
	int err;

	ASSERT_EQ(0, insert(self->fd, 2, 'U'));
	ASSERT_EQ(0, munmap(self->map, self->len));
	ASSERT_EQ(0, maps_has(self->map));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	err = insert(self->fd, 0, 'U');
	EXPECT_TRUE(is_refusal(err)) TH_LOG("INSERT: %s", strerror(err));
	err = insert_wl(self->fd, 1, 'U');
	EXPECT_TRUE(is_refusal(err)) TH_LOG("INSERT_WRITE_LOCKED: %s", strerror(err));
	err = zap(self->fd, 2);
	EXPECT_TRUE(is_refusal(err)) TH_LOG("ZAP: %s", strerror(err));
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_EQ(before.inserted, after.inserted);
	EXPECT_EQ(before.held, after.held);
	/* The munmap did not create anything at the address either. */
	EXPECT_EQ(0, maps_has(self->map));
	self->map = MAP_FAILED;
}

/* The shrinker takes inserted pages back on drop_caches. */
TEST_F_TIMEOUT(mm, drop_caches_reclaims, 120)
{
	struct rust_mm_sample_stats before, after, again;
	int i, tries;

	for (i = 0; i < NPAGES; i++)
		ASSERT_EQ(0, insert(self->fd, i, 'a' + i));
	ASSERT_EQ(0, page_reads(self->map, 'a'));
	ASSERT_EQ(0, get_stats(self->fd, &before));
	log_stats("before drop_caches", &before);
	/* The shrinker only trylocks the mmap lock: give it a few chances. */
	for (tries = 0; tries < 5; tries++) {
		ASSERT_EQ(0, run_shrinkers())
			TH_LOG("writing /proc/sys/vm/drop_caches (needs root)");
		ASSERT_EQ(0, get_stats(self->fd, &after));
		if (after.reclaimed - before.reclaimed >= NPAGES)
			break;
		sleep_ms(100);
	}
	log_stats("after drop_caches", &after);
	EXPECT_LE(before.reclaimed + NPAGES, after.reclaimed);
	EXPECT_GE(before.held - NPAGES, after.held);
	for (i = 0; i < NPAGES; i++)
		EXPECT_TRUE(gives_sigbus(self->map + i * self->psz))
			TH_LOG("page %d still readable after reclaim", i);
	/*
	 * The indices are free again, and the driver holds no reclaimed page:
	 * the INSERT frees nothing and holds one page more.
	 */
	ASSERT_EQ(0, insert(self->fd, 0, 'r'));
	EXPECT_EQ(0, page_reads(self->map, 'r'));
	ASSERT_EQ(0, get_stats(self->fd, &again));
	EXPECT_EQ(after.freed, again.freed);
	EXPECT_EQ(after.held + 1, again.held);
}

/*
 * A process that exits with pages in its mapping gives them all back, and the
 * device keeps working.
 */
TEST_F(mm, exit_with_pages_mapped)
{
	struct rust_mm_sample_stats before, after;
	int status, fd, waited;
	pid_t pid;
	void *p;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int cfd = open_dev();
		char *cmap;
		int i;

		if (cfd < 0)
			_exit(1);
		cmap = map_dev(cfd, self->len, PROT_READ, MAP_SHARED, 0);
		if (cmap == MAP_FAILED)
			_exit(2);
		for (i = 0; i < NPAGES; i++)
			if (insert(cfd, i, 'e'))
				_exit(3);
		if (page_reads(cmap + (NPAGES - 1) * self->psz, 'e'))
			_exit(4);
		_exit(0);	/* no munmap, no close */
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 1 = open, 2 = mmap, 3 = INSERT, 4 = read back");

	/* The teardown of the child's address space may finish later. */
	for (waited = 0; waited <= 2000; waited += 50) {
		ASSERT_EQ(0, get_stats(self->fd, &after));
		if (after.held == before.held)
			break;
		sleep_ms(50);
	}
	log_stats("before the child", &before);
	log_stats("after the child", &after);
	EXPECT_EQ(before.held, after.held);
	EXPECT_EQ(before.inserted + NPAGES, after.inserted);
	EXPECT_LE(before.freed + before.reclaimed + NPAGES,
		  after.freed + after.reclaimed);

	/* A new open, mmap and INSERT work. */
	fd = open_dev();
	ASSERT_LE(0, fd);
	p = map_dev(fd, self->len, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, insert(fd, 0, 'n'));
	EXPECT_EQ(0, page_reads(p, 'n'));
	munmap(p, self->len);
	close(fd);
}

/*
 * held == inserted - zapped - reclaimed - freed, and each operation moves the
 * counter it should.
 */
TEST_F(mm, stats_consistent)
{
	struct rust_mm_sample_stats st0, st1, st2;

	ASSERT_EQ(0, get_stats(self->fd, &st0));
	log_stats("start", &st0);
	EXPECT_TRUE(stats_consistent(&st0));

	ASSERT_EQ(0, insert(self->fd, 0, 's'));
	ASSERT_EQ(0, insert_wl(self->fd, 1, 't'));
	ASSERT_EQ(0, insert(self->fd, 2, 'u'));
	ASSERT_EQ(0, zap(self->fd, 1));
	ASSERT_EQ(0, get_stats(self->fd, &st1));
	EXPECT_TRUE(stats_consistent(&st1));
	EXPECT_EQ(st0.inserted + 3, st1.inserted);
	EXPECT_EQ(st0.zapped + 1, st1.zapped);
	EXPECT_EQ(st0.held + 2, st1.held);

	/* munmap gives the two remaining pages back as "freed". */
	ASSERT_EQ(0, munmap(self->map, self->len));
	self->map = MAP_FAILED;
	ASSERT_EQ(0, get_stats(self->fd, &st2));
	log_stats("end", &st2);
	EXPECT_TRUE(stats_consistent(&st2));
	EXPECT_EQ(st1.inserted, st2.inserted);
	EXPECT_EQ(st1.held - 2, st2.held);
	EXPECT_EQ(st1.freed + st1.reclaimed + 2, st2.freed + st2.reclaimed);
}

/*
 * A file that had pages, gave them back (ZAP, munmap) and was closed is gone:
 * the driver keeps no closed file, whatever its shrinker's list saw of it.
 */
TEST_F(mm, closed_files_are_freed)
{
	struct rust_mm_sample_stats before, after;
	int round, fd;
	char *p;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	for (round = 0; round < 20; round++) {
		fd = open_dev();
		ASSERT_LE(0, fd);
		p = map_dev(fd, self->len, PROT_READ, MAP_SHARED, 0);
		ASSERT_NE(MAP_FAILED, p);
		ASSERT_EQ(0, insert(fd, 0, 'f'));
		ASSERT_EQ(0, insert(fd, 1, 'g'));
		if (round % 2)
			ASSERT_EQ(0, zap(fd, 1));
		ASSERT_EQ(0, munmap(p, self->len));
		ASSERT_EQ(0, close(fd));
	}
	ASSERT_EQ(0, get_stats(self->fd, &after));
	log_stats("before", &before);
	log_stats("after", &after);
	EXPECT_EQ(before.files, after.files);
	EXPECT_EQ(before.held, after.held);
}

/* A fault-driven mapping of @fd (RUST_MM_SAMPLE_ON_FAULT_PGOFF). */
static char *map_on_fault(int fd, size_t len)
{
	return map_dev(fd, len, PROT_READ, MAP_SHARED,
		       (off_t)RUST_MM_SAMPLE_ON_FAULT_PGOFF * page_size());
}

/*
 * Fault-driven: the first touch of each page fills it, once; after ZAP the
 * next touch fills a new one; INSERT where a page is mapped is EBUSY.
 */
TEST_F(mm, on_fault_fills_on_touch)
{
	struct rust_mm_sample_stats st0, st1, st2;
	int fd = open_dev(), i;
	char *p;

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, get_stats(fd, &st0));
	p = map_on_fault(fd, self->len);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_SAMPLE_FAULT_FILL(i)))
			TH_LOG("page %d", i);
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_SAMPLE_FAULT_FILL(i)));
	ASSERT_EQ(0, get_stats(fd, &st1));
	EXPECT_EQ(st0.inserted + NPAGES, st1.inserted);
	EXPECT_EQ(st0.faulted + NPAGES, st1.faulted);
	EXPECT_EQ(st0.held + NPAGES, st1.held);
	EXPECT_EQ(EBUSY, insert(fd, 2, 'x'));

	ASSERT_EQ(0, zap(fd, 1));
	EXPECT_EQ(0, page_reads(p + self->psz, RUST_MM_SAMPLE_FAULT_FILL(1)));
	ASSERT_EQ(0, get_stats(fd, &st2));
	EXPECT_EQ(st1.inserted + 1, st2.inserted);
	EXPECT_EQ(st1.faulted + 1, st2.faulted);
	EXPECT_EQ(st1.zapped + 1, st2.zapped);
	EXPECT_EQ(st1.held, st2.held);
	EXPECT_TRUE(stats_consistent(&st2));

	ASSERT_EQ(0, munmap(p, self->len));
	ASSERT_EQ(0, get_stats(fd, &st2));
	EXPECT_EQ(st0.held, st2.held);
	close(fd);
}

/* Fault-driven: a page dropped with MADV_DONTNEED comes back as it was. */
TEST_F(mm, on_fault_dontneed_keeps_page)
{
	struct rust_mm_sample_stats st0, st1;
	int fd = open_dev();
	char *p;

	ASSERT_LE(0, fd);
	p = map_on_fault(fd, self->len);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, insert(fd, 0, 'K'));
	ASSERT_EQ(0, page_reads(p, 'K'));
	ASSERT_EQ(0, get_stats(fd, &st0));
	ASSERT_EQ(0, madvise(p, self->psz, MADV_DONTNEED));
	EXPECT_EQ(0, page_reads(p, 'K'));
	ASSERT_EQ(0, get_stats(fd, &st1));
	EXPECT_EQ(0, memcmp(&st0, &st1, sizeof(st1)));
	munmap(p, self->len);
	close(fd);
}

struct toucher {
	int *ready;		/* threads at the start line */
	int nthreads;
	int cpu;
	const char *page;
	int got;
};

/* On its own CPU, waits (spinning) until all are ready, then touches the page. */
static void *touch_page(void *arg)
{
	struct toucher *t = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	__atomic_add_fetch(t->ready, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(t->ready, __ATOMIC_SEQ_CST) < t->nthreads)
		;
	t->got = __atomic_load_n((const unsigned char *)t->page, __ATOMIC_RELAXED);
	return NULL;
}

#define ROUNDS 200

/*
 * Fault-driven: threads on different CPUs touching the same page at once
 * all read one page, and the driver fills exactly one, round after round.
 */
TEST_F(mm, on_fault_concurrent_touch_one_page)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	int nthreads = ncpus < 2 ? 2 : ncpus > 8 ? 8 : ncpus;
	struct rust_mm_sample_stats before, after;
	int fd = open_dev(), round, i, ready;
	struct toucher t[8];
	pthread_t th[8];
	char *p;

	ASSERT_LE(0, fd);
	p = map_on_fault(fd, self->len);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, get_stats(fd, &before));
	for (round = 0; round < ROUNDS; round++) {
		ready = 0;
		for (i = 0; i < nthreads; i++) {
			t[i] = (struct toucher){
				.ready = &ready, .nthreads = nthreads, .cpu = i % ncpus,
				.page = p + 3 * self->psz,
			};
			ASSERT_EQ(0, pthread_create(&th[i], NULL, touch_page, &t[i]));
		}
		for (i = 0; i < nthreads; i++) {
			pthread_join(th[i], NULL);
			EXPECT_EQ(RUST_MM_SAMPLE_FAULT_FILL(3), t[i].got) TH_LOG("round %d", round);
		}
		ASSERT_EQ(0, zap(fd, 3)) TH_LOG("round %d", round);
	}
	ASSERT_EQ(0, get_stats(fd, &after));
	EXPECT_EQ(before.inserted + ROUNDS, after.inserted);
	EXPECT_EQ(before.faulted + ROUNDS, after.faulted);
	EXPECT_EQ(before.zapped + ROUNDS, after.zapped);
	EXPECT_EQ(before.freed, after.freed);
	munmap(p, self->len);
	close(fd);
}

/*
 * Fault-driven, after MADV_DOFORK: the child's copy shows the pages mapped
 * at the fork, and a page that was not gives SIGBUS; the parent's faults go
 * on.
 */
TEST_F(mm, on_fault_fork_copy)
{
	int fd = open_dev(), status;
	pid_t pid;
	char *p;

	ASSERT_LE(0, fd);
	p = map_on_fault(fd, self->len);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, page_reads(p, RUST_MM_SAMPLE_FAULT_FILL(0)));
	ASSERT_EQ(0, madvise(p, self->len, MADV_DOFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (page_reads(p, RUST_MM_SAMPLE_FAULT_FILL(0)))
			_exit(1);
		if (!gives_sigbus(p + self->psz))
			_exit(2);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("child: 1 = page 0, 2 = page 1 not SIGBUS");
	EXPECT_EQ(0, page_reads(p + self->psz, RUST_MM_SAMPLE_FAULT_FILL(1)));
	munmap(p, self->len);
	close(fd);
}

#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP_DIR	CGROUP_ROOT "/rust_mm_sample_test"
#define CHARGE_FILES	32

/*
 * In a cgroup of its own: maps CHARGE_FILES files of the device, then inserts
 * every page of them, and returns by how much the cgroup's memory.current grew
 * meanwhile (negative: an error).
 */
static long charged_by_inserts(void)
{
	size_t len = RUST_MM_SAMPLE_MAX_PAGES * page_size();
	int f, i, fds[CHARGE_FILES];
	long before, after;

	if (write_sysctl(CGROUP_DIR "/cgroup.procs", "0"))
		return -1;
	/* The files and mappings go away at the child's exit. */
	for (f = 0; f < CHARGE_FILES; f++) {
		fds[f] = open_dev();
		if (fds[f] < 0 ||
		    map_dev(fds[f], len, PROT_READ, MAP_SHARED, 0) == MAP_FAILED)
			return -2;
	}
	before = read_number(CGROUP_DIR "/memory.current");
	for (f = 0; f < CHARGE_FILES; f++)
		for (i = 0; i < RUST_MM_SAMPLE_MAX_PAGES; i++)
			if (insert(fds[f], i, 'c'))
				return -3;
	after = read_number(CGROUP_DIR "/memory.current");
	if (before < 0 || after < 0)
		return -4;
	return after - before;
}

/*
 * INSERT charges its pages to the memory cgroup of the process that asks:
 * a child in a cgroup of its own inserts CHARGE_FILES * MAX_PAGES pages
 * (2 MiB), and the cgroup's memory.current grows by at least 3/4 of that.
 * Pages not charged would leave only the child's other charges (page tables,
 * less than a dozen pages) and a refill of the per-CPU charge stock (64
 * pages) to show there: at most a quarter of it.
 */
TEST_F(mm, pages_charged_to_memcg)
{
	long want = CHARGE_FILES * RUST_MM_SAMPLE_MAX_PAGES * self->psz, got = -5;
	int pipefd[2], status;
	pid_t pid;

	if (access(CGROUP_ROOT "/cgroup.controllers", F_OK))
		ASSERT_EQ(0, mount("cgroup2", CGROUP_ROOT, "cgroup2", 0, NULL))
			TH_LOG("mounting cgroup2: %s (CONFIG_MEMCG?)", strerror(errno));
	ASSERT_EQ(0, write_sysctl(CGROUP_ROOT "/cgroup.subtree_control", "+memory"));
	ASSERT_TRUE(!mkdir(CGROUP_DIR, 0755) || errno == EEXIST);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		got = charged_by_inserts();
		_exit(write(pipefd[1], &got, sizeof(got)) == sizeof(got) ? 0 : 1);
	}
	close(pipefd[1]);
	ASSERT_EQ(sizeof(got), read(pipefd[0], &got, sizeof(got)));
	close(pipefd[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, rmdir(CGROUP_DIR)) TH_LOG("rmdir %s: %s", CGROUP_DIR, strerror(errno));
	ASSERT_LE(0, got)
		TH_LOG("child: -1 = joining the cgroup, -2 = open or mmap, -3 = INSERT, %s",
		       "-4 = reading memory.current");
	TH_LOG("memory.current grew by %ld kB for %ld kB inserted", got / 1024, want / 1024);
	EXPECT_LE(want * 3 / 4, got);
}

TEST_HARNESS_MAIN
