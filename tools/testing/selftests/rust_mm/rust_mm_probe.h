/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a page of a mapping and catching what the access raises, for the
 * single-threaded selftests of the samples.
 */
#ifndef RUST_MM_PROBE_H
#define RUST_MM_PROBE_H

#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* What an access did: 0 if it read a byte, else the signal it raised. */
struct probe {
	int signo;
	int code;
	void *addr;
	unsigned char byte;
};

static sigjmp_buf probe_env;
/*
 * What the handler saw. It is written only by a synchronous fault of the
 * access in probe_read() and read after the siglongjmp() back, which the
 * compiler cannot move a load across.
 */
static siginfo_t probe_info;

static inline void probe_handler(int sig, siginfo_t *si, void *uctx)
{
	probe_info = *si;
	siglongjmp(probe_env, sig);
}

/* Reads the byte at @p, catching SIGBUS and SIGSEGV. */
static inline struct probe probe_read(const void *p)
{
	struct sigaction sa, old_bus, old_segv;
	struct probe r = { 0 };

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = probe_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
	sigaction(SIGSEGV, &sa, &old_segv);
	/* r is written only when the access did not fault. */
	if (sigsetjmp(probe_env, 1) == 0) {
		r.byte = __atomic_load_n((const unsigned char *)p, __ATOMIC_RELAXED);
	} else {
		r.signo = probe_info.si_signo;
		r.code = probe_info.si_code;
		r.addr = probe_info.si_addr;
	}
	sigaction(SIGBUS, &old_bus, NULL);
	sigaction(SIGSEGV, &old_segv, NULL);
	return r;
}

/* Whether touching @p gives a SIGBUS for exactly that address. */
static inline bool gives_sigbus(const void *p)
{
	struct probe r = probe_read(p);

	return r.signo == SIGBUS && r.code == BUS_ADRERR && r.addr == p;
}

static inline long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/*
 * Checks that the page at @p reads @fill in every byte. Returns 0 if so, the
 * signal number if touching it faulted, or -1 (and logs) on a wrong byte.
 */
static inline int page_reads(const void *p, unsigned char fill)
{
	const unsigned char *b = p;
	struct probe r = probe_read(p);
	long i;

	if (r.signo)
		return r.signo;
	for (i = 0; i < page_size(); i++) {
		if (b[i] != fill) {
			fprintf(stderr, "# byte %ld of page %p is 0x%02x, not 0x%02x\n",
				i, p, b[i], fill);
			return -1;
		}
	}
	return 0;
}

#endif /* RUST_MM_PROBE_H */
