// SPDX-License-Identifier: GPL-2.0
/*
 * mm_bench: the benchmark of make bench, run inside the VM with the benchmark
 * modules loaded. It times the same operations in Rust and in C, alternating
 * the two in the same run (the order flips every round), and prints the
 * medians over the rounds:
 *
 *  (a) mmget_not_zero + mmap_read_lock + vma_lookup + unlock + mmput,
 *  (b) the same through the per-VMA lock (lock_vma_under_rcu, vma_end_read),
 *      both timed in the kernel (MM_BENCH_RUN, bench/mm_bench.h);
 *  (c) INSERT + ZAP of one page through the ioctls of the Rust sample
 *      (/dev/rust-mm-sample) and of its C reference (/dev/c-mm-sample),
 *      timed from userspace around the ioctl pairs;
 *  (e) a fault-in + ZAP of one page: a touch of page 0 of a fault-driven
 *      mapping of each of the two devices (the driver's fault handler fills
 *      a page and maps it), then the ZAP ioctl, timed from userspace;
 *  (d) insert + zap of one page (one MM_BENCH_RUN ioctl each) from several
 *      threads while another thread mmaps and munmaps an unrelated area in a
 *      loop: the per-VMA lock path against the mmap lock path; and the same
 *      with the lookups of (b) and (a) instead, which need no TLB flush. It
 *      counts TLB shootdown IPIs and context switches per operation.
 *
 * (a) and (b) also run against C that calls the series' C helpers where C has
 * static inline functions, as Rust must, and (c) against C that fills the page
 * through an out-of-line function and the helpers, as the sample's
 * Page::write_raw() calls do: what is left of a difference then is not their
 * doing.
 *
 * Each Rust/C ratio is the median of the per-round ratios, so that both sides
 * of a ratio ran next to each other. The last line gives the worst ratio of
 * (a) to (c) and (e).
 *
 * The kernel passes unknown name=value boot parameters to init as environment
 * variables: mm_bench_rounds=N sets the rounds of (a) to (c) and (e), mm_bench_d_rounds=N
 * those of (d), mm_bench_scale=P scales the iteration counts and durations to
 * P percent, mm_bench_workers=N sets the threads of (d), mm_bench_mapper=0
 * leaves its mmap/munmap thread out, and mm_bench_rust_sample=DEV and
 * mm_bench_c_sample=DEV replace the devices of (c) and (e).
 *
 * With mm_bench_icount=1, for a VM under QEMU -icount shift=0, where ktime
 * counts instructions, it leaves out (d) and prints instructions per
 * operation; the last line "rust/c: R" is printed only then. Without, the
 * last line is "rust/c, wall time: R".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <time.h>
#include <unistd.h>

#include "mm_bench.h"
#include "rust_mm_sample.h"

#define MAX_ROUNDS 101
#define MAX_WORKERS 8

enum { RUST, C, NLANG };

static const char *const bench_dev[NLANG] = {
	"/dev/rust-mm-bench", "/dev/c-mm-bench"
};

static const char *sample_dev[NLANG] = {
	"/dev/rust-mm-sample", "/dev/c-mm-sample"
};

/* The rows of the table. */
enum {
	ROW_LOOKUP,	/* (a) */
	ROW_LOOKUP_H,	/* (a), C through the Rust helpers */
	ROW_VMA_LOCK,	/* (b) */
	ROW_VMA_LOCK_H,	/* (b), C through the Rust helpers */
	ROW_IOCTL,	/* (c) */
	ROW_IOCTL_F,	/* (c), C filling the page as Page::write_raw does */
	ROW_KERNEL_IZ,	/* (c) without the ioctl, the allocation and the fill */
	ROW_FAULT,	/* (e) */
	ROW_D_VMA,	/* (d), per-VMA lock */
	ROW_D_MMAP,	/* (d), mmap lock */
	ROW_D_B,	/* (d) with the lookup of (b) instead of insert+zap */
	ROW_D_A,	/* (d) with the lookup of (a) instead of insert+zap */
	NROWS
};

/* The runs of (d): the row and the operation of each. */
#define ND 4

static const int d_row[ND] = { ROW_D_VMA, ROW_D_MMAP, ROW_D_B, ROW_D_A };
static const int d_op[ND] = {
	MM_BENCH_INSERT_ZAP_VMA, MM_BENCH_INSERT_ZAP_MMAP, MM_BENCH_VMA_LOCK,
	MM_BENCH_LOOKUP
};

static const char *const row_name[NROWS] = {
	"(a) mmget+mmap_read_lock+vma_lookup+unlock+mmput",
	"    (a) against C calling the Rust helpers",
	"(b) mmget+lock_vma_under_rcu+vma_end_read+mmput",
	"    (b) against C calling the Rust helpers",
	"(c) INSERT+ZAP ioctls: sample vs C reference",
	"    (c) against C filling as Page::write_raw does",
	"    insert+zap in the kernel, per-VMA lock",
	"(e) fault-in+ZAP: sample vs C reference",
	"(d) insert+zap, threads + mmap/munmap: per-VMA",
	"(d) the same through the mmap lock",
	"    (d) with the lookup of (b), no insert+zap",
	"    (d) with the lookup of (a), no insert+zap",
};

/* ns per operation, per row, language and round. */
static double ns[NROWS][NLANG][MAX_ROUNDS];
static int rounds_of[NROWS];

static long page_size;

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mm_bench: error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	long v;

	if (!s)
		return def;
	v = strtol(s, NULL, 10);
	if (v < min || v > max)
		die("%s=%s is not in [%ld, %ld]", name, s, min, max);
	return v;
}

static int open_dev(const char *dev)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s: %s", dev, strerror(errno));
	return fd;
}

/*
 * Where a measurement maps its device, by slot: slot 0 for (a) to (c), 1 + i
 * for worker i of (d). Rust and C map at the same address, one after the
 * other, so that both find their VMA at the same place of the same maple
 * tree: looking a VMA up costs more or less depending on where it is.
 */
static char *slot_addr[1 + MAX_WORKERS];

/* Maps one page of fd read-only at slot, at page offset pgoff of the device. */
static char *map_slot_at(int fd, int slot, off_t pgoff)
{
	char *want = slot_addr[slot];
	char *p = mmap(want, page_size, PROT_READ,
		       MAP_SHARED | (want ? MAP_FIXED_NOREPLACE : 0), fd,
		       pgoff * page_size);

	if (p == MAP_FAILED)
		die("mmap at %p: %s", want, strerror(errno));
	if (want && p != want)
		die("mmap: got %p instead of %p", p, want);
	slot_addr[slot] = p;
	return p;
}

static char *map_slot(int fd, int slot)
{
	return map_slot_at(fd, slot, 0);
}

static void unmap_slot(int slot)
{
	if (munmap(slot_addr[slot], page_size))
		die("munmap: %s", strerror(errno));
}

/* Runs op iters times in the kernel; returns ns per iteration. */
static double kernel_run(int fd, int op, unsigned int iters,
			 __u64 *fallbacks)
{
	struct mm_bench_run run = { .op = op, .iters = iters };

	if (ioctl(fd, MM_BENCH_RUN, &run))
		die("MM_BENCH_RUN op %d: %s", op, strerror(errno));
	if (fallbacks)
		*fallbacks += run.fallbacks;
	return (double)run.ns / iters;
}

/* (c): iters INSERT + ZAP pairs of page 0; returns ns per pair. */
static double ioctl_pairs(int fd, unsigned long insert, unsigned int iters)
{
	struct rust_mm_sample_insert ins = { .index = 0 };
	__u64 start = now_ns();
	unsigned int i;

	for (i = 0; i < iters; i++) {
		ins.fill = i;
		if (ioctl(fd, insert, &ins))
			die("INSERT: %s", strerror(errno));
		if (ioctl(fd, RUST_MM_SAMPLE_ZAP, 0))
			die("ZAP: %s", strerror(errno));
	}
	return (double)(now_ns() - start) / iters;
}

/*
 * (e): iters touches of page 0 of a fault-driven mapping at addr, each
 * followed by a ZAP; returns ns per pair.
 */
static double fault_pairs(int fd, const char *addr, unsigned int iters)
{
	__u64 start = now_ns();
	unsigned int i;

	for (i = 0; i < iters; i++) {
		if (__atomic_load_n(&addr[0], __ATOMIC_RELAXED) !=
		    (char)RUST_MM_SAMPLE_FAULT_FILL(0))
			die("the faulted-in page does not read back");
		if (ioctl(fd, RUST_MM_SAMPLE_ZAP, 0))
			die("ZAP: %s", strerror(errno));
	}
	return (double)(now_ns() - start) / iters;
}

/* The sample and its C reference insert pages that read back as filled. */
static void check_sample(int fd, const char *dev)
{
	struct rust_mm_sample_insert ins = { .index = 0, .fill = 0x5a };
	char *addr = map_slot(fd, 0);

	if (ioctl(fd, RUST_MM_SAMPLE_INSERT, &ins))
		die("INSERT on %s: %s", dev, strerror(errno));
	if (__atomic_load_n(&addr[0], __ATOMIC_RELAXED) != 0x5a ||
	    __atomic_load_n(&addr[page_size - 1], __ATOMIC_RELAXED) != 0x5a)
		die("%s: the inserted page does not read back", dev);
	if (ioctl(fd, RUST_MM_SAMPLE_ZAP, 0))
		die("ZAP on %s: %s", dev, strerror(errno));
	unmap_slot(0);
	/* And fill a page on the first touch of a fault-driven mapping. */
	addr = map_slot_at(fd, 0, RUST_MM_SAMPLE_ON_FAULT_PGOFF);
	if (__atomic_load_n(&addr[page_size - 1], __ATOMIC_RELAXED) !=
	    (char)RUST_MM_SAMPLE_FAULT_FILL(0))
		die("%s: the faulted-in page does not read back", dev);
	if (ioctl(fd, RUST_MM_SAMPLE_ZAP, 0))
		die("ZAP on %s: %s", dev, strerror(errno));
	unmap_slot(0);
}

static void check_stats(int fd, const char *dev)
{
	struct rust_mm_sample_stats st;

	if (ioctl(fd, RUST_MM_SAMPLE_STATS, &st))
		die("STATS on %s: %s", dev, strerror(errno));
	if (st.held || st.inserted != st.zapped || !st.faulted)
		die("%s: held %llu, inserted %llu, zapped %llu, faulted %llu", dev,
		    (unsigned long long)st.held,
		    (unsigned long long)st.inserted,
		    (unsigned long long)st.zapped,
		    (unsigned long long)st.faulted);
}

/* (d): the contended run. */
struct worker {
	pthread_t thread;
	int fd;
	int op;
	unsigned long ops;
	__u64 fallbacks;
	int err;
};

static int stop;
static pthread_barrier_t barrier;

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct mm_bench_run run = { .op = w->op, .iters = 1 };

		if (ioctl(w->fd, MM_BENCH_RUN, &run)) {
			w->err = errno;
			break;
		}
		w->ops++;
		w->fallbacks += run.fallbacks;
	}
	return NULL;
}

static void *mapper_main(void *arg)
{
	unsigned long *loops = arg;

	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		void *p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap: %s", strerror(errno));
		if (munmap(p, page_size))
			die("munmap: %s", strerror(errno));
		(*loops)++;
	}
	return NULL;
}

/* What the runs of (d) of one language and lock did, summed up. */
struct dstats {
	unsigned long ops;		/* insert+zap operations */
	__u64 fallbacks;		/* of them, through the mmap lock */
	unsigned long maps;		/* mmap+munmap loops of the mapper */
	unsigned long long tlb;		/* TLB shootdown IPIs */
	unsigned long long ctxt;	/* context switches */
};

/* The sum over the CPUs of the interrupt counts of /proc/interrupts line name. */
static unsigned long long irq_count(const char *name)
{
	unsigned long long sum = 0;
	char line[4096];
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;

		while (*p == ' ')
			p++;
		if (strncmp(p, name, strlen(name)))
			continue;
		p += strlen(name);
		for (;;) {
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
	}
	fclose(f);
	return sum;
}

/* The context switches since boot, from /proc/stat. */
static unsigned long long context_switches(void)
{
	unsigned long long v = 0;
	char line[256];
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "ctxt %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Runs op on the fds from workers threads, with the mapper if mapper, for ms
 * milliseconds. Returns the wall time per operation of all workers together.
 */
static double contended(const int *fds, int workers, int mapper, int op,
			long ms, struct dstats *st)
{
	struct timespec d = { ms / 1000, (ms % 1000) * 1000000 };
	unsigned long long tlb = irq_count("TLB:");
	unsigned long long ctxt = context_switches();
	struct worker w[MAX_WORKERS] = {};
	unsigned long total = 0, loops = 0;
	pthread_t mapper_thread;
	__u64 start;
	int i;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	pthread_barrier_init(&barrier, NULL, workers + 1 + !!mapper);
	for (i = 0; i < workers; i++) {
		map_slot(fds[i], 1 + i);
		w[i].fd = fds[i];
		w[i].op = op;
		if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]))
			die("pthread_create failed");
	}
	if (mapper && pthread_create(&mapper_thread, NULL, mapper_main, &loops))
		die("pthread_create failed");
	pthread_barrier_wait(&barrier);
	start = now_ns();
	nanosleep(&d, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < workers; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].err)
			die("MM_BENCH_RUN op %d: %s", op, strerror(w[i].err));
		total += w[i].ops;
		st->fallbacks += w[i].fallbacks;
		unmap_slot(1 + i);
	}
	if (mapper)
		pthread_join(mapper_thread, NULL);
	pthread_barrier_destroy(&barrier);
	if (!total)
		die("no operation finished in %ld ms", ms);
	st->ops += total;
	st->maps += loops;
	st->tlb += irq_count("TLB:") - tlb;
	st->ctxt += context_switches() - ctxt;
	return (double)(now_ns() - start) / total;
}

/* One measurement of row (a) to (c) for language l: ns per operation. */
static double measure_mapped(int row, int l, int bfd, int sfd,
			     unsigned int n_lookup, unsigned int n_kernel_iz,
			     unsigned int n_ioctl)
{
	switch (row) {
	case ROW_LOOKUP:
		return kernel_run(bfd, MM_BENCH_LOOKUP, n_lookup, NULL);
	case ROW_LOOKUP_H:
		return kernel_run(bfd, l == RUST ? MM_BENCH_LOOKUP :
				  MM_BENCH_LOOKUP_HELPERS, n_lookup, NULL);
	case ROW_VMA_LOCK:
		return kernel_run(bfd, MM_BENCH_VMA_LOCK, n_lookup, NULL);
	case ROW_VMA_LOCK_H:
		return kernel_run(bfd, l == RUST ? MM_BENCH_VMA_LOCK :
				  MM_BENCH_VMA_LOCK_HELPERS, n_lookup, NULL);
	case ROW_IOCTL:
		return ioctl_pairs(sfd, RUST_MM_SAMPLE_INSERT, n_ioctl);
	case ROW_IOCTL_F:
		return ioctl_pairs(sfd, l == RUST ? RUST_MM_SAMPLE_INSERT :
				   MM_BENCH_SAMPLE_INSERT_RUST_FILL, n_ioctl);
	case ROW_FAULT:
		return fault_pairs(sfd, slot_addr[0], n_ioctl);
	default:
		return kernel_run(bfd, MM_BENCH_INSERT_ZAP_VMA, n_kernel_iz,
				  NULL);
	}
}

/* measure_mapped(), with the device of the row mapped at slot 0. */
static double measure(int row, int l, int bfd, int sfd, unsigned int n_lookup,
		      unsigned int n_kernel_iz, unsigned int n_ioctl)
{
	double v;

	if (row == ROW_FAULT)
		map_slot_at(sfd, 0, RUST_MM_SAMPLE_ON_FAULT_PGOFF);
	else
		map_slot(row == ROW_IOCTL || row == ROW_IOCTL_F ? sfd : bfd, 0);
	v = measure_mapped(row, l, bfd, sfd, n_lookup, n_kernel_iz, n_ioctl);
	unmap_slot(0);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The median, minimum and maximum of the per-round Rust/C ratios of row. */
static double ratio(int row, double *lo, double *hi)
{
	double r[MAX_ROUNDS];
	int i, n = rounds_of[row];

	for (i = 0; i < n; i++)
		r[i] = ns[row][RUST][i] / ns[row][C][i];
	qsort(r, n, sizeof(*r), cmp_double);
	*lo = r[0];
	*hi = r[n - 1];
	return median(r, n);
}

static double print_row(int row)
{
	double lo, hi, q = ratio(row, &lo, &hi);

	printf("%-50s %9.0f %9.0f %7.3f  %.3f-%.3f\n", row_name[row],
	       median(ns[row][RUST], rounds_of[row]),
	       median(ns[row][C], rounds_of[row]), q, lo, hi);
	return q;
}

int main(int argc, char **argv)
{
	long rounds = env_long("mm_bench_rounds", 31, 1, MAX_ROUNDS);
	long scale = env_long("mm_bench_scale", 100, 1, 10000);
	long d_rounds = env_long("mm_bench_d_rounds", 5, 1, MAX_ROUNDS);
	unsigned int n_lookup = 50000 * scale / 100 + 1;
	unsigned int n_kernel_iz = 5000 * scale / 100 + 1;
	unsigned int n_ioctl = 1500 * scale / 100 + 1;
	long d_ms = 1500 * scale / 100;
	cpu_set_t cpus, cpu0;
	long workers = env_long("mm_bench_workers", 2, 1, MAX_WORKERS);
	long mapper = env_long("mm_bench_mapper", 1, 0, 1);
	long icount = env_long("mm_bench_icount", 0, 0, 1);
	int bfd[NLANG], sfd[NLANG], dfd[NLANG][MAX_WORKERS];
	struct dstats dst[NLANG][ND] = {};
	double worst = 0;
	int r, k, l, i;

	/*
	 * The same address space layout in every run, as looking a VMA up
	 * costs more or less depending on where it is: no ASLR.
	 */
	if (argc > 0 && !(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
		if (personality(ADDR_NO_RANDOMIZE) == -1)
			die("personality: %s", strerror(errno));
		execv("/proc/self/exe", argv);
		die("execv: %s", strerror(errno));
	}
	if (getenv("mm_bench_rust_sample"))
		sample_dev[RUST] = getenv("mm_bench_rust_sample");
	if (getenv("mm_bench_c_sample"))
		sample_dev[C] = getenv("mm_bench_c_sample");
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* (a) to (c) and (e) run on CPU 0, (d) wherever the scheduler likes. */
	if (sched_getaffinity(0, sizeof(cpus), &cpus))
		die("sched_getaffinity: %s", strerror(errno));
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
		die("sched_setaffinity: %s", strerror(errno));
	for (l = 0; l < NLANG; l++) {
		bfd[l] = open_dev(bench_dev[l]);
		sfd[l] = open_dev(sample_dev[l]);
		for (i = 0; i < workers; i++)
			dfd[l][i] = open_dev(bench_dev[l]);
		check_sample(sfd[l], sample_dev[l]);
	}

	/*
	 * (a) to (c), after one round to warm up. Each row runs Rust and C
	 * back to back, Rust first in even rounds and C first in odd ones.
	 */
	for (r = -1; r < rounds; r++) {
		int slot = r < 0 ? 0 : r;

		fprintf(stderr, "mm_bench: (a)-(c), (e) round %d of %ld\n", r + 1,
			rounds);
		for (i = ROW_LOOKUP; i <= ROW_FAULT; i++) {
			for (k = 0; k < NLANG; k++) {
				l = (slot + k) % NLANG;
				ns[i][l][slot] = measure(i, l, bfd[l], sfd[l],
							 n_lookup, n_kernel_iz,
							 n_ioctl);
			}
		}
	}
	for (i = ROW_LOOKUP; i <= ROW_FAULT; i++)
		rounds_of[i] = rounds;

	/* (d), which needs wall time and vCPUs that run in parallel. */
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		die("sched_setaffinity: %s", strerror(errno));
	for (r = 0; r < (icount ? 0 : d_rounds); r++) {
		fprintf(stderr, "mm_bench: (d) round %d of %ld\n", r + 1,
			d_rounds);
		for (i = 0; i < ND; i++) {
			for (k = 0; k < NLANG; k++) {
				l = (r + k) % NLANG;
				ns[d_row[i]][l][r] =
					contended(dfd[l], workers, mapper,
						  d_op[i], d_ms, &dst[l][i]);
			}
		}
	}
	for (i = 0; i < ND; i++)
		rounds_of[d_row[i]] = d_rounds;

	for (l = 0; l < NLANG; l++)
		check_stats(sfd[l], sample_dev[l]);

	if (icount) {
		printf("mm_bench: instructions per operation: ktime under QEMU -icount shift=0, ");
		printf("where 1 ns is 1 instruction; medians of %ld rounds\n",
		       rounds);
	} else {
		printf("mm_bench: ns per operation, wall time under QEMU TCG, ");
		printf("medians of %ld rounds ", rounds);
		printf("((d): %ld rounds of %ld ms, %ld threads%s)\n", d_rounds,
		       d_ms, workers,
		       mapper ? " + the mmap/munmap thread" : ", no mmap/munmap");
	}
	printf("%-50s %9s %9s %7s  %s\n", "operation",
	       icount ? "rust ins" : "rust ns", icount ? "c ins" : "c ns",
	       "rust/c", "per-round range");
	for (i = 0; i < (icount ? ROW_FAULT + 1 : NROWS); i++) {
		double q = print_row(i);

		if ((i == ROW_LOOKUP || i == ROW_VMA_LOCK || i == ROW_IOCTL ||
		     i == ROW_FAULT) && q > worst)
			worst = q;
	}
	for (i = 0; i < (icount ? 0 : ND); i += 2) {
		for (l = 0; l < NLANG; l++) {
			double secs = d_rounds * d_ms / 1000.0;
			struct dstats *v = &dst[l][i], *m = &dst[l][i + 1];

			printf("(d)%s %-4s per-VMA lock throughput / mmap lock: %.2fx ",
			       i ? " lookup" : "", l == RUST ? "rust" : "c",
			       median(ns[d_row[i + 1]][l], d_rounds) /
			       median(ns[d_row[i]][l], d_rounds));
			printf("(fell back: %.1f%%)\n",
			       100.0 * v->fallbacks / v->ops);
			printf("    per op, per-VMA | mmap lock: %.2f | %.2f TLB shootdown IPIs, ",
			       (double)v->tlb / v->ops,
			       (double)m->tlb / m->ops);
			printf("%.2f | %.2f context switches; mmap+munmap/s %.0f | %.0f\n",
			       (double)v->ctxt / v->ops,
			       (double)m->ctxt / m->ops, v->maps / secs,
			       m->maps / secs);
		}
	}
	if (!icount) {
		printf("rust/c, wall time: %.3f\n", worst);
		return 0;
	}
	printf("rust/c: %.3f\n", worst);
	return 0;
}
