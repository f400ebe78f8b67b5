// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection into the allocating paths of samples/rust/rust_mm_sample.rs.
 *
 * Uses the per-task systematic mode of the fault injection framework: after
 * writing N to /proc/thread-self/fail-nth, the Nth slab or page allocation
 * that this task makes fails (and reading the file back gives 0 once it was
 * injected). For each path of the driver that allocates (open, mmap, INSERT,
 * INSERT_WRITE_LOCKED, ZAP, mremap's move of its mapping, which the driver
 * refuses, and a fault that the driver's fault handler fills), it runs the
 * operation with N = 1, 2, ... until one run completes without reaching an
 * Nth injection point, and checks for every injected failure that either
 *
 * - the call fails with ENOMEM (EFAULT for the fault, which the kernel takes
 *   on a read for the process), nothing changed (the driver's counters, the
 *   open files, i.e. the module's reference count, the mappings, the page:
 *   reading it still gives SIGBUS), and the same call without injection
 *   succeeds and does what it should; or
 * - the kernel absorbed the failure: the call succeeded, and did all it
 *   should. SLUB does this when a new slab of the cache's preferred order
 *   cannot be allocated: allocate_slab() retries at the minimum order; and
 *   KASAN's stack depot, which does without a new pool for saving a stack.
 *   Such points are listed with the caches that got a new slab meanwhile
 *   (from /proc/slabinfo), as evidence.
 *
 * It prints how many injection points each path has. Needs root, debugfs and
 * CONFIG_FAULT_INJECTION, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC and
 * CONFIG_FAULT_INJECTION_DEBUG_FS; without them it fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
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
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rust_mm_sample.h"
#include "rust_mm_util.h"

#define DEV_PATH	"/dev/rust-mm-sample"
#define REFCNT_PATH	"/sys/module/rust_mm_sample/refcnt"
#define DEBUGFS		"/sys/kernel/debug"
#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define NPAGES		4
/* No path of the driver comes near this many allocations. */
#define MAX_NTH		200
/* Open files held while the registry of open files grows. */
#define MAX_HELD	40
/*
 * Where the INSERT cases map the device: far from everything else, so that
 * the first INSERT allocates page tables, and munmap frees them again.
 */
#define FAR_ADDR	0x3e0000000000UL

/* The debugfs settings that make GFP_KERNEL allocations fail quietly. */
static const struct fault_knob {
	const char *path;
	const char *value;
} knobs[] = {
	{ DEBUGFS "/failslab/ignore-gfp-wait", "N" },
	{ DEBUGFS "/failslab/verbose", "0" },
	{ DEBUGFS "/fail_page_alloc/ignore-gfp-wait", "N" },
	{ DEBUGFS "/fail_page_alloc/ignore-gfp-highmem", "N" },
	{ DEBUGFS "/fail_page_alloc/min-order", "0" },
	{ DEBUGFS "/fail_page_alloc/verbose", "0" },
};

/* What reading a page did. */
struct probe {
	int signo;	/* 0 if the whole page was read, else the signal */
	int code;	/* its si_code */
	void *addr;	/* its si_addr */
	long bad;	/* offset of the first byte that was not the fill, or -1 */
	unsigned char got;	/* that byte */
};

static sigjmp_buf probe_env;
static int probe_signo, probe_code;
static void *probe_addr;

static void probe_handler(int sig, siginfo_t *si, void *uctx)
{
	probe_signo = sig;
	probe_code = si->si_code;
	probe_addr = si->si_addr;
	siglongjmp(probe_env, 1);
}

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/*
 * Reads the page at @p, catching SIGBUS and SIGSEGV, and checks that every
 * byte is @fill.
 */
static struct probe read_page(const void *p, unsigned char fill)
{
	const uint64_t *w = p;
	uint64_t want = 0x0101010101010101ULL * fill;
	struct sigaction sa, old_bus, old_segv;
	struct probe r = { .bad = -1 };
	long i, n = page_size() / sizeof(*w);

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	probe_signo = 0;
	if (sigsetjmp(probe_env, 0) == 0) {
		for (i = 0; i < n; i++) {
			uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED);

			if (v != want) {
				const unsigned char *b = (const unsigned char *)&w[i];
				int j = 0;

				while (b[j] == fill)
					j++;
				r.bad = i * sizeof(*w) + j;
				r.got = b[j];
				break;
			}
		}
	} else {
		r.signo = probe_signo;
		r.code = probe_code;
		r.addr = probe_addr;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
}

/* Whether the page at @p is present and reads @fill in every byte. */
static bool page_is(const void *p, unsigned char fill)
{
	struct probe r = read_page(p, fill);

	return !r.signo && r.bad < 0;
}

/* Whether touching @p gives a SIGBUS for exactly that address. */
static bool gives_sigbus(const void *p)
{
	struct probe r = read_page(p, 0);

	return r.signo == SIGBUS && r.code == BUS_ADRERR && r.addr == p;
}

static int insert(int fd, __u32 index, __u32 fill)
{
	return do_insert(fd, RUST_MM_SAMPLE_INSERT, index, fill);
}

static bool stats_equal(const struct rust_mm_sample_stats *a,
			const struct rust_mm_sample_stats *b)
{
	return !memcmp(a, b, sizeof(*a));
}

static int open_dev(void)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

/* The module's reference count: one per open file of the device. */
static long module_refcnt(void)
{
	return read_number(REFCNT_PATH);
}

/* The number of mappings of this process. */
static int count_maps(void)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return errno;
	n = write(fd, value, strlen(value));
	if (n != (ssize_t)strlen(value))
		err = n < 0 ? errno : EIO;
	close(fd);
	return err;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * Writes to memory that the code between arming and reading fail-nth uses,
 * so that no page fault there allocates (and consumes the injected failure):
 * the pages of the stack, and errno. The test runs in a child of the
 * harness, whose pages it shares copy-on-write until it writes them.
 */
static void prefault(void)
{
	char stack[64 * 1024];

	memset(stack, 0x5a, sizeof(stack));
	__asm__ __volatile__("" : : "r"(stack) : "memory");
	errno = 0;
}

/* The fail-nth file of this thread, and the arming of one failure. */
struct nth {
	int fd;
};

static int nth_write(const struct nth *nth, unsigned int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%u", n);

	return pwrite(nth->fd, buf, len, 0) == len ? 0 : -1;
}

/* Reads what is left of the count; 0 means the failure was injected. */
static long nth_read(const struct nth *nth)
{
	char buf[16] = "";
	ssize_t n = pread(nth->fd, buf, sizeof(buf) - 1, 0);

	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* The number of slabs of each cache, from /proc/slabinfo. */
#define MAX_CACHES	400
struct slabs {
	int n;
	char name[MAX_CACHES][32];
	long nslabs[MAX_CACHES];
};

static struct slabs slabs_before, slabs_after;
static char slabinfo[128 * 1024];
/*
 * /proc/slabinfo, kept open: read again from the start, it reuses its
 * seq_file and buffer, so reading it does not add slabs itself.
 */
static int slabinfo_fd = -1;

static void read_slabs(struct slabs *sl)
{
	static const char fmt[] =
		"%31s %*d %*d %*d %*d %*d : tunables %*d %*d %*d : slabdata %*d %ld";
	size_t len = 0;
	char *line, *save;
	ssize_t n;

	sl->n = 0;
	while (len < sizeof(slabinfo) - 1 &&
	       (n = pread(slabinfo_fd, slabinfo + len, sizeof(slabinfo) - 1 - len, len)) > 0)
		len += n;
	slabinfo[len] = '\0';
	for (line = strtok_r(slabinfo, "\n", &save); line && sl->n < MAX_CACHES;
	     line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, fmt, sl->name[sl->n], &sl->nslabs[sl->n]) == 2)
			sl->n++;
}

/* Appends to @buf the caches that have more slabs in @b than in @a. */
static void grown_caches(const struct slabs *a, const struct slabs *b,
			 char *buf, size_t size)
{
	size_t len = strlen(buf);
	bool any = false;
	int i, j;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < a->n && strcmp(a->name[j], b->name[i]); j++)
			;
		if (j < a->n && b->nslabs[i] <= a->nslabs[j])
			continue;
		if (len < size)
			len += snprintf(buf + len, size - len, "%s%s", any ? " " : "",
					b->name[i]);
		any = true;
	}
	if (!any && len < size)
		snprintf(buf + len, size - len, "none");
}

FIXTURE(fault)
{
	struct nth nth;
	char saved[ARRAY_SIZE(knobs)][16];
	bool set[ARRAY_SIZE(knobs)];
	struct timespec start;
	long psz;
	size_t len;
	int fd;
};

FIXTURE_SETUP(fault)
{
	struct stat st;
	unsigned int i;

	clock_gettime(CLOCK_MONOTONIC, &self->start);
	self->psz = page_size();
	self->len = NPAGES * self->psz;
	self->nth.fd = -1;
	self->fd = -1;
	if (stat(DEBUGFS "/failslab", &st))
		mount("debugfs", DEBUGFS, "debugfs", 0, NULL);
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		ASSERT_EQ(0, read_file(knobs[i].path, self->saved[i],
				       sizeof(self->saved[i])))
			TH_LOG("%s: %s (root, debugfs and the fault injection configs?)",
			       knobs[i].path, strerror(errno));
		ASSERT_EQ(0, write_file(knobs[i].path, knobs[i].value))
			TH_LOG("writing %s to %s", knobs[i].value, knobs[i].path);
		self->set[i] = true;
	}
	self->nth.fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->nth.fd)
		TH_LOG("%s: %s (CONFIG_FAULT_INJECTION)", FAIL_NTH, strerror(errno));
	self->fd = open_dev();
	ASSERT_LE(0, self->fd)
		TH_LOG("open %s: %s (is the rust_mm_sample module loaded?)",
		       DEV_PATH, strerror(errno));
	slabinfo_fd = open("/proc/slabinfo", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, slabinfo_fd) TH_LOG("/proc/slabinfo: %s", strerror(errno));
	read_slabs(&slabs_before);
	prefault();
}

FIXTURE_TEARDOWN(fault)
{
	struct timespec end;
	unsigned int i;

	if (self->nth.fd >= 0) {
		nth_write(&self->nth, 0);
		close(self->nth.fd);
	}
	for (i = 0; i < ARRAY_SIZE(knobs); i++)
		if (self->set[i])
			write_file(knobs[i].path, self->saved[i]);
	if (self->fd >= 0)
		close(self->fd);
	if (slabinfo_fd >= 0)
		close(slabinfo_fd);
	clock_gettime(CLOCK_MONOTONIC, &end);
	fprintf(stderr, "# %s took %.1f s\n", _metadata->name,
		end.tv_sec - self->start.tv_sec +
		(end.tv_nsec - self->start.tv_nsec) / 1e9);
}

/* The operations to inject failures into, and their arguments. */
struct op {
	long (*run)(const struct op *op);
	int fd;
	unsigned long cmd;
	unsigned long arg;
	void *addr;
	size_t len;
	int flags;
};

static long run_open(const struct op *op)
{
	return open(DEV_PATH, O_RDWR | O_CLOEXEC);
}

static long run_mmap(const struct op *op)
{
	return (long)mmap(op->addr, op->len, PROT_READ, op->flags, op->fd, 0);
}

/* INSERT returns the error, 0 on success. */
static long run_insert(const struct op *op)
{
	return do_insert(op->fd, op->cmd, op->arg, 0x1a);
}

static long run_zap(const struct op *op)
{
	return zap(op->fd, op->arg);
}

/*
 * A read of the first word of the page at @op->addr by the kernel, for the
 * process: FUTEX_WAIT_PRIVATE reads it with one get_user() (strncpy_from_user()
 * and copy_from_user() would try a failed access again, byte by byte), and
 * allocates nothing itself. The word is not 0, so the call returns at once:
 * -1 with EAGAIN, or EFAULT if the fault failed. Returns 0 for EAGAIN.
 */
static long run_kernel_read(const struct op *op)
{
	struct timespec zero = { 0 };
	long ret = syscall(SYS_futex, op->addr, FUTEX_WAIT_PRIVATE, 0, &zero, NULL, 0);

	return ret == -1 && errno == EAGAIN ? 0 : -1;
}

/*
 * A read of the page at @op->addr by the process itself: 0 if every byte is
 * (unsigned char)@op->arg, the signal if one came, -1 for a wrong byte.
 */
static long run_user_read(const struct op *op)
{
	struct probe r = read_page(op->addr, op->arg);

	return r.signo ? r.signo : r.bad >= 0 ? -1 : 0;
}

/* A move of the mapping at @op->addr to FAR_ADDR. */
static long run_mremap(const struct op *op)
{
	return (long)mremap(op->addr, op->len, op->len, MREMAP_MAYMOVE | MREMAP_FIXED,
			    (void *)FAR_ADDR);
}

/* How one operation ran with the Nth injection point armed. */
struct shot {
	bool injected;	/* the Nth injection point was reached, and failed */
	long ret;	/* what the operation returned */
	int err;	/* errno after it */
};

/*
 * Runs @op with the @n-th injection point of this task failing. Nothing
 * between arming and disarming may fault in a page: see prefault().
 */
static struct shot inject(const struct nth *nth, int n, const struct op *op)
{
	struct shot s = { .ret = -2 };

	read_slabs(&slabs_before);
	errno = 0;
	if (!nth_write(nth, n))
		s.ret = op->run(op);
	s.err = errno;
	s.injected = nth_read(nth) == 0;
	nth_write(nth, 0);
	return s;
}

/* The injection points of one path, and what became of them. */
struct tally {
	const char *name;
	const char *error;	/* what a failure gives, if not ENOMEM */
	int failed;		/* the call failed with ENOMEM */
	int absorbed;		/* the call succeeded anyway */
	char absorbed_at[1024];
};

/* Notes that injection point @n was absorbed: the call succeeded. */
static void absorbed(struct tally *t, int n)
{
	size_t len = strlen(t->absorbed_at);

	read_slabs(&slabs_after);
	t->absorbed++;
	if (len < sizeof(t->absorbed_at))
		snprintf(t->absorbed_at + len, sizeof(t->absorbed_at) - len,
			 "%s%d (new slabs: ", len ? ", " : "", n);
	grown_caches(&slabs_before, &slabs_after, t->absorbed_at,
		     sizeof(t->absorbed_at));
	len = strlen(t->absorbed_at);
	if (len < sizeof(t->absorbed_at))
		snprintf(t->absorbed_at + len, sizeof(t->absorbed_at) - len, ")");
}

static void report(const struct tally *t, int points)
{
	fprintf(stderr, "# %s: %d injection points: %d failed the call with %s",
		t->name, points, t->failed, t->error ? t->error : "ENOMEM");
	if (t->absorbed)
		fprintf(stderr, ", %d absorbed by the kernel, the call succeeded: at %s",
			t->absorbed, t->absorbed_at);
	fprintf(stderr, "\n");
}

/*
 * open: every injected failure is ENOMEM and leaves no open file behind. The
 * driver's open allocates its file and nothing shared with other files (an
 * allocation of that kind, such as a registry of open files that grows, would
 * be made with a spinlock held, or fail other opens): the second sweep holds
 * more and more files open and checks that each open has the same injection
 * points.
 */
TEST_F(fault, open)
{
	const struct op op = { .run = run_open };
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "open" };
	int points = -1, nabsorbed = 0, nheld, fd = -1, n;
	char levels[MAX_HELD * 12] = "";
	int held[MAX_HELD];
	size_t len;
	long refcnt;
	struct shot s;

	ASSERT_EQ(0, get_stats(self->fd, &before));
	/* First sweep: a retry after every injected failure. */
	for (n = 1; n <= MAX_NTH; n++) {
		refcnt = module_refcnt();
		ASSERT_LT(0, refcnt);
		s = inject(&self->nth, n, &op);
		fd = s.ret;
		if (fd >= 0) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_EQ(refcnt + 1, module_refcnt());
			close(fd);
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("open: %s", strerror(s.err));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.err)
			TH_LOG("injected failure %d: open failed with %s", n, strerror(s.err));
		EXPECT_EQ(refcnt, module_refcnt())
			TH_LOG("injected failure %d: an open file was left behind", n);
		/* The retry works. */
		fd = open_dev();
		ASSERT_LE(0, fd) TH_LOG("retry of open: %s", strerror(errno));
		close(fd);
	}
	ASSERT_LE(0, points) TH_LOG("open still failing after %d injections", MAX_NTH);
	report(&t, points);

	/*
	 * Second sweep: with 0, 1, 2, ... more files held open, every open has
	 * the points of the first. Slab allocations only, so that no failure is
	 * absorbed by a fallback.
	 */
	ASSERT_EQ(0, write_file(DEBUGFS "/fail_page_alloc/min-order", "100"));
	for (nheld = 0; nheld < MAX_HELD; nheld++) {
		int failed = 0;

		for (n = 1; n <= MAX_NTH; n++) {
			refcnt = module_refcnt();
			s = inject(&self->nth, n, &op);
			fd = s.ret;
			if (fd >= 0 && s.injected) {
				/* Absorbed (it takes the new slot): as above. */
				EXPECT_EQ(refcnt + 1, module_refcnt());
				close(fd);
				nabsorbed++;
				continue;
			}
			if (fd >= 0)
				break;
			ASSERT_TRUE(s.injected)
				TH_LOG("%d held: open: %s", nheld, strerror(s.err));
			failed++;
			EXPECT_EQ(ENOMEM, s.err)
				TH_LOG("%d held, injected failure %d: open failed with %s",
				       nheld, n, strerror(s.err));
			EXPECT_EQ(refcnt, module_refcnt())
				TH_LOG("%d held, injected failure %d: an open file was left behind",
				       nheld, n);
		}
		ASSERT_LE(0, fd) TH_LOG("%d held: open still failing", nheld);
		if (!nheld)
			points = failed;
		len = strlen(levels);
		if (failed != points)
			snprintf(levels + len, sizeof(levels) - len, " %d:%d", nheld + 2, failed);
		EXPECT_EQ(points, failed)
			TH_LOG("with %d files open, open has %d injection points, not %d",
			       nheld + 2, failed, points);
		held[nheld] = fd;
	}
	ASSERT_EQ(0, write_file(DEBUGFS "/fail_page_alloc/min-order", "0"));
	fprintf(stderr,
		"# open, slab allocations only, with 2 to %d files of the device open: %d injection points, all ENOMEM (%d more absorbed); other counts at N files open, N:points:%s\n",
		MAX_HELD + 1, points, nabsorbed, levels);
	for (nheld = 0; nheld < MAX_HELD; nheld++)
		close(held[nheld]);
	ASSERT_EQ(0, get_stats(self->fd, &after));
	EXPECT_TRUE(stats_equal(&before, &after));
}

/*
 * After a failed mmap of @fd (at @where, or anywhere if NULL), the file is
 * still not mapped: INSERT says so, and an mmap without injection works.
 */
static void check_unmapped_and_usable(struct __test_metadata *_metadata,
				      int fd, void *where, size_t len, int n)
{
	long psz = page_size();
	char *p;

	EXPECT_EQ(EINVAL, insert(fd, 0, 'm'))
		TH_LOG("injected failure %d: INSERT after the failed mmap", n);
	p = mmap(where, len, PROT_READ, MAP_SHARED | (where ? MAP_FIXED : 0), fd, 0);
	ASSERT_NE(MAP_FAILED, p)
		TH_LOG("injected failure %d: retry of mmap: %s", n, strerror(errno));
	EXPECT_TRUE(gives_sigbus(p));
	EXPECT_EQ(0, insert(fd, 1, 'm'));
	EXPECT_TRUE(page_is(p + psz, 'm'));
	EXPECT_EQ(0, munmap(p, len));
}

/* mmap anywhere: a failure is ENOMEM and creates no mapping. */
TEST_F(fault, mmap)
{
	const struct op op = {
		.run = run_mmap, .fd = self->fd, .len = self->len, .flags = MAP_SHARED,
	};
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "mmap" };
	int points = -1, maps, n;
	struct shot s;
	char *p;

	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, get_stats(self->fd, &before));
		maps = count_maps();
		s = inject(&self->nth, n, &op);
		p = (char *)s.ret;
		if (p != MAP_FAILED) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_TRUE(gives_sigbus(p));
			EXPECT_EQ(0, insert(self->fd, 0, 'M'));
			EXPECT_TRUE(page_is(p, 'M'));
			EXPECT_EQ(0, munmap(p, self->len));
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("mmap: %s", strerror(s.err));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.err)
			TH_LOG("injected failure %d: mmap failed with %s", n, strerror(s.err));
		EXPECT_EQ(maps, count_maps())
			TH_LOG("injected failure %d: the failed mmap left a mapping", n);
		ASSERT_EQ(0, get_stats(self->fd, &after));
		EXPECT_TRUE(stats_equal(&before, &after));
		check_unmapped_and_usable(_metadata, self->fd, NULL, self->len, n);
	}
	ASSERT_LE(0, points) TH_LOG("mmap still failing after %d injections", MAX_NTH);
	report(&t, points);
}

/*
 * mmap over anonymous memory (MAP_FIXED): a failure is ENOMEM; the anonymous
 * memory is still there, or (as core mm leaves it when it had unmapped it
 * already) there is a hole, but never a mapping of the device.
 */
TEST_F(fault, mmap_fixed_over_anon)
{
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "mmap over anonymous memory" };
	int points = -1, n, i;
	struct op op = {
		.run = run_mmap, .fd = self->fd, .len = self->len,
		.flags = MAP_SHARED | MAP_FIXED,
	};
	struct shot s;
	char *anon, *p;

	anon = mmap(NULL, self->len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, anon);
	op.addr = anon;
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, get_stats(self->fd, &before));
		s = inject(&self->nth, n, &op);
		p = (char *)s.ret;
		if (p != MAP_FAILED) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_EQ(anon, p);
			EXPECT_TRUE(gives_sigbus(p));
			EXPECT_EQ(0, insert(self->fd, 0, 'F'));
			EXPECT_TRUE(page_is(p, 'F'));
			ASSERT_EQ(anon, mmap(anon, self->len, PROT_READ,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("mmap: %s", strerror(s.err));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.err)
			TH_LOG("injected failure %d: mmap failed with %s", n, strerror(s.err));
		ASSERT_EQ(0, get_stats(self->fd, &after));
		EXPECT_TRUE(stats_equal(&before, &after));
		for (i = 0; i < NPAGES; i++) {
			struct probe r = read_page(anon + i * self->psz, 0);

			EXPECT_TRUE((!r.signo && r.bad < 0) ||
				    (r.signo == SIGSEGV && r.code == SEGV_MAPERR))
				TH_LOG("injected failure %d: page %d: sig %d (%d), byte %ld: %#x",
				       n, i, r.signo, r.code, r.bad, r.got);
		}
		check_unmapped_and_usable(_metadata, self->fd, anon, self->len, n);
		/* Anonymous memory there again for the next round. */
		ASSERT_EQ(anon, mmap(anon, self->len, PROT_READ,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	}
	ASSERT_LE(0, points) TH_LOG("mmap still failing after %d injections", MAX_NTH);
	report(&t, points);
	munmap(anon, self->len);
}

/*
 * INSERT or INSERT_WRITE_LOCKED into a fresh mapping at FAR_ADDR, where no
 * page tables exist: the page and the page tables are allocated. A failure
 * is ENOMEM, counts nothing, maps nothing, and the same INSERT works
 * afterwards. munmap frees the page tables again for the next round.
 */
static void insert_sweep(struct __test_metadata *_metadata, const struct nth *nth,
			 int fd, size_t len, unsigned long cmd, const char *name)
{
	const struct op op = { .run = run_insert, .fd = fd, .cmd = cmd, .arg = 2 };
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = name };
	long psz = page_size();
	int points = -1, n;
	struct shot s;
	char *p;

	for (n = 1; n <= MAX_NTH; n++) {
		p = mmap((void *)FAR_ADDR, len, PROT_READ,
			 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
		ASSERT_EQ((void *)FAR_ADDR, p)
			TH_LOG("mmap at %#lx: %s", FAR_ADDR, strerror(errno));
		ASSERT_EQ(0, get_stats(fd, &before));
		s = inject(nth, n, &op);
		ASSERT_EQ(0, get_stats(fd, &after));
		if (!s.ret) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_TRUE(page_is(p + 2 * psz, 0x1a));
			EXPECT_EQ(before.inserted + 1, after.inserted);
			EXPECT_EQ(before.held + 1, after.held);
			EXPECT_EQ(0, munmap(p, len));
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("%s: %s", name, strerror(s.ret));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.ret)
			TH_LOG("injected failure %d: %s failed with %s",
			       n, name, strerror(s.ret));
		EXPECT_TRUE(stats_equal(&before, &after)) {
			log_stats("before", &before);
			log_stats("after", &after);
		}
		EXPECT_TRUE(gives_sigbus(p + 2 * psz))
			TH_LOG("injected failure %d: the page is mapped", n);
		/* The mapping still works: the retry inserts the page. */
		EXPECT_EQ(0, do_insert(fd, cmd, 2, 0x1b))
			TH_LOG("injected failure %d: retry of %s", n, name);
		EXPECT_TRUE(page_is(p + 2 * psz, 0x1b));
		EXPECT_TRUE(gives_sigbus(p + 3 * psz));
		EXPECT_EQ(0, munmap(p, len));
	}
	ASSERT_LE(0, points) TH_LOG("%s still failing after %d injections", name, MAX_NTH);
	report(&t, points);
}

TEST_F(fault, insert)
{
	insert_sweep(_metadata, &self->nth, self->fd, self->len,
		     RUST_MM_SAMPLE_INSERT, "INSERT");
}

TEST_F(fault, insert_write_locked)
{
	insert_sweep(_metadata, &self->nth, self->fd, self->len,
		     RUST_MM_SAMPLE_INSERT_WRITE_LOCKED, "INSERT_WRITE_LOCKED");
}

/* INSERT where the page tables exist already: only the page is allocated. */
TEST_F(fault, insert_next_to_a_page)
{
	const struct op op = {
		.run = run_insert, .fd = self->fd, .cmd = RUST_MM_SAMPLE_INSERT, .arg = 1,
	};
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "INSERT with the page tables present" };
	int points = -1, n;
	struct shot s;
	char *p;

	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, insert(self->fd, 0, 'a'));
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, get_stats(self->fd, &before));
		s = inject(&self->nth, n, &op);
		ASSERT_EQ(0, get_stats(self->fd, &after));
		if (!s.ret) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_TRUE(page_is(p + self->psz, 0x1a));
			EXPECT_EQ(before.inserted + 1, after.inserted);
			EXPECT_EQ(0, zap(self->fd, 1));
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("INSERT: %s", strerror(s.ret));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.ret)
			TH_LOG("injected failure %d: INSERT failed with %s", n, strerror(s.ret));
		EXPECT_TRUE(stats_equal(&before, &after));
		EXPECT_TRUE(gives_sigbus(p + self->psz));
		EXPECT_TRUE(page_is(p, 'a'));
		EXPECT_EQ(0, insert(self->fd, 1, 'b'));
		EXPECT_TRUE(page_is(p + self->psz, 'b'));
		EXPECT_EQ(0, zap(self->fd, 1));
	}
	ASSERT_LE(0, points) TH_LOG("INSERT still failing after %d injections", MAX_NTH);
	report(&t, points);
	EXPECT_EQ(0, munmap(p, self->len));
}

/* ZAP: a failure (if it allocates at all) is ENOMEM and leaves the page. */
TEST_F(fault, zap)
{
	const struct op op = { .run = run_zap, .fd = self->fd, .arg = 3 };
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "ZAP" };
	int points = -1, n;
	struct shot s;
	char *p;

	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, insert(self->fd, 3, 'z'));
		ASSERT_EQ(0, get_stats(self->fd, &before));
		s = inject(&self->nth, n, &op);
		ASSERT_EQ(0, get_stats(self->fd, &after));
		if (!s.ret) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_TRUE(gives_sigbus(p + 3 * self->psz));
			EXPECT_EQ(before.zapped + 1, after.zapped);
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("ZAP: %s", strerror(s.ret));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.ret)
			TH_LOG("injected failure %d: ZAP failed with %s", n, strerror(s.ret));
		EXPECT_TRUE(stats_equal(&before, &after));
		EXPECT_TRUE(page_is(p + 3 * self->psz, 'z'));
		EXPECT_EQ(0, zap(self->fd, 3));
		EXPECT_TRUE(gives_sigbus(p + 3 * self->psz));
	}
	ASSERT_LE(0, points) TH_LOG("ZAP still failing after %d injections", MAX_NTH);
	report(&t, points);
	EXPECT_EQ(0, munmap(p, self->len));
}

/*
 * mremap moving the mapping to FAR_ADDR, where no page tables exist: core mm
 * copies the VMA (the driver's open sees the copy), allocates page tables and
 * moves the entries, then asks the driver, which refuses: EINVAL. A failure
 * injected into any of these steps makes the move fail with ENOMEM instead,
 * and core mm closes the copy. Either way the driver keeps its mapping where
 * it was, with its page, the counters do not move, and nothing is left at
 * FAR_ADDR.
 */
TEST_F(fault, mremap)
{
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "mremap (a move)" };
	struct op op = { .run = run_mremap, .len = self->len };
	int points = -1, maps, n;
	struct shot s;
	char *p;

	p = mmap(NULL, self->len, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	op.addr = p;
	ASSERT_EQ(0, insert(self->fd, 1, 'r'));
	for (n = 1; n <= MAX_NTH; n++) {
		ASSERT_EQ(0, get_stats(self->fd, &before));
		maps = count_maps();
		s = inject(&self->nth, n, &op);
		ASSERT_EQ(MAP_FAILED, (void *)s.ret)
			TH_LOG("injected failure %d: the mapping moved", n);
		ASSERT_EQ(0, get_stats(self->fd, &after));
		EXPECT_TRUE(stats_equal(&before, &after)) {
			log_stats("before", &before);
			log_stats("after", &after);
		}
		EXPECT_EQ(maps, count_maps())
			TH_LOG("injected failure %d: the failed move left a mapping", n);
		EXPECT_TRUE(page_is(p + self->psz, 'r'))
			TH_LOG("injected failure %d: the page moved away", n);
		EXPECT_TRUE(gives_sigbus(p));
		/* Still the driver's mapping: INSERT and ZAP work on it. */
		EXPECT_EQ(0, insert(self->fd, 2, 'R'))
			TH_LOG("injected failure %d: INSERT after the failed move", n);
		EXPECT_TRUE(page_is(p + 2 * self->psz, 'R'));
		EXPECT_EQ(0, zap(self->fd, 2));
		if (s.err == EINVAL) {
			/* The move got as far as the driver, which refused it. */
			if (s.injected)
				absorbed(&t, n);
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("mremap: %s", strerror(s.err));
		t.failed++;
		EXPECT_EQ(ENOMEM, s.err)
			TH_LOG("injected failure %d: mremap failed with %s", n, strerror(s.err));
	}
	ASSERT_LE(0, points) TH_LOG("mremap still failing after %d injections", MAX_NTH);
	report(&t, points);
	EXPECT_EQ(0, munmap(p, self->len));
}

/*
 * Maps the device fault-driven at FAR_ADDR, where no page tables exist, and
 * runs @op on its page 2 with the @n-th injection point failing, with the
 * driver's counters before and after in @before and @after. Returns the
 * mapping.
 */
static char *fault_in_shot(struct __test_metadata *_metadata,
			   const struct nth *nth, int fd, struct op *op, int n,
			   struct shot *s, struct rust_mm_sample_stats *before,
			   struct rust_mm_sample_stats *after)
{
	long psz = page_size();
	char *p = mmap((void *)FAR_ADDR, NPAGES * psz, PROT_READ,
		       MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
		       (off_t)RUST_MM_SAMPLE_ON_FAULT_PGOFF * psz);

	ASSERT_EQ((void *)FAR_ADDR, p)
		TH_LOG("mmap at %#lx: %s", FAR_ADDR, strerror(errno));
	op->addr = p + 2 * psz;
	ASSERT_EQ(0, get_stats(fd, before));
	*s = inject(nth, n, op);
	ASSERT_EQ(0, get_stats(fd, after));
	return p;
}

/* Whether the driver filled one page by fault between @before and @after. */
static bool filled_one(const struct rust_mm_sample_stats *before,
		       const struct rust_mm_sample_stats *after)
{
	return after->inserted == before->inserted + 1 &&
	       after->faulted == before->faulted + 1 &&
	       after->held == before->held + 1;
}

/*
 * The driver's fault handler, in a fault-driven mapping at FAR_ADDR where no
 * page tables exist: the kernel reads page 2 for the process (a futex wait), so
 * core mm allocates the page tables, and the driver a page, which it fills and
 * maps. A failure injected into any of these steps is VM_FAULT_OOM, which
 * makes the kernel's read fail with EFAULT: the driver counts nothing, holds
 * no page, nothing is mapped, and the next touch fills the page. munmap frees
 * the page tables again for the next round.
 */
TEST_F(fault, fault_in)
{
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "fault-in, a kernel read", .error = "EFAULT" };
	struct op op = { .run = run_kernel_read };
	unsigned char fill = RUST_MM_SAMPLE_FAULT_FILL(2);
	int points = -1, n;
	struct shot s;
	char *p;

	for (n = 1; n <= MAX_NTH; n++) {
		p = fault_in_shot(_metadata, &self->nth, self->fd, &op, n, &s, &before,
				  &after);
		if (!s.ret) {
			if (s.injected)
				absorbed(&t, n);
			EXPECT_TRUE(filled_one(&before, &after)) {
				log_stats("before", &before);
				log_stats("after", &after);
			}
			EXPECT_TRUE(page_is(p + 2 * self->psz, fill));
			EXPECT_EQ(0, munmap(p, self->len));
			if (!s.injected) {
				points = n - 1;
				break;
			}
			continue;
		}
		ASSERT_TRUE(s.injected) TH_LOG("the futex wait: %s", strerror(s.err));
		t.failed++;
		EXPECT_EQ(EFAULT, s.err)
			TH_LOG("injected failure %d: the read failed with %s",
			       n, strerror(s.err));
		EXPECT_TRUE(stats_equal(&before, &after)) {
			log_stats("before", &before);
			log_stats("after", &after);
		}
		/* Not mapped: INSERT there works, and no fault is needed. */
		EXPECT_EQ(0, insert(self->fd, 2, 'f'))
			TH_LOG("injected failure %d: the page is mapped", n);
		EXPECT_TRUE(page_is(p + 2 * self->psz, 'f'));
		/* The handler still works: the next page faults in. */
		EXPECT_TRUE(page_is(p + 3 * self->psz, RUST_MM_SAMPLE_FAULT_FILL(3)));
		EXPECT_EQ(0, munmap(p, self->len));
		ASSERT_EQ(0, get_stats(self->fd, &after));
		EXPECT_EQ(before.held, after.held);
	}
	ASSERT_LE(0, points) TH_LOG("the fault still failing after %d injections", MAX_NTH);
	report(&t, points);
}

/*
 * The same fault, taken by the process itself. A failed fault of a user
 * access is VM_FAULT_OOM, which makes the kernel retry the access (after
 * logging "VM_FAULT_OOM leaked out to the #PF handler", as no OOM killer
 * ran), so every injected failure is absorbed: the read finds the page, which
 * the driver filled once. A handler that answered SIGBUS instead would kill
 * the process (the probe catches the signal).
 */
TEST_F(fault, fault_in_user)
{
	struct rust_mm_sample_stats before, after;
	struct tally t = { .name = "fault-in, a user read" };
	unsigned char fill = RUST_MM_SAMPLE_FAULT_FILL(2);
	struct op op = { .run = run_user_read, .arg = fill };
	int points = -1, n;
	struct shot s;
	char *p;

	for (n = 1; n <= MAX_NTH; n++) {
		p = fault_in_shot(_metadata, &self->nth, self->fd, &op, n, &s, &before,
				  &after);
		EXPECT_EQ(0, s.ret)
			TH_LOG("injected failure %d: the read got %s", n,
			       s.ret > 0 ? strsignal(s.ret) : "a wrong byte");
		EXPECT_TRUE(filled_one(&before, &after)) {
			log_stats("before", &before);
			log_stats("after", &after);
		}
		EXPECT_EQ(0, munmap(p, self->len));
		if (!s.injected) {
			points = n - 1;
			break;
		}
		absorbed(&t, n);
	}
	ASSERT_LE(0, points) TH_LOG("the fault still failing after %d injections", MAX_NTH);
	report(&t, points);
}

TEST_HARNESS_MAIN
