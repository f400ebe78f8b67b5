// SPDX-License-Identifier: GPL-2.0
/*
 * A narrated tour of /dev/rust-mm-sample (samples/rust/rust_mm_sample.rs):
 * map the device, insert and zap pages, let the shrinker reclaim them, and
 * check that the driver leaves alone memory that is no longer its mapping;
 * then map it fault-driven, where the first touch of a page fills it; and
 * map /dev/rust-mm-pfn, the PFN mode, where every mapping shows one buffer of
 * the driver, write-combining if asked.
 *
 * Exits 0 only if every step behaved as expected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rust_mm_sample.h"

#define DEV_PATH	"/dev/rust-mm-sample"
#define PFN_PATH	"/dev/rust-mm-pfn"
#define NPAGES		4
#define ANON_BYTE	0x5a

static long psz;

static sigjmp_buf touch_env;

static void touch_handler(int sig, siginfo_t *si, void *uctx)
{
	siglongjmp(touch_env, sig);
}

/* Reads the byte at @p; returns 0, or the signal that the access raised. */
static int touch(const void *p, unsigned char *byte)
{
	struct sigaction sa, old_bus, old_segv;
	unsigned char b = 0;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = touch_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	sig = sigsetjmp(touch_env, 1);
	/* b is written only when the access did not fault. */
	if (sig == 0)
		b = __atomic_load_n((const unsigned char *)p, __ATOMIC_RELAXED);
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	if (byte)
		*byte = b;
	return sig;
}

static const char *errname(int err)
{
	switch (err) {
	case 0:		return "success";
	case EINVAL:	return "EINVAL";
	case ENXIO:	return "ENXIO";
	case EBUSY:	return "EBUSY";
	case ESRCH:	return "ESRCH";
	case ENOMEM:	return "ENOMEM";
	case ENOENT:	return "ENOENT";
	case EACCES:	return "EACCES";
	case EPERM:	return "EPERM";
	case ENOTTY:	return "ENOTTY";
	case EFAULT:	return "EFAULT";
	default:	return "another error";
	}
}

static void fail(const char *fmt, ...)
{
	va_list ap;

	printf("demo: UNEXPECTED: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\ndemo: stopped, not every step behaved as expected\n");
	exit(1);
}

static int insert(int fd, unsigned int index, unsigned char fill)
{
	struct rust_mm_sample_insert arg = { .index = index, .fill = fill };

	return ioctl(fd, RUST_MM_SAMPLE_INSERT, &arg) ? errno : 0;
}

static void get_stats(int fd, struct rust_mm_sample_stats *st)
{
	if (ioctl(fd, RUST_MM_SAMPLE_STATS, st))
		fail("STATS: %s", strerror(errno));
}

static void print_stats(const char *when, const struct rust_mm_sample_stats *st)
{
	printf("  %-7s held=%llu inserted=%llu zapped=%llu reclaimed=%llu freed=%llu",
	       when, (unsigned long long)st->held,
	       (unsigned long long)st->inserted,
	       (unsigned long long)st->zapped,
	       (unsigned long long)st->reclaimed,
	       (unsigned long long)st->freed);
	printf(" faulted=%llu\n", (unsigned long long)st->faulted);
}

/* Whether every byte of the page at @p is @fill (the page must be mapped). */
static bool page_is(const unsigned char *p, unsigned char fill)
{
	long i;

	for (i = 0; i < psz; i++)
		if (p[i] != fill)
			return false;
	return true;
}

/* Expects touching page @index of @map to give SIGBUS. */
static void expect_sigbus(const char *map, int index)
{
	int sig = touch(map + index * psz, NULL);

	if (sig != SIGBUS)
		fail("touching page %d gave %s, not SIGBUS", index,
		     sig ? strsignal(sig) : "a byte");
}

static void run_shrinkers(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "2\n", 2) != 2)
		fail("writing /proc/sys/vm/drop_caches: %s (needs root)",
		     strerror(errno));
	close(fd);
}

/*
 * The PFN mode: two mappings of one buffer of the driver, write-combining,
 * one mapped by mmap and one by faults; the driver's write shows in both, and
 * a cached mapping is refused while the buffer lives.
 */
static void pfn_step(void)
{
	struct rust_mm_pfn_fill arg = { .index = 1, .fill = 'P' };
	struct rust_mm_pfn_stats st;
	size_t len = RUST_MM_PFN_PAGES * psz;
	unsigned char byte;
	char *eager, *lazy;
	int fd, err;

	printf("step 7: the PFN mode: map %s twice, write-combining\n", PFN_PATH);
	fd = open(PFN_PATH, O_RDWR);
	if (fd < 0)
		fail("open %s: %s (is the rust_mm_pfn_sample module loaded?)", PFN_PATH,
		     strerror(errno));
	eager = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)RUST_MM_PFN_WC_PGOFF * psz);
	lazy = mmap(NULL, len, PROT_READ, MAP_SHARED, fd,
		    (off_t)(RUST_MM_PFN_WC_PGOFF + RUST_MM_PFN_ON_FAULT_PGOFF) * psz);
	if (eager == MAP_FAILED || lazy == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (touch(lazy + 3 * psz, &byte) || byte != RUST_MM_PFN_FILL(3) ||
	    !page_is((unsigned char *)eager + 3 * psz, RUST_MM_PFN_FILL(3)))
		fail("page 3 does not read 0x%02x in both mappings", RUST_MM_PFN_FILL(3));
	printf("  both show the driver's buffer: page 3 reads 0x%02x, mapped by mmap in one\n"
	       "  and by the fault handler in the other\n", byte);
	if (ioctl(fd, RUST_MM_PFN_FILL_PAGE, &arg))
		fail("FILL_PAGE: %s", errname(errno));
	if (!page_is((unsigned char *)eager + psz, 'P') ||
	    !page_is((unsigned char *)lazy + psz, 'P'))
		fail("the driver's write to page 1 does not show in both mappings");
	printf("  the driver rewrites page 1 with 'P': both mappings read 'P', one memory\n");
	err = mmap(NULL, psz, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED ? errno : 0;
	if (err != EBUSY)
		fail("a cached mapping of the WC buffer gave %s, not EBUSY", errname(err));
	printf("  a cached mapping of the same buffer is refused with EBUSY\n");
	munmap(eager, len);
	munmap(lazy, len);
	if (ioctl(fd, RUST_MM_PFN_STATS, &st))
		fail("STATS: %s", errname(errno));
	if (st.buffers)
		fail("%llu buffers left after munmap", (unsigned long long)st.buffers);
	printf("  unmapped: the driver freed the buffer (allocated=%llu freed=%llu)\n",
	       (unsigned long long)st.allocated, (unsigned long long)st.freed);
	close(fd);
}

int main(void)
{
	static const unsigned char fills[] = { 'A', 'B', 'C' };
	struct rust_mm_sample_stats before, after;
	unsigned long long reclaimed;
	unsigned char byte;
	size_t len, i;
	char *map, *anon;
	int fd, err, tries, idx;

	setvbuf(stdout, NULL, _IOLBF, 0);
	psz = sysconf(_SC_PAGESIZE);
	len = NPAGES * psz;
	printf("rust-mm-sample demo: a driver that puts pages into a process's memory\n");

	printf("step 1: open %s and map %d pages read-only\n", DEV_PATH, NPAGES);
	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		fail("open %s: %s (is the module loaded?)", DEV_PATH, strerror(errno));
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	printf("  mapped at %p; the mapping starts empty\n", (void *)map);
	err = mprotect(map, len, PROT_READ | PROT_WRITE) ? errno : 0;
	if (err != EACCES)
		fail("mprotect(PROT_WRITE) gave %s, not EACCES", errname(err));
	printf("  mprotect(PROT_WRITE) is refused with EACCES: it stays read-only\n");
	err = munmap(map + psz, psz) ? errno : 0;
	if (err != EINVAL)
		fail("munmap of one page gave %s, not EINVAL", errname(err));
	printf("  munmap of one page is refused with EINVAL: the mapping stays in one piece\n");

	printf("step 2: ask the driver to insert pages filled with 'A', 'B', 'C'\n");
	for (i = 0; i < sizeof(fills); i++) {
		err = insert(fd, i, fills[i]);
		if (err)
			fail("INSERT page %zu: %s", i, errname(err));
		if (touch(map + i * psz, &byte))
			fail("page %zu was inserted but cannot be read", i);
		if (!page_is((unsigned char *)map + i * psz, fills[i]))
			fail("page %zu does not read '%c' throughout", i, fills[i]);
		printf("  page %zu reads '%c' in all %ld bytes\n", i, byte, psz);
	}
	expect_sigbus(map, 3);
	printf("  page 3 was never inserted: touching it gives SIGBUS\n");

	printf("step 3: zap page 1 (the driver takes it back)\n");
	if (ioctl(fd, RUST_MM_SAMPLE_ZAP, 1UL))
		fail("ZAP page 1: %s", errname(errno));
	expect_sigbus(map, 1);
	printf("  touching page 1 now gives SIGBUS; page 0 still reads '%c'\n",
	       touch(map, &byte) ? '?' : byte);
	if (byte != 'A')
		fail("page 0 changed");

	printf("step 4: memory pressure: echo 2 > /proc/sys/vm/drop_caches\n");
	get_stats(fd, &before);
	print_stats("before:", &before);
	/* Pages 0 and 2 are held; the shrinker only trylocks, so retry. */
	for (tries = 0; tries < 5; tries++) {
		run_shrinkers();
		get_stats(fd, &after);
		if (after.reclaimed - before.reclaimed >= 2)
			break;
		usleep(100000);
	}
	print_stats("after:", &after);
	reclaimed = after.reclaimed - before.reclaimed;
	if (reclaimed < 2)
		fail("the shrinker reclaimed %llu pages, not at least 2", reclaimed);
	expect_sigbus(map, 0);
	expect_sigbus(map, 2);
	printf("  the shrinker took back %llu page(s): pages 0 and 2 now give SIGBUS\n",
	       reclaimed);

	printf("step 5: munmap, then map anonymous memory at the same address\n");
	printf("  (CVE-2026-43434: the driver must see that its mapping is gone)\n");
	if (munmap(map, len))
		fail("munmap: %s", strerror(errno));
	anon = mmap(map, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (anon != map)
		fail("anonymous mmap at %p: %s", (void *)map, strerror(errno));
	memset(anon, ANON_BYTE, len / 2);
	printf("  pages 0-1 written with 0x%02x, pages 2-3 left untouched (zero)\n",
	       ANON_BYTE);
	for (idx = 0; idx < NPAGES; idx += 2) {
		err = insert(fd, idx, 'X');
		if (err != EINVAL && err != ENXIO)
			fail("INSERT page %d into anonymous memory: %s", idx, errname(err));
		printf("  INSERT page %d: refused with %s (%s)\n", idx, errname(err),
		       strerror(err));
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)anon[i] != (i < len / 2 ? ANON_BYTE : 0))
			fail("anonymous memory changed at byte %zu", i);
	printf("  the anonymous memory is untouched (all %zu bytes as written)\n", len);
	munmap(anon, len);
	close(fd);

	printf("step 6: a fault-driven mapping: map at page offset %d instead of 0\n",
	       RUST_MM_SAMPLE_ON_FAULT_PGOFF);
	fd = open(DEV_PATH, O_RDWR);
	if (fd < 0)
		fail("open %s: %s", DEV_PATH, strerror(errno));
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd,
		   (off_t)RUST_MM_SAMPLE_ON_FAULT_PGOFF * psz);
	if (map == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	get_stats(fd, &before);
	for (tries = 0; tries < 2; tries++) {
		if (touch(map + 2 * psz, &byte))
			fail("touching page 2 of the fault-driven mapping raised a signal");
		if (!page_is((unsigned char *)map + 2 * psz, RUST_MM_SAMPLE_FAULT_FILL(2)))
			fail("page 2 does not read 0x%02x throughout",
			     RUST_MM_SAMPLE_FAULT_FILL(2));
		get_stats(fd, &after);
		if (after.faulted != before.faulted + 1)
			fail("the driver filled %llu pages, not 1",
			     (unsigned long long)(after.faulted - before.faulted));
		printf("  %s touch of page 2: the driver's fault handler filled it with 0x%02x\n",
		       tries ? "after ZAP, the next" : "the first", byte);
		before = after;
		if (!tries && ioctl(fd, RUST_MM_SAMPLE_ZAP, 2UL))
			fail("ZAP page 2: %s", errname(errno));
	}
	print_stats("now:", &after);
	munmap(map, len);
	close(fd);

	pfn_step();
	printf("demo: all steps behaved as expected\n");
	return 0;
}
