// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of samples/rust/rust_mm_pfn_sample.rs through /dev/rust-mm-pfn, the
 * PFN mode of the sample (see rust_mm_sample.h).
 *
 * Every case checks what the driver did, not only what it returned: the bytes
 * a mapping reads, the signal an access gives, the flags core mm shows in
 * /proc/self/smaps, the driver's counters, and the cache mode that the page
 * tables really have. For the last, it reads the page table dumps of debugfs
 * (CONFIG_PTDUMP_DEBUGFS): the bits PWT, PCD and PAT of the entries of the
 * user mapping, and how much of the kernel's direct mapping of RAM is
 * write-combining (PWT alone, in the PAT layout Linux programs), which grows
 * by the buffer while a write-combining buffer exists and is back when it is
 * gone. Needs root (debugfs) and x86 with PAT.
 *
 * The device must be there (the module loaded): a missing device is a
 * failure, not a skip.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include <unistd.h>

#include "kselftest_harness.h"
#include "rust_mm_probe.h"
#include "rust_mm_sample.h"

#define DEV_PATH	"/dev/rust-mm-pfn"
#define DEBUGFS		"/sys/kernel/debug"
/* This process's page tables, the user part included (without PTI, the only ones). */
#define PT_CURRENT	DEBUGFS "/page_tables/current_kernel"
#define PT_KERNEL	DEBUGFS "/page_tables/kernel"
#define NPAGES		RUST_MM_PFN_PAGES
#define WC		RUST_MM_PFN_WC_PGOFF
#define ON_FAULT	RUST_MM_PFN_ON_FAULT_PGOFF

static int open_dev(void)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

static int get_pfn_stats(int fd, struct rust_mm_pfn_stats *st)
{
	memset(st, 0xff, sizeof(*st));
	return ioctl(fd, RUST_MM_PFN_STATS, st) ? errno : 0;
}

static int fill_page(int fd, __u32 index, __u32 fill)
{
	struct rust_mm_pfn_fill arg = { .index = index, .fill = fill };

	return ioctl(fd, RUST_MM_PFN_FILL_PAGE, &arg) ? errno : 0;
}

static int zap_at(int fd, const void *addr)
{
	return ioctl(fd, RUST_MM_PFN_ZAP, (unsigned long)addr) ? errno : 0;
}

/* A mapping of @npages pages of the device at page offset @pgoff. */
static char *map_pfn(int fd, int npages, int prot, int flags, unsigned long pgoff)
{
	return mmap(NULL, npages * page_size(), prot, flags, fd, pgoff * page_size());
}

/* The driver's counters, read through a file of its own. */
static struct rust_mm_pfn_stats stats_now(void)
{
	struct rust_mm_pfn_stats st;
	int fd = open_dev();

	if (fd < 0 || get_pfn_stats(fd, &st))
		memset(&st, 0xff, sizeof(st));
	if (fd >= 0)
		close(fd);
	return st;
}

/*
 * The counters that must be back where they were once a mapping and its
 * buffer are gone: buffers and mappings that exist, open files; and every
 * buffer allocated since was freed.
 */
static bool nothing_left(const struct rust_mm_pfn_stats *before,
			 const struct rust_mm_pfn_stats *after)
{
	bool ok = before->buffers == after->buffers &&
		  before->mappings == after->mappings &&
		  before->files == after->files &&
		  after->allocated - before->allocated == after->freed - before->freed;

	if (!ok)
		fprintf(stderr,
			"# left behind: buffers %llu -> %llu, mappings %llu -> %llu, files %llu -> %llu, allocated +%llu, freed +%llu\n",
			(unsigned long long)before->buffers, (unsigned long long)after->buffers,
			(unsigned long long)before->mappings, (unsigned long long)after->mappings,
			(unsigned long long)before->files, (unsigned long long)after->files,
			(unsigned long long)(after->allocated - before->allocated),
			(unsigned long long)(after->freed - before->freed));
	return ok;
}

/* The VmFlags line of the mapping that starts at @addr in /proc/self/smaps. */
static bool smaps_flags(const void *addr, char *flags, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/self/smaps", "r");
	bool in = false, found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
			in = start == (unsigned long)addr;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			size_t n = strlen(line + 8);

			n = n < size ? n : size - 1;
			memcpy(flags, line + 8, n);
			flags[n] = '\0';
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

/* Whether the VmFlags @flags have the two-letter flag @fl. */
static bool has_flag(const char *flags, const char *fl)
{
	char want[8];

	snprintf(want, sizeof(want), " %s", fl);
	for (const char *p = flags; (p = strstr(p, want)); p += 3)
		if (p[3] == ' ' || p[3] == '\n' || p[3] == '\0')
			return true;
	return false;
}

static void mount_debugfs(void)
{
	struct stat st;

	if (stat(DEBUGFS "/page_tables", &st))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
}

/* Cache bits of a page table dump line, and whether it is present. */
#define PT_PWT		1
#define PT_PCD		2
#define PT_PAT		4
#define PT_PRESENT	8

static int line_bits(const char *line)
{
	static const char sep[] = { ' ', '\n', '\0' };
	size_t n = strlen(line);
	char copy[256], *tok, *save;
	int bits = 0;

	n = n < sizeof(copy) ? n : sizeof(copy) - 1;
	memcpy(copy, line, n);
	copy[n] = '\0';
	for (tok = strtok_r(copy, sep, &save); tok; tok = strtok_r(NULL, sep, &save)) {
		if (!strcmp(tok, "PWT"))
			bits |= PT_PWT;
		else if (!strcmp(tok, "PCD"))
			bits |= PT_PCD;
		else if (!strcmp(tok, "PAT"))
			bits |= PT_PAT;
		else if (!strcmp(tok, "RW") || !strcmp(tok, "ro"))
			bits |= PT_PRESENT;
	}
	return bits;
}

/*
 * The bits of the entry that maps @addr in this process's user page tables,
 * or -1 if the dump cannot be read.
 */
static int user_pte_bits(const void *addr)
{
	char line[256];
	FILE *f = fopen(PT_CURRENT, "r");
	int bits = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "0x%lx-0x%lx", &start, &end) == 2 &&
		    start <= (unsigned long)addr && (unsigned long)addr < end) {
			bits = line_bits(line);
			break;
		}
	}
	fclose(f);
	return bits;
}

/*
 * How many bytes of the kernel's direct mapping of memory ("Low Kernel
 * Mapping") are write-combining: present, PWT without PCD or PAT. -1 if the
 * dump cannot be read.
 */
static long direct_map_wc_bytes(void)
{
	char line[256];
	FILE *f = fopen(PT_KERNEL, "r");
	bool in = false;
	long total = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (!strncmp(line, "---[ ", 5)) {
			if (in)
				break;
			in = !!strstr(line, "Low Kernel Mapping");
			continue;
		}
		if (in && sscanf(line, "0x%lx-0x%lx", &start, &end) == 2 &&
		    line_bits(line) == (PT_PRESENT | PT_PWT))
			total += end - start;
	}
	fclose(f);
	return in ? total : -1;
}

FIXTURE(pfn)
{
	long psz;
	int fd;
	struct rust_mm_pfn_stats start;
};

FIXTURE_SETUP(pfn)
{
	self->psz = page_size();
	self->fd = open_dev();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s (is the rust_mm_pfn_sample module loaded?)",
		       DEV_PATH, strerror(errno));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &self->start));
	mount_debugfs();
}

FIXTURE_TEARDOWN(pfn)
{
	struct rust_mm_pfn_stats end;

	if (self->fd < 0)
		return;
	close(self->fd);
	/*
	 * Every case leaves nothing behind: no buffer, no mapping, no file
	 * (stats_now() has one open, as the case had).
	 */
	end = stats_now();
	EXPECT_TRUE(nothing_left(&self->start, &end));
}

/*
 * The eager cached mapping shows the buffer as the driver filled it, has the
 * flags of a PFN mapping, and takes one buffer that its munmap frees.
 */
TEST_F(pfn, eager_reads_the_buffer)
{
	struct rust_mm_pfn_stats mapped, unmapped;
	char flags[256];
	char *p;
	int i;

	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_PFN_FILL(i)))
			TH_LOG("page %d", i);
	ASSERT_EQ(0, get_pfn_stats(self->fd, &mapped));
	EXPECT_EQ(self->start.buffers + 1, mapped.buffers);
	EXPECT_EQ(self->start.allocated + 1, mapped.allocated);
	EXPECT_EQ(self->start.mappings + 1, mapped.mappings);
	EXPECT_EQ(self->start.faulted, mapped.faulted);
	ASSERT_TRUE(smaps_flags(p, flags, sizeof(flags)));
	EXPECT_TRUE(has_flag(flags, "pf") && has_flag(flags, "io") &&
		    has_flag(flags, "de") && has_flag(flags, "dd"))
		TH_LOG("VmFlags:%s", flags);
	EXPECT_FALSE(has_flag(flags, "mm") || has_flag(flags, "wr") ||
		     has_flag(flags, "mw") || has_flag(flags, "ex") ||
		     has_flag(flags, "me"))
		TH_LOG("VmFlags:%s", flags);
	/* Cached: no cache bit in the entries. */
	EXPECT_EQ(PT_PRESENT, user_pte_bits(p + self->psz));
	ASSERT_EQ(0, munmap(p, NPAGES * self->psz));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &unmapped));
	EXPECT_EQ(self->start.freed + 1, unmapped.freed);
	EXPECT_EQ(self->start.buffers, unmapped.buffers);
	/* The file keeps no buffer. */
	EXPECT_EQ(EINVAL, fill_page(self->fd, 0, 'x'));
}

/* A private mapping without PROT_WRITE is not copy-on-write: it is the same. */
TEST_F(pfn, private_mapping)
{
	char *p = map_pfn(self->fd, 2, PROT_READ, MAP_PRIVATE, 0);

	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	EXPECT_EQ(0, page_reads(p + self->psz, RUST_MM_PFN_FILL(1)));
	ASSERT_EQ(0, fill_page(self->fd, 1, 'p'));
	EXPECT_EQ(0, page_reads(p + self->psz, 'p'));
	EXPECT_EQ(0, munmap(p, 2 * self->psz));
}

/*
 * Every mapping of a file shows its one buffer: FILL_PAGE shows in all of
 * them at once, in the eager and the fault-driven kind.
 */
TEST_F(pfn, one_buffer_many_mappings)
{
	struct rust_mm_pfn_stats st;
	char *a, *b, *c;

	a = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, a);
	b = map_pfn(self->fd, 3, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, b);
	c = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, c);
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.allocated + 1, st.allocated);
	EXPECT_EQ(self->start.mappings + 3, st.mappings);
	ASSERT_EQ(0, fill_page(self->fd, 2, 'Q'));
	EXPECT_EQ(0, page_reads(a + 2 * self->psz, 'Q'));
	EXPECT_EQ(0, page_reads(b + 2 * self->psz, 'Q'));
	EXPECT_EQ(0, page_reads(c + 2 * self->psz, 'Q'));
	EXPECT_EQ(0, page_reads(c + 3 * self->psz, RUST_MM_PFN_FILL(3)));
	ASSERT_EQ(0, fill_page(self->fd, 2, 'R'));
	EXPECT_EQ(0, page_reads(c + 2 * self->psz, 'R'));
	EXPECT_EQ(0, page_reads(a + 2 * self->psz, 'R'));
	/* The buffer lives while any of them does. */
	EXPECT_EQ(0, munmap(a, NPAGES * self->psz));
	EXPECT_EQ(0, munmap(c, NPAGES * self->psz));
	EXPECT_EQ(0, fill_page(self->fd, 0, 'S'));
	EXPECT_EQ(0, page_reads(b, 'S'));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.buffers + 1, st.buffers);
	EXPECT_EQ(0, munmap(b, 3 * self->psz));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.buffers, st.buffers);
	EXPECT_EQ(self->start.freed + 1, st.freed);
}

/* Out-of-range FILL_PAGE is EINVAL and changes no page. */
TEST_F(pfn, fill_out_of_range)
{
	static const __u32 bad[] = { NPAGES, NPAGES + 1, 0x80000000u, 0xffffffffu };
	char *p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	unsigned int i;
	int j;

	ASSERT_NE(MAP_FAILED, p);
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		EXPECT_EQ(EINVAL, fill_page(self->fd, bad[i], 'X')) TH_LOG("index %u", bad[i]);
	for (j = 0; j < NPAGES; j++)
		EXPECT_EQ(0, page_reads(p + j * self->psz, RUST_MM_PFN_FILL(j)));
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
}

/*
 * The fault-driven mapping maps each page at its first touch, once, and
 * again after ZAP; nothing is mapped before.
 */
TEST_F(pfn, fault_driven)
{
	struct rust_mm_pfn_stats a, b;
	char *p;
	int i;

	p = map_pfn(self->fd, 3, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &a));
	EXPECT_EQ(self->start.faulted, a.faulted);
	EXPECT_EQ(0, user_pte_bits(p)) TH_LOG("mapped before the first touch");
	for (i = 0; i < 3; i++) {
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_PFN_FILL(i)));
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_PFN_FILL(i)));
	}
	EXPECT_EQ(PT_PRESENT, user_pte_bits(p + 2 * self->psz));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &b));
	EXPECT_EQ(a.faulted + 3, b.faulted);
	/* Zapped, the page comes back at the next touch, with what is there now. */
	ASSERT_EQ(0, zap_at(self->fd, p + self->psz));
	EXPECT_EQ(0, user_pte_bits(p + self->psz));
	ASSERT_EQ(0, fill_page(self->fd, 1, 'z'));
	EXPECT_EQ(0, page_reads(p + self->psz, 'z'));
	EXPECT_EQ(0, page_reads(p, RUST_MM_PFN_FILL(0)));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &a));
	EXPECT_EQ(b.faulted + 1, a.faulted);
	EXPECT_EQ(0, munmap(p, 3 * self->psz));
}

/* ZAP in the eager mapping: SIGBUS at that page, the others still read. */
TEST_F(pfn, zap_eager_then_sigbus)
{
	char *p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	struct probe r;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, zap_at(self->fd, p + 2 * self->psz));
	r = probe_read(p + 2 * self->psz + 5);
	EXPECT_EQ(SIGBUS, r.signo);
	EXPECT_EQ(BUS_ADRERR, r.code);
	EXPECT_EQ(p + 2 * self->psz + 5, r.addr);
	EXPECT_EQ(0, page_reads(p + 1 * self->psz, RUST_MM_PFN_FILL(1)));
	EXPECT_EQ(0, page_reads(p + 3 * self->psz, RUST_MM_PFN_FILL(3)));
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
}

/* A pattern that no page of the driver (every byte the same) can look like. */
static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i * 31 + 7);
}

static bool has_pattern(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] != pattern_byte(i))
			return false;
	return true;
}

/*
 * ZAP of what is not a mapping of this file's buffer is refused and changes
 * nothing: an unaligned address, no mapping, anonymous memory put where the
 * file's mapping was, another file's mapping of the device.
 */
TEST_F(pfn, zap_refuses_foreign_mappings)
{
	int other = open_dev();
	char *p, *q, *q2, *anon;
	size_t i, len = NPAGES * self->psz;

	ASSERT_LE(0, other);
	/* No buffer yet. */
	EXPECT_EQ(ENXIO, zap_at(self->fd, (void *)0x10000000));
	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	q = map_pfn(other, NPAGES, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0, page_reads(q + self->psz, RUST_MM_PFN_FILL(1)));
	/* Anonymous memory where the file's mapping was, and the file still has a buffer. */
	ASSERT_EQ(0, munmap(p, len));
	p = map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	anon = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	for (i = 0; i < len; i++)
		anon[i] = pattern_byte(i);

	EXPECT_EQ(EINVAL, zap_at(self->fd, p + 1));
	EXPECT_EQ(ENXIO, zap_at(self->fd, anon));
	EXPECT_EQ(ENXIO, zap_at(self->fd, anon + self->psz));
	EXPECT_EQ(ENXIO, zap_at(self->fd, q + self->psz));
	EXPECT_EQ(ENXIO, zap_at(other, p));
	EXPECT_EQ(ENXIO, zap_at(self->fd, p + self->psz)); /* past the mapping */
	EXPECT_TRUE(has_pattern(anon, len));
	EXPECT_EQ(0, page_reads(p, RUST_MM_PFN_FILL(0)));
	EXPECT_EQ(PT_PRESENT, user_pte_bits(q + self->psz)) TH_LOG("the other file's page went");
	EXPECT_EQ(0, page_reads(q + self->psz, RUST_MM_PFN_FILL(1)));
	/*
	 * Anonymous memory over a mapping of the file (MAP_FIXED), while the
	 * file's buffer lives on in another: ZAP leaves the memory alone.
	 */
	q2 = map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, q2);
	ASSERT_EQ(p, mmap(p, self->psz, PROT_READ | PROT_WRITE,
			  MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	memset(p, 0x5a, self->psz);
	EXPECT_EQ(ENXIO, zap_at(self->fd, p));
	EXPECT_EQ(0, page_reads(p, 0x5a));
	EXPECT_EQ(0, page_reads(q2, RUST_MM_PFN_FILL(0)));
	EXPECT_EQ(PT_PRESENT, user_pte_bits(q2));
	EXPECT_EQ(0, munmap(p, self->psz));
	EXPECT_EQ(0, munmap(q2, self->psz));
	EXPECT_EQ(0, munmap(anon, len));
	EXPECT_EQ(0, munmap(q, len));
	close(other);
}

/*
 * Bad sizes, offsets, protections and flags are refused with the header's
 * errno, and allocate nothing.
 */
TEST_F(pfn, bad_mmaps_refused)
{
	static const struct {
		int npages, prot, flags;
		unsigned long pgoff;
		int err;
	} bad[] = {
		{ NPAGES + 1, PROT_READ, MAP_SHARED, 0, EINVAL },
		{ NPAGES + 1, PROT_READ, MAP_SHARED, ON_FAULT, EINVAL },
		{ 64, PROT_READ, MAP_SHARED, WC, EINVAL },
		{ 1, PROT_READ, MAP_SHARED, 1, EINVAL },
		{ 1, PROT_READ, MAP_SHARED, ON_FAULT + 1, EINVAL },
		{ 1, PROT_READ, MAP_SHARED, WC + 1, EINVAL },
		{ 1, PROT_READ, MAP_SHARED, 2 * WC, EINVAL },
		{ 1, PROT_READ, MAP_SHARED, 2 * WC + ON_FAULT, EINVAL },
		{ 1, PROT_READ | PROT_WRITE, MAP_SHARED, 0, EINVAL },
		{ 1, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0, EINVAL },
		{ 1, PROT_READ | PROT_WRITE, MAP_SHARED, ON_FAULT, EINVAL },
		{ 1, PROT_READ | PROT_EXEC, MAP_SHARED, 0, EINVAL },
		{ 1, PROT_READ | PROT_EXEC, MAP_PRIVATE, WC, EINVAL },
	};
	struct rust_mm_pfn_stats st;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		char *p = map_pfn(self->fd, bad[i].npages, bad[i].prot, bad[i].flags,
				  bad[i].pgoff);

		EXPECT_EQ(MAP_FAILED, p) TH_LOG("case %u mapped", i);
		if (p != MAP_FAILED) {
			munmap(p, bad[i].npages * self->psz);
			continue;
		}
		/* PROT_EXEC on a noexec /dev is refused before the driver: EPERM. */
		if (bad[i].prot & PROT_EXEC && errno == EPERM)
			continue;
		EXPECT_EQ(bad[i].err, errno) TH_LOG("case %u: %s", i, strerror(errno));
	}
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.allocated, st.allocated);
	EXPECT_EQ(self->start.mappings, st.mappings);
	EXPECT_EQ(EINVAL, fill_page(self->fd, 0, 'x'));
}

/*
 * A mapping with the other cache mode is refused with EBUSY while the buffer
 * exists (in either kind), and gets a new buffer once it is gone.
 */
TEST_F(pfn, cache_mode_conflict)
{
	struct rust_mm_pfn_stats st;
	char *cached, *faulting, *wc;

	cached = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, cached);
	EXPECT_EQ(MAP_FAILED, map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, WC));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(MAP_FAILED, map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, WC + ON_FAULT));
	EXPECT_EQ(EBUSY, errno);
	faulting = map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, faulting);
	EXPECT_EQ(0, munmap(cached, NPAGES * self->psz));
	EXPECT_EQ(MAP_FAILED, map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, WC));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, munmap(faulting, self->psz));

	wc = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, WC);
	ASSERT_NE(MAP_FAILED, wc) TH_LOG("mmap WC after the cached buffer: %s", strerror(errno));
	EXPECT_EQ(0, page_reads(wc, RUST_MM_PFN_FILL(0)));
	EXPECT_EQ(MAP_FAILED, map_pfn(self->fd, 1, PROT_READ, MAP_SHARED, 0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.allocated + 2, st.allocated);
	EXPECT_EQ(self->start.buffers + 1, st.buffers);
	EXPECT_EQ(self->start.mappings + 1, st.mappings);
	EXPECT_EQ(0, munmap(wc, NPAGES * self->psz));
}

/*
 * Write-combining, in the page tables: the user mapping's entries are WC
 * (PWT), in both kinds, and so is the kernel's direct mapping of the buffer
 * while it exists, no longer once it is freed.
 */
TEST_F(pfn, write_combining_in_the_page_tables)
{
	long base, wc_bytes, after;
	char *p, *q;

	base = direct_map_wc_bytes();
	ASSERT_LE(0, base) TH_LOG("%s: %s (debugfs, CONFIG_PTDUMP_DEBUGFS)", PT_KERNEL,
				  strerror(errno));
	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, WC);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	q = map_pfn(self->fd, 2, PROT_READ, MAP_SHARED, WC + ON_FAULT);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_EQ(0, page_reads(p + 3 * self->psz, RUST_MM_PFN_FILL(3)));
	EXPECT_EQ(0, page_reads(q + self->psz, RUST_MM_PFN_FILL(1)));
	EXPECT_EQ(PT_PRESENT | PT_PWT, user_pte_bits(p));
	EXPECT_EQ(PT_PRESENT | PT_PWT, user_pte_bits(p + 3 * self->psz));
	EXPECT_EQ(PT_PRESENT | PT_PWT, user_pte_bits(q + self->psz));
	EXPECT_EQ(0, user_pte_bits(q)) TH_LOG("not touched, yet mapped");
	/* The driver's writes show, through the kernel's WC mapping. */
	ASSERT_EQ(0, fill_page(self->fd, 1, 'w'));
	EXPECT_EQ(0, page_reads(q + self->psz, 'w'));
	EXPECT_EQ(0, page_reads(p + self->psz, 'w'));
	wc_bytes = direct_map_wc_bytes();
	EXPECT_EQ(base + NPAGES * self->psz, wc_bytes);
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
	/* The other mapping still has it. */
	EXPECT_EQ(wc_bytes, direct_map_wc_bytes());
	EXPECT_EQ(0, munmap(q, 2 * self->psz));
	after = direct_map_wc_bytes();
	EXPECT_EQ(base, after) TH_LOG("the freed buffer is still WC in the direct map");
}

/* The split and move refusals of the header, each leaving the mapping as it was. */
TEST_F(pfn, split_and_move_refused)
{
	size_t len = NPAGES * self->psz;
	struct rust_mm_pfn_stats st;
	char *p, *far;
	int i;

	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, p);
	far = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, far);
	EXPECT_EQ(0, page_reads(p, RUST_MM_PFN_FILL(0)));

	EXPECT_EQ(-1, munmap(p + self->psz, self->psz));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p, self->psz, PROT_NONE));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, madvise(p + 2 * self->psz, self->psz, MADV_DONTFORK));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(p + 3 * self->psz, self->psz, PROT_READ,
				   MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, len, self->psz, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, len, 2 * len, MREMAP_MAYMOVE));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(MAP_FAILED, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, far));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, len, PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);

	/* One mapping, whole, still where it was, with the same memory. */
	for (i = 0; i < NPAGES; i++)
		EXPECT_EQ(0, page_reads(p + i * self->psz, RUST_MM_PFN_FILL(i)));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.mappings + 1, st.mappings);
	EXPECT_EQ(self->start.buffers + 1, st.buffers);
	EXPECT_EQ(0, munmap(p, len));
	EXPECT_EQ(0, munmap(far, len));
}

/* Waits for the child @pid; its exit status, or -1. */
static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * fork copies the mapping: the child sees the same memory, the parent's
 * FILL_PAGE after the fork included, and its copy keeps the buffer (and its
 * write-combining memory type) alive after the parent's munmap, until it
 * exits.
 */
TEST_F(pfn, fork_copies_and_keeps_the_buffer)
{
	int go[2], done[2];
	struct rust_mm_pfn_stats st;
	long base;
	char *p, c;
	pid_t pid;

	base = direct_map_wc_bytes();
	ASSERT_LE(0, base);
	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, WC + ON_FAULT);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(0, page_reads(p, RUST_MM_PFN_FILL(0)));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = 0;

		/* Mapped at the fork, and a page first touched in the child. */
		bad |= page_reads(p, RUST_MM_PFN_FILL(0)) != 0;
		bad |= page_reads(p + 2 * self->psz, RUST_MM_PFN_FILL(2)) != 0;
		bad |= user_pte_bits(p + 2 * self->psz) != (PT_PRESENT | PT_PWT);
		if (write(done[1], "1", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		/* The parent filled page 1 and unmapped its mapping. */
		bad |= (page_reads(p + self->psz, 'f') != 0) << 1;
		_exit(bad);
	}
	ASSERT_EQ(1, read(done[0], &c, 1));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.mappings + 2, st.mappings);
	ASSERT_EQ(0, fill_page(self->fd, 1, 'f'));
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.buffers + 1, st.buffers) TH_LOG("freed under the child");
	EXPECT_EQ(self->start.mappings + 1, st.mappings);
	EXPECT_EQ(base + NPAGES * self->psz, direct_map_wc_bytes());
	ASSERT_EQ(1, write(go[1], "1", 1));
	EXPECT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.buffers, st.buffers);
	EXPECT_EQ(self->start.freed + 1, st.freed);
	EXPECT_EQ(base, direct_map_wc_bytes());
	close(go[0]);
	close(go[1]);
	close(done[0]);
	close(done[1]);
}

/*
 * After MADV_DONTFORK the child has no copy; MADV_DOFORK is refused for this
 * VM_IO mapping and changes nothing.
 */
TEST_F(pfn, fork_with_dontfork_and_dofork)
{
	struct rust_mm_pfn_stats st;
	char *p;
	pid_t pid;

	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_EQ(-1, madvise(p, NPAGES * self->psz, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, madvise(p, NPAGES * self->psz, MADV_DONTFORK));
	EXPECT_EQ(-1, madvise(p, NPAGES * self->psz, MADV_DOFORK));
	EXPECT_EQ(EINVAL, errno);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct probe r = probe_read(p);

		_exit(r.signo == SIGSEGV && r.code == SEGV_MAPERR ? 0 : 1);
	}
	EXPECT_EQ(0, wait_child(pid)) TH_LOG("the child has a copy");
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.mappings + 1, st.mappings);
	EXPECT_EQ(0, page_reads(p, RUST_MM_PFN_FILL(0)));
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
}

/*
 * A process that exits with its mapping (write-combining, its own file
 * closed before) leaves nothing: the buffer is freed, and write-back again.
 */
TEST_F(pfn, exit_with_the_mapping)
{
	long base = direct_map_wc_bytes();
	struct rust_mm_pfn_stats st;
	pid_t pid;

	ASSERT_LE(0, base);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int fd = open_dev();
		char *p;

		if (fd < 0)
			_exit(2);
		p = map_pfn(fd, NPAGES, PROT_READ, MAP_PRIVATE, WC);
		close(fd);
		if (p == MAP_FAILED || page_reads(p + self->psz, RUST_MM_PFN_FILL(1)))
			_exit(3);
		if (direct_map_wc_bytes() != base + NPAGES * self->psz)
			_exit(4);
		_exit(0);
	}
	EXPECT_EQ(0, wait_child(pid));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.buffers, st.buffers);
	EXPECT_EQ(self->start.allocated + 1, st.allocated);
	EXPECT_EQ(self->start.freed + 1, st.freed);
	EXPECT_EQ(base, direct_map_wc_bytes());
}

/* Closing the file changes nothing for its mapping; munmap ends both. */
TEST_F(pfn, close_keeps_the_mapping)
{
	struct rust_mm_pfn_stats st;
	int fd = open_dev();
	char *p;

	ASSERT_LE(0, fd);
	p = map_pfn(fd, NPAGES, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(0, page_reads(p + 3 * self->psz, RUST_MM_PFN_FILL(3)));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.files + 1, st.files);
	EXPECT_EQ(self->start.buffers + 1, st.buffers);
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_EQ(self->start.files, st.files);
	EXPECT_EQ(self->start.buffers, st.buffers);
}

#define THREADS 4

struct toucher {
	const char *page;
	pthread_barrier_t *barrier;
	int result;
};

static void *touch(void *arg)
{
	struct toucher *t = arg;

	pthread_barrier_wait(t->barrier);
	t->result = __atomic_load_n((const unsigned char *)t->page + 64, __ATOMIC_RELAXED);
	return NULL;
}

/* Threads touching one page of a fault-driven mapping at once read the same memory. */
TEST_F(pfn, threads_fault_one_page)
{
	struct toucher t[THREADS];
	pthread_t th[THREADS];
	pthread_barrier_t barrier;
	struct rust_mm_pfn_stats st;
	char *p;
	int i;

	p = map_pfn(self->fd, NPAGES, PROT_READ, MAP_SHARED, ON_FAULT);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pthread_barrier_init(&barrier, NULL, THREADS));
	for (i = 0; i < THREADS; i++) {
		t[i] = (struct toucher){ .page = p + 2 * self->psz, .barrier = &barrier };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, touch, &t[i]));
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		EXPECT_EQ(RUST_MM_PFN_FILL(2), t[i].result);
	}
	pthread_barrier_destroy(&barrier);
	ASSERT_EQ(0, get_pfn_stats(self->fd, &st));
	EXPECT_LE(self->start.faulted + 1, st.faulted);
	EXPECT_GE(self->start.faulted + THREADS, st.faulted);
	EXPECT_EQ(0, munmap(p, NPAGES * self->psz));
}

TEST_HARNESS_MAIN
