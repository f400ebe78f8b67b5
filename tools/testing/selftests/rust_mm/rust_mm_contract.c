// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, model-checking fuzzer of the contract of
 * samples/rust/rust_mm_sample.rs, as samples/rust/rust_mm_sample.h states it.
 *
 * Each sequence is MIN_STEPS to MAX_STEPS random operations on up to NFILES
 * open files of /dev/rust-mm-sample: open, close, mmap (offset 0 or
 * fault-driven, MAP_SHARED or MAP_PRIVATE, 1 to RUST_MM_SAMPLE_MAX_PAGES
 * pages; now and then too large, writable, executable, at another offset, or
 * a second one), munmap (or MAP_FIXED) of all of it, INSERT through both
 * ioctls, ZAP, a touch of one byte of a page, the calls the driver refuses
 * (splits, mremap, mprotect), MADV_DONTNEED, MADV_DOFORK or MADV_DONTFORK,
 * fork, and drop_caches.
 *
 * A model of each file (open or not; its mapping; each page none, mapped
 * with a fill, or held by the driver but unmapped after MADV_DONTNEED) and of
 * the counters says what each operation must do: its return value or errno,
 * the bytes a touch reads or its SIGBUS, what a forked child sees, and after
 * every step every counter of RUST_MM_SAMPLE_STATS, exactly, relative to
 * those read at the start of the sequence. /proc/self/maps must show each
 * mapping whole, where it was, every MAPS_EVERY steps. A sequence ends with
 * every mapping unmapped and every file closed: held and files must be back
 * where they started.
 *
 * The effects on the counters, from the driver:
 * - open: files + 1; a file counts until its fd is closed and its mapping is
 *   gone (the VMA and the page slots hold the file);
 * - INSERT at an index without a mapped page: inserted + 1, and held + 1,
 *   or, over a page that MADV_DONTNEED unmapped, freed + 1 (record());
 * - ZAP of a mapped or held page: zapped + 1, held - 1 (zap_one());
 * - a touch of a page that is not mapped, fault-driven: a new page of
 *   RUST_MM_SAMPLE_FAULT_FILL(index), inserted + 1, held + 1, faulted + 1;
 *   or, after MADV_DONTNEED, the held page again, no counter moves (fault());
 * - munmap of all of it: freed + the pages held, held - them (close());
 * - drop_caches: every page the driver holds, mapped or not, has its slot
 *   on the shrinker's list (record() adds it, ZAP, close and the shrinker
 *   take it off), and reclaim() takes each back: reclaimed + all of them,
 *   held - all of them.
 * Nothing else moves a counter: MADV_DONTNEED, refused calls, a fork and the
 * exit of the child.
 *
 * On a violation it prints the seed, the sequence, the step, what was
 * expected and what happened, then shrinks the sequence: it replays subsets
 * of the recorded operations from a clean state (no file of its own open,
 * the counters read again), dropping operations while the same check still
 * fails, and prints the smallest sequence and how to repeat the run.
 *
 * RUST_MM_FUZZ_SEED (default DEFAULT_SEED), RUST_MM_FUZZ_SEQUENCES (default
 * DEFAULT_SEQUENCES) and RUST_MM_FUZZ_FIRST (default 0, the first sequence)
 * choose the sequences; each depends only on the seed and its number.
 *
 * The model assumes that nothing else uses the device meanwhile and that the
 * shrinker runs only on drop_caches (no memory pressure). Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "rust_mm_sample.h"
#include "rust_mm_util.h"

#define DEV_PATH		"/dev/rust-mm-sample"
/* As the VM of the harness has it (make shell). */
#define PROG			"/tests/rust_mm_contract"
#define NFILES			3
#define MAX_PAGES		RUST_MM_SAMPLE_MAX_PAGES
#define ON_FAULT_PGOFF		RUST_MM_SAMPLE_ON_FAULT_PGOFF
#define DEFAULT_SEED		0x7275737400000001ULL
#define DEFAULT_SEQUENCES	50
#define MIN_STEPS		50
#define MAX_STEPS		200
#define MAPS_EVERY		8
/* Only the first failing sequences are shrunk, each within these bounds. */
#define SHRINK_SEQUENCES	2
#define SHRINK_REPLAYS		1000
#define SHRINK_SECONDS		90
#define NR_STATS		7

static long psz;

static uint64_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static const char *errname(int err)
{
	const char *s = err ? strerrorname_np(err) : "success";

	return s ? s : "an unknown errno";
}

/* Touching pages, catching SIGBUS and SIGSEGV, in any thread. */
static __thread sigjmp_buf probe_env;
/* Read by the handler: accessed with __atomic, not volatile. */
static __thread sig_atomic_t probe_armed;
static __thread int probe_signo, probe_code;
static __thread void *probe_addr;

static void probe_handler(int sig, siginfo_t *si, void *uctx)
{
	if (!__atomic_load_n(&probe_armed, __ATOMIC_SEQ_CST)) {
		/* Not a probe: the access faults again and kills us. */
		signal(sig, SIG_DFL);
		return;
	}
	__atomic_store_n(&probe_armed, 0, __ATOMIC_SEQ_CST);
	probe_signo = sig;
	probe_code = si->si_code;
	probe_addr = si->si_addr;
	siglongjmp(probe_env, 1);
}

static void install_probe_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

struct probe {
	int signo;	/* 0 if the byte was read, else the signal */
	int code;	/* its si_code */
	void *addr;	/* its si_addr */
	int byte;	/* the byte read */
	long bad;	/* the first byte of the page that is not @byte, or -1 */
	int bad_byte;	/* what that byte is */
};

/* A probe's result: not an automatic variable, so that siglongjmp() keeps it. */
static __thread struct probe probe_r;

/*
 * Reads byte @off of the page at @page; then, if @whole, the rest of the
 * page, which must read the same byte.
 */
static struct probe probe_page(const char *page, unsigned int off, bool whole)
{
	const uint64_t *w = (const uint64_t *)page;
	long i;
	int j;

	probe_r = (struct probe){ .byte = -1, .bad = -1, .bad_byte = -1 };
	__atomic_store_n(&probe_armed, 1, __ATOMIC_SEQ_CST);
	if (sigsetjmp(probe_env, 0) == 0) {
		probe_r.byte = __atomic_load_n((const unsigned char *)page + off, __ATOMIC_RELAXED);
		for (i = 0; whole && i < psz / 8; i++) {
			uint64_t v = __atomic_load_n(&w[i], __ATOMIC_RELAXED);
			const unsigned char *b = (const unsigned char *)&v;

			if (v == 0x0101010101010101ULL * probe_r.byte)
				continue;
			for (j = 0; b[j] == probe_r.byte; j++)
				;
			probe_r.bad = i * 8 + j;
			probe_r.bad_byte = b[j];
			break;
		}
		__atomic_store_n(&probe_armed, 0, __ATOMIC_SEQ_CST);
	} else {
		probe_r.signo = probe_signo;
		probe_r.code = probe_code;
		probe_r.addr = probe_addr;
	}
	return probe_r;
}

/* What a touch of a byte must give: a byte over the whole page, or these. */
#define WANT_SIGBUS	-1
#define WANT_SIGSEGV	-2

static bool probe_is(const struct probe *r, const char *at, int want)
{
	if (want == WANT_SIGBUS)
		return r->signo == SIGBUS && r->code == BUS_ADRERR && r->addr == at;
	if (want == WANT_SIGSEGV)
		return r->signo == SIGSEGV && r->code == SEGV_MAPERR && r->addr == at;
	return !r->signo && r->byte == want && r->bad < 0;
}

static const char *want_str(int want, char *buf, size_t size)
{
	if (want == WANT_SIGBUS)
		return "SIGBUS (BUS_ADRERR) at the byte";
	if (want == WANT_SIGSEGV)
		return "SIGSEGV (SEGV_MAPERR) at the byte";
	snprintf(buf, size, "byte %#x over the whole page", want);
	return buf;
}

static const char *probe_str(const struct probe *r, const char *at, char *buf, size_t size)
{
	if (r->signo)
		snprintf(buf, size, "%s (si_code %d) at %+td from the byte",
			 r->signo == SIGBUS ? "SIGBUS" :
			 r->signo == SIGSEGV ? "SIGSEGV" : "a signal",
			 r->code, (const char *)r->addr - at);
	else if (r->bad >= 0)
		snprintf(buf, size, "byte %#x, but byte %ld of the page is %#x", r->byte,
			 r->bad, r->bad_byte);
	else
		snprintf(buf, size, "byte %#x over the whole page", r->byte);
	return buf;
}

enum op_kind {
	OP_OPEN, OP_CLOSE, OP_MMAP, OP_MUNMAP, OP_INSERT, OP_ZAP, OP_TOUCH,
	OP_DONTNEED, OP_SPLIT, OP_MREMAP, OP_MPROTECT, OP_DOFORK, OP_FORK,
	OP_DROP_CACHES,
};

/* OP_MMAP: how */
#define MM_SHARED	1
#define MM_WRITE	2
#define MM_EXEC		4

/* OP_SPLIT and OP_MREMAP: how */
enum { SPLIT_MUNMAP, SPLIT_MAP_FIXED, SPLIT_MPROTECT, SPLIT_DONTDUMP, SPLIT_FORK_FLAG, NR_SPLITS };
enum { MR_MOVE, MR_SHRINK, MR_GROW, MR_GROW_IN_PLACE, NR_MREMAPS };

static const char * const split_names[NR_SPLITS] = {
	"munmap", "MAP_FIXED anonymous mmap over", "mprotect(PROT_NONE) of",
	"madvise(MADV_DONTDUMP) of", "madvise flipping the fork flag of",
};

static const char * const mremap_names[NR_MREMAPS] = {
	"mremap move", "mremap shrink", "mremap grow", "mremap grow in place",
};

static const int mprotect_prots[] = {
	PROT_READ | PROT_WRITE, PROT_WRITE, PROT_READ | PROT_EXEC, PROT_EXEC,
};

static const char * const mprotect_names[] = {
	"PROT_READ | PROT_WRITE", "PROT_WRITE", "PROT_READ | PROT_EXEC", "PROT_EXEC",
};

/* One step, fully described by its fields: a replay does the same. */
struct op {
	enum op_kind kind;
	int f;		/* the file, 0 to NFILES - 1 */
	int how;	/* the variant: see describe_op() */
	uint64_t idx;	/* a page index, the first page of a range, or mmap's page offset */
	unsigned int n;	/* pages (mmap, a range, mremap), or the byte of the page (touch) */
	__u32 fill;	/* INSERT */
};

enum page_state { PG_NONE, PG_MAPPED, PG_HELD };

struct file_model {
	int fd;			/* -1: not open */
	bool mapped;		/* its mapping exists (it may outlive the fd) */
	bool shared, on_fault, dofork;
	unsigned int npages;
	char *addr;
	enum page_state st[MAX_PAGES];
	unsigned char fill[MAX_PAGES];	/* of a mapped or held page */
};

struct fuzz {
	struct file_model f[NFILES];
	struct rust_mm_sample_stats base;	/* at the start of the sequence */
	uint64_t inserted, zapped, reclaimed, freed, faulted;	/* since then */
	int statfd;		/* a file for STATS, never mapped */
	char *scratch;		/* MAX_PAGES pages where mremap tries to move a mapping */
	bool noexec;		/* /dev is mounted noexec: PROT_EXEC is EPERM */
	/* The first violation of the sequence: the check, and what happened. */
	bool failed;
	const char *label;
	char what[400];
};

static void __printf(3, 4) violation(struct fuzz *z, const char *label, const char *fmt, ...)
{
	va_list ap;

	if (z->failed)
		return;
	z->failed = true;
	z->label = label;
	va_start(ap, fmt);
	vsnprintf(z->what, sizeof(z->what), fmt, ap);
	va_end(ap);
}

/* A call must have returned @want (0 or an errno); it gave @got. */
static bool expect_err(struct fuzz *z, const char *label, int want, int got)
{
	if (want != got)
		violation(z, label, "expected %s, got %s", errname(want), errname(got));
	return want == got;
}

static unsigned int held_pages(const struct file_model *m)
{
	unsigned int i, n = 0;

	for (i = 0; m->mapped && i < m->npages; i++)
		n += m->st[i] != PG_NONE;
	return n;
}

static const char * const stat_labels[NR_STATS] = {
	"stats.held", "stats.inserted", "stats.zapped", "stats.reclaimed",
	"stats.freed", "stats.files", "stats.faulted",
};

static void stats_array(const struct rust_mm_sample_stats *st, uint64_t *v)
{
	v[0] = st->held;
	v[1] = st->inserted;
	v[2] = st->zapped;
	v[3] = st->reclaimed;
	v[4] = st->freed;
	v[5] = st->files;
	v[6] = st->faulted;
}

/* Every counter is what the model says, exactly. */
static void check_stats(struct fuzz *z)
{
	uint64_t want[NR_STATS], got[NR_STATS], base[NR_STATS];
	struct rust_mm_sample_stats st;
	int f, k, err = get_stats(z->statfd, &st);

	if (err) {
		violation(z, "STATS", "expected success, got %s", errname(err));
		return;
	}
	stats_array(&z->base, base);
	stats_array(&z->base, want);
	stats_array(&st, got);
	for (f = 0; f < NFILES; f++) {
		want[0] += held_pages(&z->f[f]);
		/* Open, or kept by its mapping. */
		want[5] += z->f[f].fd >= 0 || z->f[f].mapped;
	}
	want[1] += z->inserted;
	want[2] += z->zapped;
	want[3] += z->reclaimed;
	want[4] += z->freed;
	want[6] += z->faulted;
	for (k = 0; k < NR_STATS; k++) {
		if (want[k] == got[k])
			continue;
		violation(z, stat_labels[k],
			  "expected %llu (%+lld since the start), got %llu (%+lld)%s",
			  (unsigned long long)want[k], (long long)(want[k] - base[k]),
			  (unsigned long long)got[k], (long long)(got[k] - base[k]),
			  k == 3 ? " (does the shrinker run under memory pressure?)" : "");
		return;
	}
}

/*
 * held == inserted - zapped - reclaimed - freed, whatever happened since the
 * module was loaded. Checked at the start and the end of the run only: the
 * exact checks of each step imply it for what a sequence changes, and once
 * broken it would fail every replay first.
 */
/* Each mapping is one VMA, whole, where mmap put it. */
static void check_maps(struct fuzz *z)
{
	unsigned long start, end, vs[NFILES] = { 0 }, ve[NFILES] = { 0 };
	FILE *maps = fopen("/proc/self/maps", "r");
	char line[4096];
	int f;

	if (!maps) {
		violation(z, "maps", "opening /proc/self/maps: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), maps))
		if (sscanf(line, "%lx-%lx", &start, &end) == 2)
			for (f = 0; f < NFILES; f++)
				if (start <= (unsigned long)z->f[f].addr &&
				    (unsigned long)z->f[f].addr < end) {
					vs[f] = start;
					ve[f] = end;
				}
	fclose(maps);
	for (f = 0; f < NFILES; f++) {
		unsigned long a = (unsigned long)z->f[f].addr, e = a + z->f[f].npages * psz;

		if (z->f[f].mapped && (vs[f] != a || ve[f] != e))
			violation(z, "maps", "file %d: expected the VMA %#lx-%#lx, found %#lx-%#lx",
				  f, a, e, vs[f], ve[f]);
	}
}

static void op_open(struct fuzz *z, struct file_model *m, const struct op *op)
{
	int fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		violation(z, "open", "expected a file, got %s", errname(errno));
		return;
	}
	memset(m, 0, sizeof(*m));
	m->fd = fd;
}

static void op_close(struct fuzz *z, struct file_model *m, const struct op *op)
{
	expect_err(z, "close", 0, close(m->fd) ? errno : 0);
	m->fd = -1;
}

/*
 * The driver checks the offset, the size, then VM_WRITE and VM_EXEC, all
 * EINVAL, and only then whether the file is mapped (EBUSY). Core mm refuses
 * PROT_EXEC on a noexec mount with EPERM before the driver sees the call.
 * A writable MAP_SHARED is not core mm's EACCES: the file is open O_RDWR.
 */
static int mmap_want(const struct fuzz *z, const struct file_model *m, const struct op *op)
{
	int want = m->mapped ? EBUSY : 0;

	if ((op->idx && op->idx != ON_FAULT_PGOFF) || op->n > MAX_PAGES ||
	    (op->how & (MM_WRITE | MM_EXEC)))
		want = EINVAL;
	if ((op->how & MM_EXEC) && z->noexec)
		want = EPERM;
	return want;
}

static void op_mmap(struct fuzz *z, struct file_model *m, const struct op *op)
{
	int prot = PROT_READ | (op->how & MM_WRITE ? PROT_WRITE : 0) |
		   (op->how & MM_EXEC ? PROT_EXEC : 0);
	size_t len = op->n * psz;
	char *p = mmap(NULL, len, prot, op->how & MM_SHARED ? MAP_SHARED : MAP_PRIVATE,
		       m->fd, (off_t)op->idx * psz);
	int got = p == MAP_FAILED ? errno : 0;

	if (!expect_err(z, "mmap", mmap_want(z, m, op), got)) {
		if (!got)
			munmap(p, len);	/* not the model's: take it away */
		return;
	}
	if (got)
		return;
	memset(m->st, 0, sizeof(m->st));
	m->mapped = true;
	m->shared = op->how & MM_SHARED;
	m->on_fault = op->idx == ON_FAULT_PGOFF;
	m->dofork = false;
	m->npages = op->n;
	m->addr = p;
}

/* munmap of all of it, or MAP_FIXED over all of it: the driver frees its pages. */
static void op_munmap(struct fuzz *z, struct file_model *m, const struct op *op)
{
	size_t len = m->npages * psz;
	int got;

	if (op->how) {
		void *p = mmap(m->addr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			       -1, 0);

		got = p == MAP_FAILED ? errno : 0;
		if (!got && munmap(p, len))
			got = errno;
	} else {
		got = munmap(m->addr, len) ? errno : 0;
	}
	expect_err(z, op->how ? "MAP_FIXED over all" : "munmap", 0, got);
	z->freed += held_pages(m);
	m->mapped = false;
}

static void op_insert(struct fuzz *z, struct file_model *m, const struct op *op)
{
	__u32 i = op->idx;
	int want, got;

	if (!m->mapped || i >= m->npages)
		want = EINVAL;
	else if (m->st[i] == PG_MAPPED)
		want = EBUSY;	/* vm_insert_page() refuses a mapped address */
	else
		want = 0;
	got = do_insert(m->fd, op->how ? RUST_MM_SAMPLE_INSERT_WRITE_LOCKED : RUST_MM_SAMPLE_INSERT,
			i, op->fill);
	if (!expect_err(z, op->how ? "INSERT_WRITE_LOCKED" : "INSERT", want, got) || got)
		return;
	z->inserted++;
	/* Over the page that MADV_DONTNEED unmapped, which it frees. */
	if (m->st[i] == PG_HELD)
		z->freed++;
	m->st[i] = PG_MAPPED;
	m->fill[i] = op->fill;
}

static void op_zap(struct fuzz *z, struct file_model *m, const struct op *op)
{
	unsigned long i = op->idx;
	int want, got;

	if (!m->mapped || i >= m->npages)
		want = EINVAL;
	else if (m->st[i] == PG_NONE)
		want = ENOENT;
	else
		want = 0;	/* mapped, or held after MADV_DONTNEED */
	got = zap(m->fd, i);
	if (!expect_err(z, "ZAP", want, got) || got)
		return;
	z->zapped++;
	m->st[i] = PG_NONE;
}

static void op_touch(struct fuzz *z, struct file_model *m, const struct op *op)
{
	unsigned int i = op->idx;
	char *page = m->addr + i * psz, wbuf[48], gbuf[96];
	struct probe r = probe_page(page, op->n, true);
	int want;

	/* In a fault-driven mapping, a held page comes back as it was. */
	if (m->st[i] == PG_MAPPED || (m->on_fault && m->st[i] == PG_HELD))
		want = m->fill[i];
	else if (m->on_fault)
		want = RUST_MM_SAMPLE_FAULT_FILL(i);
	else
		want = WANT_SIGBUS;
	if (!probe_is(&r, page + op->n, want)) {
		violation(z, "touch", "expected %s, got %s", want_str(want, wbuf, sizeof(wbuf)),
			  probe_str(&r, page + op->n, gbuf, sizeof(gbuf)));
		return;
	}
	if (m->on_fault && m->st[i] == PG_NONE) {
		z->inserted++;
		z->faulted++;
		m->fill[i] = want;
	}
	if (want >= 0)
		m->st[i] = PG_MAPPED;
}

static void op_dontneed(struct fuzz *z, struct file_model *m, const struct op *op)
{
	unsigned int i;
	int got = madvise(m->addr + op->idx * psz, op->n * psz, MADV_DONTNEED) ? errno : 0;

	if (!expect_err(z, "MADV_DONTNEED", 0, got))
		return;
	for (i = op->idx; i < op->idx + op->n; i++)
		if (m->st[i] == PG_MAPPED)
			m->st[i] = PG_HELD;
}

/* What would split the mapping: EINVAL, and nothing changes. */
static void op_split(struct fuzz *z, struct file_model *m, const struct op *op)
{
	char *at = m->addr + op->idx * psz;
	size_t len = op->n * psz;
	int got;

	switch (op->how) {
	case SPLIT_MUNMAP:
		got = munmap(at, len) ? errno : 0;
		break;
	case SPLIT_MAP_FIXED:
		got = mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		      MAP_FAILED ? errno : 0;
		break;
	case SPLIT_MPROTECT:
		got = mprotect(at, len, PROT_NONE) ? errno : 0;
		break;
	case SPLIT_DONTDUMP:
		got = madvise(at, len, MADV_DONTDUMP) ? errno : 0;
		break;
	default:
		/* A change of the flag: madvise that changes nothing would not split. */
		got = madvise(at, len, m->dofork ? MADV_DONTFORK : MADV_DOFORK) ? errno : 0;
		break;
	}
	expect_err(z, split_names[op->how], EINVAL, got);
}

/* Moving and shrinking are EINVAL, growing EFAULT; nothing changes. */
static void op_mremap(struct fuzz *z, struct file_model *m, const struct op *op)
{
	size_t len = m->npages * psz, new_len = len;
	int want = EINVAL, got;
	char *p, *s;

	switch (op->how) {
	case MR_MOVE:
		p = mremap(m->addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, z->scratch);
		break;
	case MR_SHRINK:
		new_len = op->n * psz;
		p = mremap(m->addr, len, new_len, 0);
		break;
	default:
		new_len = len + op->n * psz;
		want = EFAULT;
		p = mremap(m->addr, len, new_len, op->how == MR_GROW ? MREMAP_MAYMOVE : 0);
		break;
	}
	got = p == MAP_FAILED ? errno : 0;
	if (!expect_err(z, mremap_names[op->how], want, got)) {
		/* It did something: take it all away. */
		if (!got) {
			munmap(p, new_len);
			munmap(m->addr, len);
		}
	}
	if (op->how != MR_MOVE)
		return;
	/* MREMAP_FIXED unmapped the target first, and nothing may be left there. */
	s = mmap(z->scratch, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (s != z->scratch) {
		violation(z, "mremap move", "the target is not empty afterwards (%s)",
			  s == MAP_FAILED ? errname(errno) : "placed elsewhere");
		if (s != MAP_FAILED)
			munmap(s, len);
		mmap(z->scratch, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	}
}

/* mprotect(PROT_WRITE) or mprotect(PROT_EXEC), of all or part of it: EACCES. */
static void op_mprotect(struct fuzz *z, struct file_model *m, const struct op *op)
{
	int got = mprotect(m->addr + op->idx * psz, op->n * psz, mprotect_prots[op->how]) ?
		  errno : 0;

	expect_err(z, "mprotect", EACCES, got);
}

static void op_dofork(struct fuzz *z, struct file_model *m, const struct op *op)
{
	int got = madvise(m->addr, m->npages * psz, op->how ? MADV_DONTFORK : MADV_DOFORK) ?
		  errno : 0;

	if (expect_err(z, op->how ? "MADV_DONTFORK" : "MADV_DOFORK", 0, got))
		m->dofork = !op->how;
}

/*
 * In the child of a fork: a mapping with MADV_DOFORK is copied and shows the
 * pages mapped at the fork, SIGBUS elsewhere (fault-driven or not: the fault
 * handler fills only the driver's own mapping); the others are not there.
 */
static void check_copies(const struct fuzz *z, char *msg, size_t size)
{
	char wbuf[48], gbuf[96];
	unsigned int i;
	int f, want;

	for (f = 0; f < NFILES; f++) {
		const struct file_model *m = &z->f[f];

		for (i = 0; m->mapped && i < m->npages; i++) {
			char *page = m->addr + i * psz;
			struct probe r = probe_page(page, 0, true);

			if (!m->dofork)
				want = WANT_SIGSEGV;
			else
				want = m->st[i] == PG_MAPPED ? m->fill[i] : WANT_SIGBUS;
			if (probe_is(&r, page, want))
				continue;
			snprintf(msg, size, "file %d%s, page %u: expected %s, got %s", f,
				 m->dofork ? "" : " (no MADV_DOFORK)", i,
				 want_str(want, wbuf, sizeof(wbuf)),
				 probe_str(&r, page, gbuf, sizeof(gbuf)));
			return;
		}
	}
}

/*
 * After the child's first look, in the parent: a ZAP of the first mapped
 * page and an INSERT at the first index without one, of each mapping the
 * child has a copy of. The child's copy must not see either.
 */
static void change_copied(struct fuzz *z)
{
	unsigned int i;
	int f;

	for (f = 0; f < NFILES && !z->failed; f++) {
		struct file_model *m = &z->f[f];
		struct op op = { .f = f };

		if (!m->mapped || !m->dofork || m->fd < 0)
			continue;
		for (i = 0; i < m->npages && m->st[i] != PG_MAPPED; i++)
			;
		if (i < m->npages) {
			op.kind = OP_ZAP;
			op.idx = i;
			op_zap(z, m, &op);
		}
		for (i = 0; i < m->npages && m->st[i] != PG_NONE; i++)
			;
		if (i < m->npages && !z->failed) {
			op.kind = OP_INSERT;
			op.idx = i;
			op.fill = 0xa0 + i;
			op_insert(z, m, &op);
		}
	}
}

/*
 * The child looks at its copies (check_copies()), tells the parent, waits
 * while the parent changes the mappings (change_copied()), looks again with
 * the model as it was at the fork, and exits. Each look's result is one
 * write of the whole message, so the parent reads it whole.
 */
static void op_fork(struct fuzz *z, struct file_model *m, const struct op *op)
{
	char msg[2][320] = { "", "" };
	int up[2], down[2], status, look;
	char go = 0;
	pid_t pid;

	if (pipe(up)) {
		violation(z, "fork", "pipe: %s", strerror(errno));
		return;
	}
	if (pipe(down)) {
		violation(z, "fork", "pipe: %s", strerror(errno));
		close(up[0]);
		close(up[1]);
		return;
	}
	pid = fork();
	if (!pid) {
		close(up[0]);
		close(down[1]);
		check_copies(z, msg[0], sizeof(msg[0]));
		if (write(up[1], msg[0], sizeof(msg[0])) != sizeof(msg[0]) ||
		    read(down[0], &go, 1) != 1)
			_exit(2);
		check_copies(z, msg[1], sizeof(msg[1]));
		if (write(up[1], msg[1], sizeof(msg[1])) != sizeof(msg[1]))
			_exit(2);
		_exit(msg[0][0] || msg[1][0]);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0) {
		violation(z, "fork", "fork: %s", strerror(errno));
		close(up[0]);
		close(down[1]);
		return;
	}
	if (read(up[0], msg[0], sizeof(msg[0])) == sizeof(msg[0]) && !msg[0][0])
		change_copied(z);
	/* Whatever happened, the child goes on and exits. */
	if (write(down[1], &go, 1) == 1 && read(up[0], msg[1], sizeof(msg[1])) != sizeof(msg[1]))
		msg[1][0] = '\0';
	close(up[0]);
	close(down[1]);
	msg[0][sizeof(msg[0]) - 1] = msg[1][sizeof(msg[1]) - 1] = '\0';
	if (waitpid(pid, &status, 0) != pid) {
		violation(z, "fork", "waitpid: %s", strerror(errno));
		return;
	}
	for (look = 0; look < 2 && !z->failed; look++)
		if (msg[look][0])
			violation(z, "fork", "in the child, %s: %s",
				  look ? "after the parent's ZAP and INSERT" : "at the fork",
				  msg[look]);
	if (!z->failed && (!WIFEXITED(status) || WEXITSTATUS(status)))
		violation(z, "fork", "the child: status %#x", status);
}

/*
 * The shrinker takes back every page the driver holds (each has its slot on
 * the list), mapped or dropped by MADV_DONTNEED. It only trylocks the mmap
 * lock, which could fail when something else holds it: as the test
 * drop_caches_reclaims of rust_mm_sample_test.c, this gives it five chances,
 * 100 ms apart. The counters checked after the step must then show exactly
 * those pages reclaimed (else it is a violation).
 */
static void op_drop_caches(struct fuzz *z, struct file_model *m, const struct op *op)
{
	struct rust_mm_sample_stats st;
	unsigned int i, n = 0;
	int f, tries, err;

	for (f = 0; f < NFILES; f++) {
		n += held_pages(&z->f[f]);
		for (i = 0; i < MAX_PAGES; i++)
			z->f[f].st[i] = PG_NONE;
	}
	z->reclaimed += n;
	for (tries = 0; tries < 5; tries++) {
		err = write_sysctl("/proc/sys/vm/drop_caches", "2\n");
		if (err) {
			violation(z, "drop_caches", "writing /proc/sys/vm/drop_caches: %s (root?)",
				  strerror(err));
			return;
		}
		if (get_stats(z->statfd, &st) || st.reclaimed >= z->base.reclaimed + z->reclaimed)
			return;
		usleep(100000);
	}
}

typedef void op_fn(struct fuzz *z, struct file_model *m, const struct op *op);

static op_fn * const op_fns[] = {
	[OP_OPEN] = op_open, [OP_CLOSE] = op_close, [OP_MMAP] = op_mmap,
	[OP_MUNMAP] = op_munmap, [OP_INSERT] = op_insert, [OP_ZAP] = op_zap,
	[OP_TOUCH] = op_touch, [OP_DONTNEED] = op_dontneed, [OP_SPLIT] = op_split,
	[OP_MREMAP] = op_mremap, [OP_MPROTECT] = op_mprotect, [OP_DOFORK] = op_dofork,
	[OP_FORK] = op_fork, [OP_DROP_CACHES] = op_drop_caches,
};

/*
 * Whether @op makes sense in the state of the model. gen_op() draws only
 * such operations; in a replay of part of a sequence, the others do nothing.
 */
static bool runnable(const struct file_model *m, const struct op *op)
{
	bool range = m->mapped && op->n && op->idx < m->npages && op->n <= m->npages - op->idx;

	switch (op->kind) {
	case OP_OPEN:
		return m->fd < 0 && !m->mapped;
	case OP_CLOSE:
	case OP_MMAP:
	case OP_INSERT:
	case OP_ZAP:
		return m->fd >= 0;
	case OP_MUNMAP:
	case OP_DOFORK:
		return m->mapped;
	case OP_TOUCH:
		return m->mapped && op->idx < m->npages && op->n < psz;
	case OP_DONTNEED:
	case OP_MPROTECT:
		return range;
	case OP_SPLIT:
		return range && op->n < m->npages;
	case OP_MREMAP:
		return m->mapped && (op->how != MR_SHRINK || (op->n && op->n < m->npages));
	default:
		return true;
	}
}

static void describe_op(const struct op *op, char *buf, size_t size)
{
	unsigned long long a = op->idx, b = op->idx + op->n - 1;
	int f = op->f;

	switch (op->kind) {
	case OP_OPEN:
		snprintf(buf, size, "open file %d", f);
		break;
	case OP_CLOSE:
		snprintf(buf, size, "close file %d", f);
		break;
	case OP_MMAP:
		snprintf(buf, size, "mmap file %d: %u pages at page offset %llu, PROT_READ%s%s, %s",
			 f, op->n, a, op->how & MM_WRITE ? " | PROT_WRITE" : "",
			 op->how & MM_EXEC ? " | PROT_EXEC" : "",
			 op->how & MM_SHARED ? "MAP_SHARED" : "MAP_PRIVATE");
		break;
	case OP_MUNMAP:
		snprintf(buf, size, "%s all of the mapping of file %d",
			 op->how ? "MAP_FIXED anonymous mmap over" : "munmap", f);
		break;
	case OP_INSERT:
		snprintf(buf, size, "%s file %d: index %llu, fill %#x",
			 op->how ? "INSERT_WRITE_LOCKED" : "INSERT", f, a, op->fill);
		break;
	case OP_ZAP:
		snprintf(buf, size, "ZAP file %d: index %#llx", f, a);
		break;
	case OP_TOUCH:
		snprintf(buf, size, "touch file %d: byte %u of page %llu", f, op->n, a);
		break;
	case OP_DONTNEED:
		snprintf(buf, size, "MADV_DONTNEED file %d: pages %llu-%llu", f, a, b);
		break;
	case OP_SPLIT:
		snprintf(buf, size, "%s pages %llu-%llu of file %d (a split)",
			 split_names[op->how], a, b, f);
		break;
	case OP_MREMAP:
		snprintf(buf, size, "%s, file %d (%u pages)", mremap_names[op->how], f,
			 op->how == MR_MOVE ? 0 : op->n);
		break;
	case OP_MPROTECT:
		snprintf(buf, size, "mprotect file %d: pages %llu-%llu, %s", f, a, b,
			 mprotect_names[op->how]);
		break;
	case OP_DOFORK:
		snprintf(buf, size, "%s file %d: all of it",
			 op->how ? "MADV_DONTFORK" : "MADV_DOFORK", f);
		break;
	case OP_FORK:
		snprintf(buf, size, "fork: the child checks its copies, the parent ZAPs and %s",
			 "INSERTs, the child checks again and exits");
		break;
	case OP_DROP_CACHES:
		snprintf(buf, size, "drop_caches (2)");
		break;
	}
}

static void gen_mmap(uint64_t *rng, struct op *op, bool bad)
{
	static const uint64_t bad_pgoff[] = {
		1, ON_FAULT_PGOFF - 1, ON_FAULT_PGOFF + 1, 2 * ON_FAULT_PGOFF,
	};

	op->kind = OP_MMAP;
	op->how = below(rng, 2) ? MM_SHARED : 0;
	op->idx = below(rng, 2) ? ON_FAULT_PGOFF : 0;
	op->n = 1 + below(rng, MAX_PAGES);
	if (!bad)
		return;
	switch (below(rng, 4)) {
	case 0:
		op->n = MAX_PAGES + 1 + below(rng, 4);
		break;
	case 1:
		op->how |= MM_WRITE;
		break;
	case 2:
		op->how |= MM_EXEC;
		break;
	default:
		op->idx = bad_pgoff[below(rng, ARRAY_SIZE(bad_pgoff))];
		break;
	}
}

static void gen_ioctl(uint64_t *rng, const struct file_model *m, struct op *op)
{
	/* Far past the mapping; for ZAP (an unsigned long) also past 32 bits. */
	static const uint64_t far[] = { MAX_PAGES, 0xffffffffULL, 1ULL << 32, ~0ULL };
	unsigned int i, n = m->mapped ? m->npages : MAX_PAGES;

	op->kind = below(rng, 3) ? OP_INSERT : OP_ZAP;
	op->how = op->kind == OP_INSERT ? below(rng, 2) : 0;
	op->fill = op->kind == OP_INSERT ? rnd(rng) : 0;
	if (!below(rng, 10)) {
		op->idx = below(rng, 2) ? n + below(rng, 3) :
			  far[below(rng, op->kind == OP_ZAP ? 4 : 2)];
		return;
	}
	op->idx = below(rng, n);
	/* A ZAP of nothing is ENOENT: mostly, zap a page the driver holds. */
	if (op->kind != OP_ZAP || !m->mapped || !below(rng, 4))
		return;
	for (i = 0; i < n; i++)
		if (m->st[(op->idx + i) % n] != PG_NONE) {
			op->idx = (op->idx + i) % n;
			return;
		}
}

/* Pages [idx, idx + n) of the mapping, at most @max of them. */
static void gen_range(uint64_t *rng, const struct file_model *m, struct op *op, unsigned int max)
{
	unsigned int room;

	op->idx = below(rng, m->npages);
	room = m->npages - op->idx;
	op->n = 1 + below(rng, room < max ? room : max);
}

/* A random operation that makes sense in the state of the model. */
static void gen_op(uint64_t *rng, const struct fuzz *z, struct op *op)
{
	int f = below(rng, NFILES);
	const struct file_model *m = &z->f[f];
	unsigned int r = below(rng, 100);

	memset(op, 0, sizeof(*op));
	op->f = f;
	if (m->fd < 0 && !m->mapped) {
		op->kind = OP_OPEN;
	} else if (r >= 97) {
		op->kind = r == 99 ? OP_DROP_CACHES : OP_FORK;
	} else if (!m->mapped) {
		if (r < 70)
			gen_mmap(rng, op, r >= 60);
		else if (r < 87)
			gen_ioctl(rng, m, op);	/* EINVAL: no mapping */
		else
			op->kind = OP_CLOSE;
	} else {
		if (m->fd < 0 && r < 35)
			r = 60;		/* no fd to call: a touch instead */
		if (r < 50 && r >= 46 && m->npages < 2)
			r = 60;		/* a mapping of one page cannot split */
		if (r < 30) {
			gen_ioctl(rng, m, op);
		} else if (r < 33) {
			gen_mmap(rng, op, below(rng, 2));	/* EBUSY, or EINVAL */
		} else if (r < 35) {
			op->kind = OP_CLOSE;
		} else if (r < 40) {
			op->kind = OP_MUNMAP;
			op->how = !below(rng, 4);
		} else if (r < 46) {
			op->kind = OP_DONTNEED;
			gen_range(rng, m, op, below(rng, 4) ? 1 : MAX_PAGES);
		} else if (r < 50) {
			op->kind = OP_SPLIT;
			op->how = below(rng, NR_SPLITS);
			gen_range(rng, m, op, m->npages - 1);
		} else if (r < 54) {
			op->kind = OP_MREMAP;
			op->how = below(rng, NR_MREMAPS);
			if (op->how == MR_SHRINK && m->npages < 2)
				op->how = MR_GROW;
			op->n = op->how == MR_SHRINK ? 1 + below(rng, m->npages - 1) :
				1 + below(rng, 4);
		} else if (r < 57) {
			op->kind = OP_MPROTECT;
			op->how = below(rng, ARRAY_SIZE(mprotect_prots));
			gen_range(rng, m, op, MAX_PAGES);
		} else if (r < 60) {
			op->kind = OP_DOFORK;
			op->how = !below(rng, 3);
		} else {
			op->kind = OP_TOUCH;
			op->idx = below(rng, m->npages);
			op->n = below(rng, psz);
		}
	}
}

/* Unmaps and closes whatever the model has, without checks. */
static void reset(struct fuzz *z)
{
	int f;

	for (f = 0; f < NFILES; f++) {
		struct file_model *m = &z->f[f];

		if (m->mapped)
			munmap(m->addr, m->npages * psz);
		if (m->fd >= 0)
			close(m->fd);
		memset(m, 0, sizeof(*m));
		m->fd = -1;
	}
}

/*
 * Runs a sequence of @n operations from a clean state: @ops, or, with @rng,
 * operations it draws into @ops as it goes. Then unmaps and closes
 * everything, and the counters must be back. Returns the step of the first
 * violation (@n: the end), or -1.
 */
static int run_ops(struct fuzz *z, struct op *ops, int n, uint64_t *rng)
{
	struct rust_mm_sample_stats st;
	int s, f, at = -1;

	reset(z);
	z->failed = false;
	z->inserted = 0;
	z->zapped = 0;
	z->reclaimed = 0;
	z->freed = 0;
	z->faulted = 0;
	s = get_stats(z->statfd, &z->base);
	if (s)
		violation(z, "STATS", "reading the counters at the start: %s", strerror(s));
	for (s = 0; s < n && !z->failed; s++) {
		if (rng)
			gen_op(rng, z, &ops[s]);
		if (!runnable(&z->f[ops[s].f], &ops[s]))
			continue;
		op_fns[ops[s].kind](z, &z->f[ops[s].f], &ops[s]);
		if (!z->failed)
			check_stats(z);
		/*
		 * The maps are checked every MAPS_EVERY steps, and in a replay
		 * at every step: a shrunk sequence has other step numbers.
		 */
		if (!z->failed && (!rng || s % MAPS_EVERY == MAPS_EVERY - 1 || s == n - 1))
			check_maps(z);
		if (z->failed)
			at = s;
	}
	for (f = 0; f < NFILES && !z->failed; f++) {
		struct op end = { .kind = OP_MUNMAP, .f = f };

		if (z->f[f].mapped)
			op_munmap(z, &z->f[f], &end);
		if (z->f[f].fd >= 0 && !z->failed)
			op_close(z, &z->f[f], &end);
	}
	if (!z->failed)
		check_stats(z);
	/* Which the model says too; this does not depend on it. */
	s = z->failed ? 0 : get_stats(z->statfd, &st);
	if (s)
		violation(z, "STATS", "reading the counters at the end: %s", strerror(s));
	if (!z->failed && st.held != z->base.held)
		violation(z, "end.held", "expected %llu, as at the start, got %llu",
			  (unsigned long long)z->base.held, (unsigned long long)st.held);
	if (!z->failed && st.files != z->base.files)
		violation(z, "end.files", "expected %llu, as at the start, got %llu",
			  (unsigned long long)z->base.files, (unsigned long long)st.files);
	if (z->failed && at < 0)
		at = n;
	reset(z);
	return at;
}

static void print_ops(const struct op *ops, int n)
{
	char buf[160];
	int s;

	if (!n)
		fprintf(stderr, "#   (no operation: the end of the sequence alone)\n");
	for (s = 0; s < n; s++) {
		describe_op(&ops[s], buf, sizeof(buf));
		fprintf(stderr, "#   %3d: %s\n", s + 1, buf);
	}
}

static const char *step_str(const struct op *ops, int n, int at, char *buf, size_t size)
{
	if (at >= n)
		return "the end of the sequence, unmapping and closing everything";
	describe_op(&ops[at], buf, size);
	return buf;
}

/* Whether the @n operations of @ops fail the check @label from a clean state. */
static int fails(struct fuzz *z, struct op *ops, int n, const char *label)
{
	int at = run_ops(z, ops, n, NULL);

	return at >= 0 && !strcmp(z->label, label) ? at : -1;
}

/*
 * Drops chunks of operations from @ops, halving the chunk when none can go,
 * while the rest still fails @label, down to single operations: unless the
 * budget (SHRINK_REPLAYS, SHRINK_SECONDS) ran out first, no single one of
 * those left can be dropped (a minimal sequence, not always the shortest).
 * Returns how many are left.
 */
static int shrink(struct fuzz *z, struct op *ops, int n, const char *label)
{
	struct op *try = calloc(n + 1, sizeof(*try));
	int chunk = n / 2 ? n / 2 : 1, start, len, at, replays = 0;
	uint64_t deadline = now_s() + SHRINK_SECONDS;
	bool dropped;

	while (try && chunk && replays < SHRINK_REPLAYS && now_s() < deadline) {
		dropped = false;
		for (start = 0; start < n && replays < SHRINK_REPLAYS && now_s() < deadline;
		     replays++) {
			len = chunk < n - start ? chunk : n - start;
			memcpy(try, ops, start * sizeof(*ops));
			memcpy(try + start, ops + start + len, (n - start - len) * sizeof(*ops));
			at = fails(z, try, n - len, label);
			if (at < 0) {
				start += chunk;
				continue;
			}
			/* What comes after the failing step does not matter. */
			n = at + 1 < n - len ? at + 1 : n - len;
			memcpy(ops, try, n * sizeof(*ops));
			dropped = true;
		}
		if (!dropped)
			chunk /= 2;
	}
	free(try);
	return n;
}

static void report(struct fuzz *z, struct op *ops, int n, int at, uint64_t seed, int first,
		   int seq, bool shrink_it)
{
	const char *label = z->label;
	char buf[160];
	int len;

	fprintf(stderr, "# VIOLATION: seed %#llx, sequence %d, %s %d of %d: %s\n",
		(unsigned long long)seed, seq, at < n ? "step" : "after step", at < n ? at + 1 : n,
		n, step_str(ops, n, at, buf, sizeof(buf)));
	fprintf(stderr, "#   %s: %s\n", label, z->what);
	fprintf(stderr,
		"# replay: RUST_MM_FUZZ_SEED=%#llx RUST_MM_FUZZ_FIRST=%d RUST_MM_FUZZ_SEQUENCES=%d %s\n",
		(unsigned long long)seed, first, seq - first + 1, PROG);
	fprintf(stderr,
		"# this sequence alone: RUST_MM_FUZZ_SEED=%#llx RUST_MM_FUZZ_FIRST=%d RUST_MM_FUZZ_SEQUENCES=1 %s\n",
		(unsigned long long)seed, seq, PROG);
	if (!shrink_it) {
		fprintf(stderr, "# not shrunk: only the first %d failing sequences are\n",
			SHRINK_SEQUENCES);
		return;
	}
	len = at < n ? at + 1 : n;
	at = fails(z, ops, len, label);
	if (at < 0 && z->failed)
		fprintf(stderr, "# (the replay failed another check first: %s: %s)\n", z->label,
			z->what);
	if (at < 0) {
		fprintf(stderr,
			"# replayed from a clean state, these %d operations do not fail %s again (not deterministic?):\n",
			len, label);
		print_ops(ops, len);
		return;
	}
	len = shrink(z, ops, at + 1 < len ? at + 1 : len, label);
	at = fails(z, ops, len, label);
	fprintf(stderr, "# shrunk to %d operations; from a clean state they fail at %s%s\n", len,
		at < 0 ? "nothing (this time)" : step_str(ops, len, at, buf, sizeof(buf)),
		at < 0 ? "" : ":");
	if (at >= 0)
		fprintf(stderr, "#   %s: %s\n", z->label, z->what);
	print_ops(ops, len);
}

FIXTURE(contract)
{
	struct fuzz z;
};

FIXTURE_SETUP(contract)
{
	struct statvfs sv;
	int f;

	psz = sysconf(_SC_PAGESIZE);
	install_probe_handler();
	for (f = 0; f < NFILES; f++)
		self->z.f[f].fd = -1;
	self->z.scratch = MAP_FAILED;
	self->z.statfd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->z.statfd)
		TH_LOG("open %s: %s (is the rust_mm_sample module loaded?)",
		       DEV_PATH, strerror(errno));
	/* Under READ_IMPLIES_EXEC every mapping would be executable: EINVAL. */
	ASSERT_EQ(0, personality(0xffffffff) & READ_IMPLIES_EXEC);
	ASSERT_EQ(0, statvfs(DEV_PATH, &sv));
	self->z.noexec = sv.f_flag & ST_NOEXEC;
	self->z.scratch = mmap(NULL, MAX_PAGES * psz, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
	ASSERT_NE(MAP_FAILED, self->z.scratch);
}

FIXTURE_TEARDOWN(contract)
{
	reset(&self->z);
	if (self->z.scratch != MAP_FAILED)
		munmap(self->z.scratch, MAX_PAGES * psz);
	if (self->z.statfd >= 0)
		close(self->z.statfd);
}

TEST_F_TIMEOUT(contract, sequences, 600)
{
	const char *seed_env = getenv("RUST_MM_FUZZ_SEED");
	const char *seq_env = getenv("RUST_MM_FUZZ_SEQUENCES");
	const char *first_env = getenv("RUST_MM_FUZZ_FIRST");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : DEFAULT_SEED;
	int nseq = seq_env ? atoi(seq_env) : DEFAULT_SEQUENCES;
	int first = first_env ? atoi(first_env) : 0;
	struct op *ops = calloc(MAX_STEPS, sizeof(*ops));
	struct rust_mm_sample_stats st;
	unsigned long long steps = 0;
	int seq, n, at, violations = 0;

	ASSERT_NE(NULL, ops);
	fprintf(stderr, "# seed %#llx, sequences %d to %d%s\n", (unsigned long long)seed, first,
		first + nseq - 1, self->z.noexec ? " (/dev is noexec)" : "");
	ASSERT_EQ(0, get_stats(self->z.statfd, &st));
	log_stats("before", &st);
	EXPECT_TRUE(stats_consistent(&st))
		TH_LOG("before: held != inserted - zapped - reclaimed - freed");
	for (seq = first; seq < first + nseq; seq++) {
		uint64_t rng = seed_for(seed, seq);

		n = MIN_STEPS + below(&rng, MAX_STEPS - MIN_STEPS + 1);
		at = run_ops(&self->z, ops, n, &rng);
		steps += at < 0 || at >= n ? n : at + 1;
		if (at < 0)
			continue;
		report(&self->z, ops, n, at, seed, first, seq, violations < SHRINK_SEQUENCES);
		violations++;
	}
	ASSERT_EQ(0, get_stats(self->z.statfd, &st));
	log_stats("after", &st);
	EXPECT_TRUE(stats_consistent(&st))
		TH_LOG("after: held != inserted - zapped - reclaimed - freed");
	fprintf(stderr, "# fuzz: %llu steps, %d sequences, %d violations\n", steps, nseq,
		violations);
	free(ops);
	EXPECT_EQ(0, violations);
}

/*
 * Threads of one process INSERT, ZAP, touch and MADV_DONTNEED the pages of
 * one mapping at once, while another flips VM_DONTCOPY on all of it
 * (MADV_DONTFORK, MADV_DOFORK): each flip write-locks the VMA, so an INSERT
 * that meets it finds no per-VMA lock and takes the mmap read lock instead.
 * Whatever the interleaving, each INSERT and ZAP that succeeded counts once
 * (and each page a fault filled), no other error than EBUSY (and ENOENT for
 * ZAP) occurs, and a page reads its index's fill (or the fault's). After
 * each of T_ROUNDS rounds, with the workers waiting, audit() checks that the
 * books match the page tables, and takes every page back: then the driver
 * must count none held (in the fault-driven mode, the pages that the
 * audit's touches filled). The munmap frees what is left. In the INSERT-
 * driven mode, in the fault-driven mode, and in the fault-driven mode again
 * on one page, where every thread meets every other.
 */
#define T_THREADS	3
/* The pages of the mapping in each mode: the last puts every thread on one. */
static const unsigned int t_mode_pages[] = { 4, 4, 1 };
static unsigned int t_pages;
#define T_ROUNDS	30
#define T_ROUND_OPS	100

struct worker {
	pthread_t thread;
	uint64_t rng;
	int fd;
	char *map;
	bool on_fault;
	pthread_barrier_t *round;
	uint64_t inserted, zapped, dontneeds;
	char fail[160];
};

/* Flips VM_DONTCOPY of @arg's mapping until the workers are done. */
struct flipper {
	pthread_t thread;
	char *map;
	bool stop;
	unsigned long flips;
	int err;
};

static void *flip_thread(void *arg)
{
	struct flipper *fl = arg;

	while (!__atomic_load_n(&fl->stop, __ATOMIC_RELAXED) && !fl->err) {
		if (madvise(fl->map, t_pages * psz, fl->flips % 2 ? MADV_DOFORK : MADV_DONTFORK))
			fl->err = errno;
		else
			fl->flips++;
	}
	return NULL;
}

/* The fill of page @i: the same for every thread, never a fault's. */
static unsigned char t_fill(unsigned int i)
{
	return 0x40 + i;
}

/* One random operation of a worker on one page of the mapping. */
static void worker_op(struct worker *w)
{
	unsigned int r = below(&w->rng, 100), idx = below(&w->rng, t_pages);
	char *page = w->map + idx * psz;
	struct probe p;
	int err;

	if (r < 35) {
		err = do_insert(w->fd, r % 2 ? RUST_MM_SAMPLE_INSERT :
				RUST_MM_SAMPLE_INSERT_WRITE_LOCKED, idx, t_fill(idx));
		if (!err)
			w->inserted++;
		else if (err != EBUSY)
			snprintf(w->fail, sizeof(w->fail), "INSERT of page %u: %s", idx,
				 errname(err));
	} else if (r < 60) {
		err = zap(w->fd, idx);
		if (!err)
			w->zapped++;
		else if (err != EBUSY && err != ENOENT)
			snprintf(w->fail, sizeof(w->fail), "ZAP of page %u: %s", idx,
				 errname(err));
	} else if (r < 95) {
		p = probe_page(page, below(&w->rng, psz), false);
		if (p.signo ? w->on_fault || p.signo != SIGBUS || p.code != BUS_ADRERR :
		    p.byte != t_fill(idx) &&
		    !(w->on_fault && p.byte == RUST_MM_SAMPLE_FAULT_FILL(idx)))
			snprintf(w->fail, sizeof(w->fail),
				 "touch of page %u: signal %d (si_code %d), byte %#x", idx,
				 p.signo, p.code, p.byte);
	} else if (madvise(page, psz, MADV_DONTNEED)) {
		snprintf(w->fail, sizeof(w->fail), "MADV_DONTNEED of page %u: %s", idx,
			 errname(errno));
	} else {
		w->dontneeds++;
	}
}

/* T_ROUNDS rounds of T_ROUND_OPS operations, each followed by the audit. */
static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	int round, i;

	for (round = 0; round < T_ROUNDS; round++) {
		for (i = 0; i < T_ROUND_OPS && !w->fail[0]; i++)
			worker_op(w);
		/* The round is over; the audit runs alone until the second. */
		pthread_barrier_wait(w->round);
		pthread_barrier_wait(w->round);
	}
	return NULL;
}

/*
 * With the workers waiting: the books must match the page tables. A page
 * that reads must be the one the driver holds: in the fault-driven mode,
 * after MADV_DONTNEED the next touch brings the same bytes back; and ZAP
 * must take it (ENOENT only where a touch gave SIGBUS). Then the index reads
 * as if nothing was inserted there: SIGBUS, or a new page the fault fills.
 * Returns how many pages ZAP took; @fail says what went wrong.
 */
static unsigned int audit(int fd, char *map, bool on_fault, char *fail, size_t size)
{
	unsigned int i, zapped = 0;

	for (i = 0; i < t_pages && !fail[0]; i++) {
		char *page = map + i * psz;
		struct probe p = probe_page(page, 0, false), q;
		int err;

		if (!p.signo && on_fault) {
			if (madvise(page, psz, MADV_DONTNEED)) {
				snprintf(fail, size, "MADV_DONTNEED of page %u: %s", i,
					 errname(errno));
				break;
			}
			q = probe_page(page, 0, false);
			if (q.signo || q.byte != p.byte) {
				snprintf(fail, size,
					 "page %u read %#x, after MADV_DONTNEED: signal %d, byte %#x",
					 i, p.byte, q.signo, q.byte);
				break;
			}
		}
		err = zap(fd, i);
		if (err && (err != ENOENT || !p.signo)) {
			snprintf(fail, size, "page %u: signal %d, byte %#x; ZAP of it: %s", i,
				 p.signo, p.byte, errname(err));
			break;
		}
		zapped += !err;
		q = probe_page(page, 0, false);
		if (on_fault ? q.signo || q.byte != RUST_MM_SAMPLE_FAULT_FILL(i) :
		    q.signo != SIGBUS)
			snprintf(fail, size, "page %u after ZAP: signal %d, byte %#x", i, q.signo,
				 q.byte);
	}
	return zapped;
}

TEST_F_TIMEOUT(contract, threads, 120)
{
	static const char * const modes[] = {
		"INSERT-driven", "fault-driven", "fault-driven, one page",
	};
	struct rust_mm_sample_stats before, mid, audit_st, after;
	uint64_t inserted, zapped, dontneeds, audited;
	struct worker w[T_THREADS];
	pthread_barrier_t round;
	struct flipper fl;
	int mode, t, r, fd, failed_round;
	char fail[160];
	int64_t held;
	char *map;

	for (mode = 0; mode < 3; mode++) {
		t_pages = t_mode_pages[mode];
		ASSERT_EQ(0, get_stats(self->z.statfd, &before));
		fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, fd);
		map = mmap(NULL, t_pages * psz, PROT_READ, MAP_SHARED, fd,
			   mode ? (off_t)ON_FAULT_PGOFF * psz : 0);
		ASSERT_NE(MAP_FAILED, map) TH_LOG("%s mmap: %s", modes[mode], strerror(errno));
		inserted = 0;
		zapped = 0;
		dontneeds = 0;
		audited = 0;
		fail[0] = '\0';
		failed_round = -1;
		ASSERT_EQ(0, pthread_barrier_init(&round, NULL, T_THREADS + 1));
		for (t = 0; t < T_THREADS; t++) {
			w[t] = (struct worker){
				.rng = seed_for(DEFAULT_SEED, 1000 + 10 * mode + t),
				.fd = fd, .map = map, .on_fault = mode, .round = &round,
			};
			ASSERT_EQ(0, pthread_create(&w[t].thread, NULL, worker_thread, &w[t]));
		}
		fl = (struct flipper){ .map = map };
		ASSERT_EQ(0, pthread_create(&fl.thread, NULL, flip_thread, &fl));
		for (r = 0; r < T_ROUNDS; r++) {
			pthread_barrier_wait(&round);
			if (!fail[0])
				audited += audit(fd, map, mode, fail, sizeof(fail));
			/* Every page is back where it was before the first INSERT. */
			if (!fail[0] && !get_stats(self->z.statfd, &audit_st) &&
			    audit_st.held != before.held + (mode ? t_pages : 0))
				snprintf(fail, sizeof(fail),
					 "held %llu after the audit, expected %llu",
					 (unsigned long long)audit_st.held,
					 (unsigned long long)before.held + (mode ? t_pages : 0));
			if (fail[0] && failed_round < 0)
				failed_round = r;
			pthread_barrier_wait(&round);
		}
		for (t = 0; t < T_THREADS; t++) {
			pthread_join(w[t].thread, NULL);
			EXPECT_EQ(0, w[t].fail[0])
				TH_LOG("%s, thread %d: %s", modes[mode], t, w[t].fail);
			inserted += w[t].inserted;
			zapped += w[t].zapped;
			dontneeds += w[t].dontneeds;
		}
		__atomic_store_n(&fl.stop, true, __ATOMIC_RELAXED);
		pthread_join(fl.thread, NULL);
		pthread_barrier_destroy(&round);
		EXPECT_EQ(0, fl.err)
			TH_LOG("%s: madvise flipping VM_DONTCOPY: %s", modes[mode],
			       strerror(fl.err));
		EXPECT_EQ(0, fail[0]) TH_LOG("%s, the audit after round %d: %s", modes[mode],
					     failed_round + 1, fail);
		ASSERT_EQ(0, get_stats(self->z.statfd, &mid));
		log_stats(modes[mode], &mid);
		fprintf(stderr, "# %s: %lu flips of VM_DONTCOPY meanwhile, %llu pages audited\n",
			modes[mode], fl.flips, (unsigned long long)audited);
		EXPECT_EQ(inserted + (mid.faulted - before.faulted),
			  mid.inserted - before.inserted);
		if (!mode)
			EXPECT_EQ(before.faulted, mid.faulted);
		EXPECT_EQ(zapped + audited, mid.zapped - before.zapped);
		EXPECT_EQ(before.reclaimed, mid.reclaimed);
		/* Only an INSERT over a page that MADV_DONTNEED unmapped frees one. */
		EXPECT_GE(dontneeds, mid.freed - before.freed);
		held = (int64_t)(mid.held - before.held);
		EXPECT_EQ(mode ? t_pages : 0, held);

		ASSERT_EQ(0, munmap(map, t_pages * psz));
		ASSERT_EQ(0, get_stats(self->z.statfd, &after));
		EXPECT_EQ(before.held, after.held);
		EXPECT_EQ(mid.freed + held, after.freed);
		EXPECT_EQ(mid.inserted, after.inserted);
		ASSERT_EQ(0, close(fd));
		ASSERT_EQ(0, get_stats(self->z.statfd, &after));
		EXPECT_EQ(before.files, after.files);
	}
}

TEST_HARNESS_MAIN
