// SPDX-License-Identifier: GPL-2.0-only
/*
 * The threads of the C scheduler as coroutines (C only: the Python scheduler's
 * threads are generators, fuzzlock/sched/scheduler.py).
 *
 * Coroutines: on x86-64 a thread switch saves the callee-saved registers, the
 * SSE/x87 control words and the stack pointer on the old stack and loads the
 * new one (fl_ctx_switch below, ~20 instructions, no syscall).  Elsewhere, or
 * with -DFL_FORCE_UCONTEXT, ucontext's swapcontext is used (it makes a
 * sigprocmask syscall per switch: correct, ~50x slower).  Each thread stack is
 * an mmap'd region with a PROT_NONE guard page below it, kept across runs.
 * AddressSanitizer is told about every switch (__sanitizer_*_switch_fiber).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sched_int.h"

/* ------------------------------------------------------------------------ */
/* Context switch                                                            */

#ifdef FL_CTX_ASM
/*
 * fl_ctx_switch(save, to): push rbp rbx r12-r15 and the MXCSR/x87 control
 * words, store rsp in *save, load rsp = to, pop the same, return into the
 * other context.  A new context starts in fl_ctx_trampoline with the thread in
 * rbx and the entry function in r12 (see fl_ctx_make).
 */
__asm__(
	".pushsection .text\n"
	".globl fl_ctx_switch\n"
	".hidden fl_ctx_switch\n"
	".type fl_ctx_switch, @function\n"
	".p2align 4\n"
	"fl_ctx_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size fl_ctx_switch, .-fl_ctx_switch\n"
	".globl fl_ctx_trampoline\n"
	".hidden fl_ctx_trampoline\n"
	".type fl_ctx_trampoline, @function\n"
	".p2align 4\n"
	"fl_ctx_trampoline:\n"
	"	movq %rbx, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size fl_ctx_trampoline, .-fl_ctx_trampoline\n"
	".popsection\n");
#endif

static void fl_thread_main(struct fl_thread *t);

#ifndef FL_CTX_ASM
static void fl_uc_entry(void)
{
	/* the scheduler sets ->current before every switch into a thread */
	fl_thread_main(fl_tls_sched->current);
}
#endif

/* Prepare @t's context so that the next switch into it starts its body. */
static int fl_ctx_make(struct fl_sched *s, struct fl_thread *t)
{
#ifdef FL_CTX_ASM
	uintptr_t top = ((uintptr_t)t->stack + t->stack_size) & ~(uintptr_t)15;
	uint64_t *f = (uint64_t *)(top - 64);

	(void)s;
	/* csr | r15 r14 r13 r12 rbx rbp | return address (rsp = top after ret) */
	f[0] = 0x1f80 | ((uint64_t)0x037f << 32);
	f[1] = 0;
	f[2] = 0;
	f[3] = 0;
	f[4] = (uint64_t)(uintptr_t)fl_thread_main;
	f[5] = (uint64_t)(uintptr_t)t;
	f[6] = 0;
	f[7] = (uint64_t)(uintptr_t)fl_ctx_trampoline;
	t->sp = f;
	return 0;
#else
	ucontext_t *uc;

	if (!t->uctx) {
		t->uctx = calloc(1, sizeof(ucontext_t));
		if (!t->uctx)
			return -1;
	}
	if (!s->main_uctx) {
		s->main_uctx = calloc(1, sizeof(ucontext_t));
		if (!s->main_uctx)
			return -1;
	}
	if (getcontext(t->uctx))
		return -1;
	uc = t->uctx;	/* read after getcontext(), which returns twice */
	uc->uc_stack.ss_sp = t->stack;
	uc->uc_stack.ss_size = t->stack_size;
	uc->uc_link = NULL;
	makecontext(uc, fl_uc_entry, 0);
	return 0;
#endif
}

static void fl_thread_main(struct fl_thread *t)
{
	struct fl_sched *s = t->sched;

#ifdef FL_ASAN
	__sanitizer_finish_switch_fiber(NULL, &s->main_stack_bottom, &s->main_stack_size);
#endif
	t->body(t->arg);
	t->done = true;
	t->has_pending = false;
	fl_suspend(s, t, true);
	abort();	/* a finished thread is never resumed */
}

static int fl_stack_alloc(struct fl_sched *s, struct fl_thread *t)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;
	size_t size = (s->stack_size + page - 1) / page * page;
	char *map;

	if (t->stack && t->stack_size == size)
		return 0;
	if (t->stack) {
#ifdef FL_ASAN
		__asan_unpoison_memory_region(t->stack, t->stack_size);
#endif
		munmap((char *)t->stack - page, t->stack_size + page);
	}
	t->stack = NULL;
	map = mmap(NULL, size + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return -1;
	/* guard page: an overflowing thread faults instead of corrupting the heap */
	if (mprotect(map, page, PROT_NONE)) {
		munmap(map, size + page);
		return -1;
	}
	t->stack = map + page;
	t->stack_size = size;
	return 0;
}

void fl_stack_free(struct fl_thread *t)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096;

	if (t->stack) {
#ifdef FL_ASAN
		__asan_unpoison_memory_region(t->stack, t->stack_size);
#endif
		munmap((char *)t->stack - page, t->stack_size + page);
	}
	t->stack = NULL;
	free(t->uctx);
	t->uctx = NULL;
	free(t->held);
	t->held = NULL;
	t->held_cap = 0;
}

int fl_thread_setup(struct fl_sched *s, struct fl_thread *t, int tid, const char *name,
		    fl_body_fn body, void *arg)
{
	t->tid = tid;
	t->name = name;
	t->body = body;
	t->arg = arg;
	t->sched = s;
	t->has_pending = false;
	t->done = false;
	t->nheld = 0;
	t->rcu_depth = 0;
	t->rcu_since = -1;
	t->pte_maps = 0;
	t->spins = 0;
	t->resume = fl_none;
	t->asan_fake = NULL;
	if (fl_stack_alloc(s, t)) {
		fl_sched_error(s, "cannot allocate a %zu-byte thread stack: %s", s->stack_size,
			       strerror(errno));
		return -1;
	}
#ifdef FL_ASAN
	/*
	 * A run that stopped on a violation abandoned this stack's frames with
	 * their redzones poisoned; code built without ASan (the instrumented
	 * model of the footprint library) would trip over them.
	 */
	__asan_unpoison_memory_region(t->stack, t->stack_size);
#endif
	if (fl_ctx_make(s, t)) {
		fl_sched_error(s, "cannot allocate a %zu-byte thread stack: %s", s->stack_size,
			       strerror(errno));
		return -1;
	}
	return 0;
}
