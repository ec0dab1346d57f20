// SPDX-License-Identifier: GPL-2.0-only
/*
 * The deterministic scheduler of the C port.  Every function here mirrors the
 * method of fuzzlock/sched/scheduler.py with the same name (fl_advance is
 * Scheduler._advance, fl_execute is _execute, ...); keep them in step: the
 * differential test (tests/native/test_sched_differential.py) compares the two
 * event for event.
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
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "footprint.h"
#include "sched.h"

#if defined(__x86_64__) && !defined(FL_FORCE_UCONTEXT)
#define FL_CTX_ASM 1
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define FL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_ASAN 1
#endif
#endif

#ifdef FL_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
				     size_t *size_old);
#endif

#define FL_SOLO_SLOT FL_MAX_THREADS

static _Thread_local struct fl_sched *fl_tls_sched;
static int fl_flip_rule;

static const struct fl_value fl_none = { .kind = FL_VAL_NONE };
static const struct fl_value fl_violating = { .kind = FL_VAL_STR, .s = "!" };

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

void fl_ctx_switch(void **save, void *to) __attribute__((visibility("hidden")));
void fl_ctx_trampoline(void) __attribute__((visibility("hidden")));
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

/* scheduler -> thread @t; returns when @t yields, ends or stops the run */
static void fl_resume(struct fl_sched *s, struct fl_thread *t)
{
#ifdef FL_ASAN
	void *fake = NULL;

	__sanitizer_start_switch_fiber(&fake, t->stack, t->stack_size);
#endif
#ifdef FL_CTX_ASM
	fl_ctx_switch(&s->main_sp, t->sp);
#else
	swapcontext(s->main_uctx, t->uctx);
#endif
#ifdef FL_ASAN
	__sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
}

/* thread @t -> scheduler; returns when the scheduler resumes @t */
static void fl_suspend(struct fl_sched *s, struct fl_thread *t, bool exiting)
{
#ifdef FL_ASAN
	__sanitizer_start_switch_fiber(exiting ? NULL : &t->asan_fake, s->main_stack_bottom,
				       s->main_stack_size);
#else
	(void)exiting;
#endif
#ifdef FL_CTX_ASM
	fl_ctx_switch(&t->sp, s->main_sp);
#else
	swapcontext(t->uctx, s->main_uctx);
#endif
#ifdef FL_ASAN
	__sanitizer_finish_switch_fiber(t->asan_fake, &s->main_stack_bottom, &s->main_stack_size);
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

static void fl_stack_free(struct fl_thread *t)
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

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static int fl_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -1;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

struct fl_sb {
	char *buf;
	size_t cap, len;
};

static void fl_sb_printf(struct fl_sb *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fl_sb_printf(struct fl_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->len + 1 >= sb->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb->len += (size_t)n;
	if (sb->len >= sb->cap)
		sb->len = sb->cap - 1;
}

static inline uint32_t fl_bit(int slot)
{
	return (uint32_t)1 << slot;
}

static inline int fl_slot_tid(const struct fl_sched *s, int slot)
{
	return s->threads[slot].tid;
}

static inline bool fl_read_available(const struct fl_lock *lk)
{
	return lk->writer < 0 && !lk->waiting_writers;
}

static inline bool fl_write_available(const struct fl_lock *lk)
{
	return lk->writer < 0 && !lk->readers;
}

static inline bool fl_lock_sleeps(const struct fl_lock *lk)
{
	return lk->type != FL_SPINLOCK;
}

static inline bool fl_blocking(enum fl_op_kind k)
{
	return k == FL_OP_LOCK || k == FL_OP_WAIT;
}

/* ------------------------------------------------------------------------ */
/* Violations and errors                                                     */

static void fl_vviolation(struct fl_sched *s, const char *id, const char *fn, int step,
			  int thread, const char *fmt, va_list ap)
{
	if (s->stopped)
		return;
	s->stopped = true;
	s->has_viol = true;
	s->outcome = FL_VIOLATION;
	s->viol.id = id;
	s->viol.fn = fn ? fn : "";
	s->viol.step = step;
	s->viol.thread = thread;
	vsnprintf(s->viol.message, sizeof(s->viol.message), fmt, ap);
}

/* ViolationError.at(self.step, current.tid) */
void fl_sched_violation(struct fl_sched *s, const char *id, const char *fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fl_vviolation(s, id, fn, s->step, s->current ? s->current->tid : -1, fmt, ap);
	va_end(ap);
}

static void fl_violation_at(struct fl_sched *s, const char *id, const char *fn, int step,
			    int thread, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void fl_violation_at(struct fl_sched *s, const char *id, const char *fn, int step,
			    int thread, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fl_vviolation(s, id, fn, step, thread, fmt, ap);
	va_end(ap);
}

void fl_sched_error(struct fl_sched *s, const char *fmt, ...)
{
	va_list ap;

	if (s->stopped)
		return;
	s->stopped = true;
	s->has_viol = false;
	s->outcome = FL_ERROR;
	s->viol.id = "error";
	s->viol.fn = "";
	s->viol.step = s->step;
	s->viol.thread = s->current ? s->current->tid : -1;
	va_start(ap, fmt);
	vsnprintf(s->viol.message, sizeof(s->viol.message), fmt, ap);
	va_end(ap);
}

_Noreturn void fl_thread_violation(const char *id, const char *fn, const char *fmt, ...)
{
	struct fl_sched *s = fl_tls_sched;
	va_list ap;

	if (!s || !s->in_thread || !s->current)
		abort();	/* not called from a thread body: a bug in the caller */
	va_start(ap, fmt);
	fl_vviolation(s, id, fn, s->step, s->current->tid, fmt, ap);
	va_end(ap);
	fl_suspend(s, s->current, false);
	abort();	/* a stopped run never resumes its threads */
}

struct fl_sched *fl_current_sched(void)
{
	return fl_tls_sched;
}

int fl_debug_flip_decision_rule(int on)
{
	int old = fl_flip_rule;

	fl_flip_rule = !!on;
	return old;
}

/* ------------------------------------------------------------------------ */
/* Building                                                                  */

void fl_lock_init(struct fl_lock *lk, const char *name, int cls, enum fl_lock_type type)
{
	fl_fp_range(lk, sizeof(*lk), FL_FP_WRITE);	/* a lock created in a step */
	memset(lk, 0, sizeof(*lk));
	lk->name = name;
	lk->cls = cls;
	lk->type = type;
	fl_lock_reset(lk);
}

void fl_lock_reset(struct fl_lock *lk)
{
	fl_fp_lock(lk, FL_FP_WRITE);
	lk->owner = -1;
	lk->writer = -1;
	lk->readers = 0;
	lk->pending_writers = 0;
	lk->waiting_writers = 0;
	memset(lk->nread, 0, sizeof(lk->nread));
}

int fl_sched_init(struct fl_sched *s, int max_steps)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->max_steps = max_steps < 0 ? 0 : max_steps;
	s->stack_size = FL_DEFAULT_STACK;
	for (i = 0; i <= FL_MAX_THREADS; i++)
		s->threads[i].slot = i;
	s->graph_gen = 1;
	s->seen_gen = 1;
	fl_sched_reset(s);
	return 0;
}

static void fl_free_strs(struct fl_sched *s)
{
	size_t i;

	for (i = 0; i < s->nstrs; i++)
		free(s->strs[i]);
	s->nstrs = 0;
}

void fl_sched_destroy(struct fl_sched *s)
{
	int i;

	for (i = 0; i <= FL_MAX_THREADS; i++)
		fl_stack_free(&s->threads[i]);
	fl_free_strs(s);
	free(s->strs);
	free(s->events);
	free(s->decisions);
	free(s->preempted);
	free(s->trace);
	free(s->edges);
	free(s->main_uctx);
	memset(s, 0, sizeof(*s));
}

void fl_sched_reset(struct fl_sched *s)
{
	s->nthreads = 0;
	s->current = NULL;
	s->clock = 0;
	s->step = 0;
	s->solo = false;
	s->in_thread = false;
	s->stopped = false;
	s->outcome = FL_FINISHED;
	s->outcome_id = "finished";
	s->has_viol = false;
	memset(&s->viol, 0, sizeof(s->viol));
	s->viol.step = -1;
	s->viol.thread = -1;
	s->nevents = 0;
	s->ndecisions = 0;
	s->npreempted = 0;
	s->trace_len = 0;
	s->nedges = 0;
	if (++s->graph_gen == 0) {
		memset(s->node_gen, 0, sizeof(s->node_gen));
		s->graph_gen = 1;
	}
	fl_free_strs(s);
}

int fl_sched_class(struct fl_sched *s, const char *name)
{
	int i;

	for (i = 0; i < s->nclasses; i++)
		if (!strcmp(s->class_names[i], name))
			return i;
	if (s->nclasses == FL_MAX_CLASSES)
		return -1;
	s->class_names[s->nclasses] = name;
	return s->nclasses++;
}

const char *fl_sched_strdup(struct fl_sched *s, const char *str)
{
	size_t n = strlen(str) + 1;
	char *p;

	if (fl_grow((void **)&s->strs, &s->strs_cap, s->nstrs + 1, sizeof(*s->strs)))
		return NULL;
	p = malloc(n);
	if (!p)
		return NULL;
	memcpy(p, str, n);
	s->strs[s->nstrs++] = p;
	return p;
}

static int fl_thread_setup(struct fl_sched *s, struct fl_thread *t, int tid, const char *name,
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

int fl_sched_spawn(struct fl_sched *s, const char *name, fl_body_fn body, void *arg)
{
	struct fl_thread *t;

	if (s->nthreads >= FL_MAX_THREADS) {
		fl_sched_error(s, "more than %d threads", FL_MAX_THREADS);
		return -1;
	}
	t = &s->threads[s->nthreads];
	if (fl_thread_setup(s, t, s->nthreads, name, body, arg))
		return -1;
	return s->nthreads++;
}

/* ------------------------------------------------------------------------ */
/* Thread stepping                                                           */

static bool fl_op_valid(struct fl_sched *s, const struct fl_op *op)
{
	const struct fl_lock *lk = op->lock;

	if ((unsigned int)op->kind >= FL_OP_NR_KINDS) {
		fl_sched_error(s, "op kind %d is not an op", (int)op->kind);
		return false;
	}
	if (!op->fn || !op->label || !op->obj) {
		fl_sched_error(s, "op without fn, label or obj");
		return false;
	}
	if ((unsigned int)op->mode > FL_WRITE) {
		fl_sched_error(s, "%s: mode %d is not a mode", op->fn, (int)op->mode);
		return false;
	}
	if (op->subclass < 0 || op->subclass >= FL_MAX_SUBCLASSES) {
		fl_sched_error(s, "%s: subclass %d out of range", op->fn, op->subclass);
		return false;
	}
	switch (op->kind) {
	case FL_OP_LOCK:
	case FL_OP_TRYLOCK:
	case FL_OP_UNLOCK:
		if (!lk)
			break;
		if (lk->cls < 0 || lk->cls >= s->nclasses) {
			fl_sched_error(s, "%s: lock %s has no lockdep class", op->fn, lk->name);
			return false;
		}
		if ((lk->type == FL_RWSEM) != (op->mode != FL_EXCL)) {
			fl_sched_error(s, "%s: mode %d does not fit lock %s", op->fn, (int)op->mode,
				       lk->name);
			return false;
		}
		return true;
	case FL_OP_WAIT:
		if (!lk)
			break;
		return true;
	default:
		return true;
	}
	fl_sched_error(s, "%s: %s without a lock", op->fn, op->label);
	return false;
}

struct fl_value fl_yield_op(const struct fl_op *op)
{
	struct fl_sched *s = fl_tls_sched;
	struct fl_thread *t;

	if (!s || !s->in_thread || !s->current)
		abort();	/* not called from a thread body: a bug in the caller */
	t = s->current;
	if (fl_op_valid(s, op)) {
		t->pending = *op;
		t->has_pending = true;
	}
	fl_suspend(s, t, false);
	return t->resume;
}

static void fl_atomic_context(const struct fl_thread *t, struct fl_sb *sb)
{
	const char *sep = "";
	int i;

	if (t->spins) {
		fl_sb_printf(sb, "holding spinlock ");
		for (i = 0; i < t->nheld; i++) {
			if (t->held[i].lock->type != FL_SPINLOCK)
				continue;
			fl_sb_printf(sb, "%s%s", sep, t->held[i].lock->name);
			sep = ", ";
		}
	} else if (t->pte_maps) {
		fl_sb_printf(sb, "between pte_offset_map and pte_unmap");
	} else if (t->rcu_depth) {
		fl_sb_printf(sb, "inside an RCU read section");
	}
}

static int fl_thread_end(struct fl_sched *s, struct fl_thread *t)
{
	char buf[FL_MSG_LEN];
	struct fl_sb sb = { buf, sizeof(buf), 0 };
	const char *sep = "";
	int i;

	if (!t->nheld && !t->pte_maps && !t->rcu_depth)
		return 0;
	buf[0] = '\0';
	fl_sb_printf(&sb, "T%d %s ends but ", t->tid, t->name);
	for (i = 0; i < t->nheld; i++) {
		fl_sb_printf(&sb, "%sholds %s (taken in %s)", sep, t->held[i].lock->name,
			     t->held[i].fn);
		sep = "; ";
	}
	if (t->pte_maps)
		fl_sb_printf(&sb, "%s%d pte map(s) outstanding", sep, t->pte_maps);
	else if (t->rcu_depth)
		fl_sb_printf(&sb, "%sinside an RCU read section", sep);
	fl_sched_violation(s, "thread.end", "thread exit", "%s", buf);
	return -1;
}

/* Resume @t with @val and run it to its next scheduling point. */
static int fl_advance(struct fl_sched *s, struct fl_thread *t, struct fl_value val)
{
	struct fl_op *op;

	t->resume = val;
	s->in_thread = true;
	fl_resume(s, t);
	s->in_thread = false;
	if (s->stopped)
		return -1;
	if (t->done)
		return s->solo ? 0 : fl_thread_end(s, t);
	op = &t->pending;
	if (op->kind == FL_OP_LOCK || op->kind == FL_OP_WAIT || op->kind == FL_OP_MIGHT_SLEEP) {
		if (op->kind == FL_OP_LOCK && op->mode == FL_WRITE) {
			struct fl_lock *sem = op->lock;

			sem->pending_writers |= fl_bit(t->slot);
			if (!fl_write_available(sem)) {
				sem->waiting_writers |= fl_bit(t->slot);
				/* readers now find it unavailable: the step writes the rwsem */
				if (s->fp)
					fl_fp_lock(sem, FL_FP_WRITE);
			} else if (s->fp) {
				/*
				 * Only pending: commutes with acquisitions (which make it wait
				 * either way) but not with a release just before it (before
				 * the release it would have waited, holding readers off).
				 */
				fl_fp_lock(sem, FL_FP_READ);
			}
		}
		if (op->kind == FL_OP_MIGHT_SLEEP || fl_lock_sleeps(op->lock)) {
			char why[FL_MSG_LEN];
			struct fl_sb sb = { why, sizeof(why), 0 };

			why[0] = '\0';
			fl_atomic_context(t, &sb);
			if (why[0]) {
				fl_sched_violation(s, "sleep-in-atomic", op->fn,
						   "%s %s may sleep %s", op->label, op->obj, why);
				return -1;
			}
		}
	}
	return 0;
}

static bool fl_enabled(const struct fl_op *op)
{
	const struct fl_lock *lk = op->lock;

	if (lk->type != FL_RWSEM)
		return lk->owner < 0;
	if (op->kind == FL_OP_WAIT || op->mode == FL_WRITE)
		return lk->writer < 0 && !lk->readers;
	return fl_read_available(lk);
}

/* ------------------------------------------------------------------------ */
/* lockdep (fuzzlock/sched/lockdep.py)                                       */

static inline bool fl_node_live(const struct fl_sched *s, int node)
{
	return s->node_gen[node] == s->graph_gen;
}

/* LockGraph._path: depth-first from @frm; the edge into @to, or -1 */
static int fl_graph_path(struct fl_sched *s, int frm, int to)
{
	int stack[FL_LOCKDEP_NODES];
	int sp = 0, e;

	if (++s->seen_gen == 0) {
		memset(s->node_seen, 0, sizeof(s->node_seen));
		s->seen_gen = 1;
	}
	s->node_seen[frm] = s->seen_gen;
	s->node_parent[frm] = -1;
	stack[sp++] = frm;
	while (sp) {
		int node = stack[--sp];

		if (!fl_node_live(s, node))
			continue;
		for (e = s->node_first[node]; e >= 0; e = s->edges[e].next) {
			int nxt = s->edges[e].dst;

			if (nxt == to)
				return e;
			if (s->node_seen[nxt] != s->seen_gen) {
				s->node_seen[nxt] = s->seen_gen;
				s->node_parent[nxt] = e;
				stack[sp++] = nxt;
			}
		}
	}
	return -1;
}

/*
 * LockGraph.add: 0 = no cycle (or a known edge), 1 = the edge closes a cycle
 * (the chain written to @sb), -1 = out of memory.
 */
static int fl_graph_add(struct fl_sched *s, const struct fl_lockdep_edge *edge, struct fl_sb *sb)
{
	int src = edge->src, dst = edge->dst;
	int e, last, idx;
	int chain[FL_LOCKDEP_NODES + 1];
	int n = 0, i;
	size_t cap = (size_t)s->edges_cap;
	bool known = false;

	if (fl_node_live(s, src))
		for (e = s->node_first[src]; e >= 0 && !known; e = s->edges[e].next)
			known = s->edges[e].dst == dst;
	if (s->fp && !s->fp->no_lockdep) {
		/*
		 * Footprint: an acquisition that finds its edge depends only on that
		 * edge; one that adds an edge searches the whole graph and changes it.
		 */
		fl_fp_cell(((int64_t)FL_FP_TAG_LOCKDEP_EDGE << 32) |
			   ((int64_t)src * FL_LOCKDEP_NODES + dst), known ? FL_FP_READ : FL_FP_WRITE);
		if (!known)
			fl_fp_cell(FL_FP_CELL_LOCKDEP, FL_FP_WRITE);
	}
	if (known)
		return 0;
	last = src == dst ? -1 : fl_graph_path(s, dst, src);
	if (fl_grow((void **)&s->edges, &cap, (size_t)s->nedges + 1, sizeof(*s->edges)) ||
	    cap > INT_MAX)
		return -1;
	s->edges_cap = (int)cap;
	idx = s->nedges++;
	s->edges[idx] = *edge;
	s->edges[idx].next = -1;
	if (!fl_node_live(s, src)) {
		s->node_gen[src] = s->graph_gen;
		s->node_first[src] = idx;
	} else {
		s->edges[s->node_last[src]].next = idx;
	}
	s->node_last[src] = idx;
	if (last < 0)
		return 0;
	/* the path dst ->* src, then the new edge */
	for (e = last; e >= 0; e = s->node_parent[s->edges[e].src])
		chain[n++] = e;
	for (i = n - 1; i >= 0; i--)
		fl_sb_printf(sb, "%s -> ",
			     s->class_names[s->edges[chain[i]].src / FL_MAX_SUBCLASSES]);
	fl_sb_printf(sb, "%s -> %s", s->class_names[src / FL_MAX_SUBCLASSES],
		     s->class_names[s->edges[chain[n - 1]].src / FL_MAX_SUBCLASSES]);
	return 1;
}

/* Scheduler._lockdep: edges held -> taken on a blocking acquisition */
static int fl_lockdep(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op)
{
	struct fl_lock *lk = op->lock;
	int dst = lk->cls * FL_MAX_SUBCLASSES + op->subclass;
	int i;

	for (i = 0; i < t->nheld; i++) {
		const struct fl_held *h = &t->held[i];
		int src = h->lock->cls * FL_MAX_SUBCLASSES + h->subclass;
		struct fl_lockdep_edge e = {
			.src = src, .dst = dst, .next = -1, .tid = t->tid, .step = s->step,
			.fn = op->fn, .held_name = h->lock->name, .taken_name = lk->name,
		};
		char chain[FL_MSG_LEN];
		struct fl_sb sb = { chain, sizeof(chain), 0 };
		int r;

		if (src == dst)
			continue;
		chain[0] = '\0';
		r = fl_graph_add(s, &e, &sb);
		if (r < 0) {
			fl_sched_error(s, "out of memory (lockdep)");
			return -1;
		}
		if (r > 0) {
			fl_sched_violation(s, "lock.order", op->fn,
					   "taking %s while holding %s closes a lock-order cycle %s",
					   lk->name, h->lock->name, chain);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Executing an op                                                           */

static int fl_acquire(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op,
		      bool trylock)
{
	struct fl_lock *lk = op->lock;
	uint32_t bit = fl_bit(t->slot);
	struct fl_held *h;

	if (!trylock && !s->solo && t->nheld && fl_lockdep(s, t, op))
		return -1;
	if (t->nheld == t->held_cap) {
		size_t cap = (size_t)t->held_cap;

		if (fl_grow((void **)&t->held, &cap, cap + 1, sizeof(*t->held)) || cap > INT_MAX) {
			fl_sched_error(s, "out of memory (held locks)");
			return -1;
		}
		t->held_cap = (int)cap;
	}
	if (lk->type != FL_RWSEM) {
		lk->owner = t->slot;
		if (lk->type == FL_SPINLOCK)
			t->spins++;
	} else {
		if (op->mode == FL_WRITE) {
			lk->writer = t->slot;
			lk->pending_writers &= ~bit;
			lk->waiting_writers &= ~bit;
		} else {
			lk->readers |= bit;
			lk->nread[t->slot]++;
		}
		/* a writer pending on this rwsem has now found it taken: it waits */
		lk->waiting_writers |= lk->pending_writers;
	}
	h = &t->held[t->nheld++];
	h->lock = lk;
	h->mode = op->mode;
	h->subclass = op->subclass;
	h->trylock = trylock;
	h->fn = op->fn;
	h->step = s->step;
	return 0;
}

static int fl_release(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op)
{
	struct fl_lock *lk = op->lock;
	int i;

	for (i = t->nheld - 1; i >= 0; i--)
		if (t->held[i].lock == lk && t->held[i].mode == op->mode)
			break;
	if (i < 0) {
		fl_sched_violation(s, "unlock-not-held", op->fn,
				   "%s %s by T%d, which does not hold it", op->label, lk->name,
				   t->tid);
		return -1;
	}
	memmove(&t->held[i], &t->held[i + 1], (size_t)(t->nheld - i - 1) * sizeof(*t->held));
	t->nheld--;
	if (lk->type != FL_RWSEM) {
		lk->owner = -1;
		if (lk->type == FL_SPINLOCK)
			t->spins--;
	} else if (op->mode == FL_WRITE) {
		lk->writer = -1;
	} else if (--lk->nread[t->slot] == 0) {
		lk->readers &= ~fl_bit(t->slot);
	}
	return 0;
}

static int fl_run_thunk(struct fl_sched *s, const struct fl_op *op, struct fl_value *val)
{
	*val = op->thunk ? op->thunk(op->thunk_arg) : fl_none;
	return s->stopped ? -1 : 0;
}

/*
 * The explicit cells of an op (footprint.h): every lock acquisition, release
 * and successful trylock writes the lock's cell; a failed trylock and a wait
 * only read it (they change no lock state, and a lock or unlock by another
 * thread, which writes it, is what can change their outcome).  RCU section
 * boundaries read the RCU cell that frees of typesafe-by-RCU objects write:
 * what a deref inside a section may see depends only on whether the section
 * started before the free (rcu_since < free_clock), and section boundaries of
 * different threads commute with each other.
 */
static void fl_fp_op(const struct fl_op *op)
{
	const struct fl_lock *lk = op->lock;
	bool ok;

	switch (op->kind) {
	case FL_OP_LOCK:
	case FL_OP_UNLOCK:
		fl_fp_lock(lk, FL_FP_WRITE);
		break;
	case FL_OP_TRYLOCK:
		if (lk->type != FL_RWSEM)
			ok = lk->owner < 0;
		else if (op->mode == FL_WRITE)
			ok = fl_write_available(lk);
		else
			ok = fl_read_available(lk);
		fl_fp_lock(lk, ok ? FL_FP_WRITE : FL_FP_READ);
		break;
	case FL_OP_WAIT:
		fl_fp_lock(lk, FL_FP_READ);
		break;
	case FL_OP_RCU_LOCK:
	case FL_OP_RCU_UNLOCK:
	case FL_OP_PTE_MAP:
	case FL_OP_PTE_UNMAP:
		fl_fp_cell(FL_FP_CELL_RCU, FL_FP_READ);
		break;
	default:
		break;
	}
}

static int fl_execute(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op,
		      struct fl_value *val)
{
	const struct fl_lock *lk = op->lock;
	bool ok;

	*val = fl_none;
	if (s->fp)
		fl_fp_op(op);
	switch (op->kind) {
	case FL_OP_MEM:
	case FL_OP_MIGHT_SLEEP:
		return fl_run_thunk(s, op, val);
	case FL_OP_LOCK:
		return fl_acquire(s, t, op, false);
	case FL_OP_TRYLOCK:
		if (lk->type != FL_RWSEM)
			ok = lk->owner < 0;
		else if (op->mode == FL_WRITE)
			ok = fl_write_available(lk);
		else
			ok = fl_read_available(lk);
		if (ok && fl_acquire(s, t, op, true))
			return -1;
		val->kind = FL_VAL_BOOL;
		val->i = ok;
		return 0;
	case FL_OP_UNLOCK:
		/* an unlock's memory check (ops.Op), before the release; value dropped */
		if (op->thunk && fl_run_thunk(s, op, val))
			return -1;
		*val = fl_none;
		return fl_release(s, t, op);
	case FL_OP_RCU_LOCK:
	case FL_OP_PTE_MAP:
		if (t->rcu_depth == 0)
			t->rcu_since = s->clock;
		t->rcu_depth++;
		if (op->kind == FL_OP_PTE_MAP) {
			t->pte_maps++;
			return fl_run_thunk(s, op, val);
		}
		return 0;
	case FL_OP_RCU_UNLOCK:
	case FL_OP_PTE_UNMAP:
		if (t->rcu_depth == 0 || (op->kind == FL_OP_PTE_UNMAP && t->pte_maps == 0)) {
			fl_sched_violation(s, "unlock-not-held", op->fn,
					   "%s without a matching lock", op->label);
			return -1;
		}
		if (op->kind == FL_OP_PTE_UNMAP)
			t->pte_maps--;
		if (--t->rcu_depth == 0)
			t->rcu_since = -1;
		return 0;
	case FL_OP_WAIT:
		return 0;
	default:
		fl_sched_error(s, "unknown op kind %d", (int)op->kind);
		return -1;
	}
}

/* ------------------------------------------------------------------------ */
/* Deadlock: the wait-for cycle (Scheduler._deadlock, _find_cycle)           */

struct fl_waits {
	uint32_t keys;			/* tids with an entry (unfinished threads) */
	const char *name[FL_MAX_THREADS];
	int holders[FL_MAX_THREADS][FL_MAX_THREADS + 1];
	int nholders[FL_MAX_THREADS];
};

static inline bool fl_waits_has(const struct fl_waits *w, int tid)
{
	return tid >= 0 && tid < FL_MAX_THREADS && (w->keys & fl_bit(tid));
}

static int fl_dfs(const struct fl_waits *w, int node, int *path, int plen, uint32_t on_path,
		  int *out)
{
	int i, j, k;

	for (i = 0; i < w->nholders[node]; i++) {
		int nxt = w->holders[node][i];

		if (nxt >= 0 && nxt < FL_MAX_THREADS && (on_path & fl_bit(nxt))) {
			for (j = 0; path[j] != nxt; j++)
				;
			for (k = j; k < plen; k++)
				out[k - j] = path[k];
			return plen - j;
		}
		if (fl_waits_has(w, nxt)) {
			int found;

			path[plen] = nxt;
			found = fl_dfs(w, nxt, path, plen + 1, on_path | fl_bit(nxt), out);
			if (found)
				return found;
		}
	}
	return 0;
}

/* Collect the holders of lock slots in @mask as sorted tids. */
static int fl_mask_tids(const struct fl_sched *s, uint32_t mask, int skip, int *out)
{
	int n = 0, slot;

	/* the solo thread (tid -1) sorts first */
	if ((mask & fl_bit(FL_SOLO_SLOT)) && skip != -1)
		out[n++] = -1;
	for (slot = 0; slot < FL_MAX_THREADS; slot++)
		if ((mask & fl_bit(slot)) && fl_slot_tid(s, slot) != skip)
			out[n++] = fl_slot_tid(s, slot);
	return n;
}

static void fl_deadlock(struct fl_sched *s)
{
	struct fl_waits w;
	int path[FL_MAX_THREADS + 1], cycle[FL_MAX_THREADS + 1];
	int ncycle = 0, first = -1, who, i;
	char buf[FL_MSG_LEN];
	struct fl_sb sb = { buf, sizeof(buf), 0 };
	const char *sep = "";

	memset(&w, 0, sizeof(w));
	for (i = 0; i < s->nthreads; i++) {
		const struct fl_thread *t = &s->threads[i];
		const struct fl_lock *lk;

		if (t->done)
			continue;
		lk = t->pending.lock;
		w.keys |= fl_bit(t->tid);
		w.name[t->tid] = lk->name;
		if (lk->type != FL_RWSEM) {
			if (lk->owner >= 0)
				w.holders[t->tid][w.nholders[t->tid]++] = fl_slot_tid(s, lk->owner);
		} else if (lk->writer >= 0) {
			w.holders[t->tid][w.nholders[t->tid]++] = fl_slot_tid(s, lk->writer);
		} else if (t->pending.mode == FL_WRITE || t->pending.kind == FL_OP_WAIT) {
			w.nholders[t->tid] = fl_mask_tids(s, lk->readers, INT_MIN,
							  w.holders[t->tid]);
		} else {	/* a reader held back by a waiting writer */
			w.nholders[t->tid] = fl_mask_tids(s, lk->waiting_writers, t->tid,
							  w.holders[t->tid]);
		}
		if (first < 0)
			first = t->tid;
	}
	for (i = 0; i < FL_MAX_THREADS && !ncycle; i++) {
		if (!fl_waits_has(&w, i))
			continue;
		path[0] = i;
		ncycle = fl_dfs(&w, i, path, 1, fl_bit(i), cycle);
	}
	buf[0] = '\0';
	if (ncycle) {
		for (i = 0; i < ncycle; i++) {
			fl_sb_printf(&sb, "%sT%d waits for %s held by T%d", sep, cycle[i],
				     w.name[cycle[i]], cycle[(i + 1) % ncycle]);
			sep = "; ";
		}
	} else {
		for (i = 0; i < FL_MAX_THREADS; i++) {
			if (!fl_waits_has(&w, i))
				continue;
			fl_sb_printf(&sb, "%sT%d waits for %s", sep, i, w.name[i]);
			sep = "; ";
		}
	}
	who = ncycle ? cycle[0] : first;
	fl_violation_at(s, "deadlock", s->threads[who].pending.fn, s->step, who,
			"no thread can run: %s", buf);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */

static int fl_push_event(struct fl_sched *s, int tid, const struct fl_op *op,
			 struct fl_value val)
{
	struct fl_event *e;

	if (s->nevents == s->events_cap &&
	    fl_grow((void **)&s->events, &s->events_cap, s->nevents + 1, sizeof(*s->events))) {
		fl_sched_error(s, "out of memory (trace)");
		return -1;
	}
	e = &s->events[s->nevents++];
	e->step = s->step;
	e->tid = tid;
	e->fn = op->fn;
	e->label = op->label;
	e->obj = op->obj;
	e->val = val;
	return 0;
}

static void fl_finish(struct fl_sched *s)
{
	switch (s->outcome) {
	case FL_FINISHED:
		s->outcome_id = "finished";
		break;
	case FL_STEP_BOUND:
		s->outcome_id = "step-bound";
		break;
	case FL_VIOLATION:
		s->outcome_id = s->viol.id;
		break;
	case FL_ABORTED:
		s->outcome_id = "aborted";
		break;
	default:
		s->outcome_id = "error";
		break;
	}
}

int fl_sched_run(struct fl_sched *s, const struct fl_chooser *ch)
{
	struct fl_sched *saved = fl_tls_sched;
	int n = s->nthreads;
	int cur = 0, i;

	if (s->stopped)
		goto out_nostate;
	fl_tls_sched = s;
	s->flip = fl_flip_rule;
	for (i = 0; i < n; i++) {
		s->current = &s->threads[i];
		if (fl_advance(s, &s->threads[i], fl_none))
			goto out;
	}
	for (;;) {
		int order[FL_MAX_THREADS];
		int norder = 0, ndone = 0, pick;
		bool cur_enabled = false;
		struct fl_thread *t;
		struct fl_op op;
		struct fl_value val;

		for (i = 0; i < n; i++) {
			int idx = cur + i < n ? cur + i : cur + i - n;	/* (cur + i) % n */

			t = &s->threads[idx];
			if (t->done) {
				ndone++;
				continue;
			}
			if (fl_blocking(t->pending.kind) && !fl_enabled(&t->pending))
				continue;
			order[norder++] = t->tid;
			if (i == 0)
				cur_enabled = true;
		}
		if (!norder) {
			if (ndone == n)
				break;
			fl_deadlock(s);
			goto out;
		}
		if (s->step >= s->max_steps) {
			s->outcome = FL_STEP_BOUND;
			break;
		}
		if (norder >= 2) {
			long long c = ch->choose(ch->ctx, order, norder, cur);
			int idx;

			if (c < 0) {
				s->outcome = FL_ABORTED;
				s->stopped = true;
				goto out;
			}
			if (s->ndecisions == s->decisions_cap &&
			    fl_grow((void **)&s->decisions, &s->decisions_cap, s->ndecisions + 1,
				    sizeof(*s->decisions))) {
				fl_sched_error(s, "out of memory (decisions)");
				goto out;
			}
			s->decisions[s->ndecisions++] = c;
			idx = (int)((unsigned long long)c % (unsigned int)norder);
			if (s->flip)
				idx = (idx + 1) % norder;
			pick = order[idx];
			if (cur_enabled && pick != cur) {
				if (s->npreempted == s->preempted_cap &&
				    fl_grow((void **)&s->preempted, &s->preempted_cap,
					    s->npreempted + 1, sizeof(*s->preempted))) {
					fl_sched_error(s, "out of memory (preemptions)");
					goto out;
				}
				s->preempted[s->npreempted++] = s->step;
			}
		} else {
			pick = order[0];
		}
		cur = pick;
		t = &s->threads[pick];
		s->current = t;
		op = t->pending;
		if (s->fp)
			fl_fp_step_begin(s->fp, pick, order, norder, norder >= 2);
		if (fl_execute(s, t, &op, &val)) {
			/* the op that broke an invariant is part of the trace: value "!" */
			if (s->outcome == FL_VIOLATION)
				fl_push_event(s, pick, &op, fl_violating);
			goto out;
		}
		if (fl_push_event(s, pick, &op, val))
			goto out;
		s->clock++;
		if (fl_advance(s, t, val))
			goto out;
		if (s->fp)
			fl_fp_pause(s->fp);	/* invariant checks are not part of the step */
		if (s->check_step && s->check_step(s, t, s->check_ctx)) {
			if (!s->stopped)
				fl_sched_error(s, "check_step failed without a violation");
			goto out;
		}
		if (s->fp)
			fl_fp_step_end(s->fp);
		s->step++;
	}
	if (s->outcome == FL_FINISHED && s->check_end) {
		s->current = NULL;
		if (s->check_end(s, s->check_ctx) && !s->stopped)
			fl_sched_error(s, "check_end failed without a violation");
	}
out:
	if (s->fp)
		fl_fp_step_end(s->fp);	/* the step a violation ended, if one is open */
	s->current = NULL;
	fl_tls_sched = saved;
out_nostate:
	fl_finish(s);
	return s->outcome == FL_FINISHED || s->outcome == FL_STEP_BOUND ? 0 : -1;
}

int fl_sched_run_solo(struct fl_sched *s, const char *name, fl_body_fn body, void *arg)
{
	struct fl_sched *saved = fl_tls_sched;
	struct fl_thread *t = &s->threads[FL_SOLO_SLOT];
	int ret = -1;

	if (s->stopped)
		goto out_nostate;
	if (fl_thread_setup(s, t, -1, name, body, arg))
		goto out_nostate;
	fl_tls_sched = s;
	s->solo = true;
	s->current = t;
	if (fl_advance(s, t, fl_none))
		goto out;
	while (!t->done) {
		struct fl_op op = t->pending;
		struct fl_value val;

		if (fl_blocking(op.kind) && !fl_enabled(&op)) {
			fl_sched_error(s, "setup %s blocks on %s in %s", name, op.obj, op.fn);
			goto out;
		}
		if (fl_execute(s, t, &op, &val))
			goto out;
		s->clock++;
		if (fl_advance(s, t, val))
			goto out;
	}
	if (fl_thread_end(s, t))
		goto out;
	ret = 0;
out:
	s->solo = false;
	s->current = NULL;
	fl_tls_sched = saved;
out_nostate:
	fl_finish(s);
	return ret;
}

/* ------------------------------------------------------------------------ */
/* The canonical trace text (trace.canonical)                                */

/*
 * Built in one pass, each string measured once and copied with fixed-size
 * moves: the batched hunt (native/hunt.c) hashes every run's text, so this is
 * on its hot path.
 */
#define FL_NUM_MAX	20	/* "%lld" of LLONG_MIN */

static const char fl_digits[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline unsigned long long fl_abs(long long v)
{
	return v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
}

/* write "%lld" of @v at @p, return the end */
static inline char *fl_put_ll(char *p, long long v)
{
	unsigned long long u = fl_abs(v), w;
	char *end;

	if (v < 0)
		*p++ = '-';
	if (u < 10) {
		*p = (char)('0' + u);
		return p + 1;
	}
	end = p + 2;
	for (w = u; w >= 100; w /= 10)
		end++;
	p = end;
	while (u >= 100) {
		p -= 2;
		memcpy(p, fl_digits + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, fl_digits + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	return end;
}

/* copy @n bytes with fixed-size moves (overlapping ones for the tail), return the end */
static inline char *fl_put_s(char *p, const char *str, size_t n)
{
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			memcpy(p + i, str + i, 8);
		memcpy(p + n - 8, str + n - 8, 8);
	} else if (n >= 4) {
		memcpy(p, str, 4);
		memcpy(p + n - 4, str + n - 4, 4);
	} else if (n >= 2) {
		memcpy(p, str, 2);
		memcpy(p + n - 2, str + n - 2, 2);
	} else if (n) {
		*p = *str;
	}
	return p + n;
}

const char *fl_sched_trace(struct fl_sched *s, size_t *len)
{
	size_t i, used = 0;
	char *p;

	for (i = 0; i < s->nevents; i++) {
		const struct fl_event *e = &s->events[i];
		const char *sv = e->val.kind == FL_VAL_STR ? e->val.s : NULL;
		size_t lf = strlen(e->fn), ll = strlen(e->label), lo = strlen(e->obj);
		size_t lv = sv ? strlen(sv) : 0;
		/* step|tid|fn|op|obj|value\n, with room for three numbers */
		size_t need = used + lf + ll + lo + lv + 3 * FL_NUM_MAX + 7;

		if (need > s->trace_cap && fl_grow((void **)&s->trace, &s->trace_cap, need, 1))
			goto nomem;
		p = fl_put_ll(s->trace + used, e->step);
		*p++ = '|';
		p = fl_put_ll(p, e->tid);
		*p++ = '|';
		p = fl_put_s(p, e->fn, lf);
		*p++ = '|';
		p = fl_put_s(p, e->label, ll);
		*p++ = '|';
		p = fl_put_s(p, e->obj, lo);
		*p++ = '|';
		if (e->val.kind == FL_VAL_BOOL)
			*p++ = e->val.i ? '1' : '0';
		else if (e->val.kind == FL_VAL_INT)
			p = fl_put_ll(p, e->val.i);
		else
			p = fl_put_s(p, sv, lv);
		*p++ = '\n';
		used = (size_t)(p - s->trace);
	}
	if (fl_grow((void **)&s->trace, &s->trace_cap, used + 1, 1))
		goto nomem;
	s->trace[used] = '\0';
	s->trace_len = used;
	*len = used;
	return s->trace;
nomem:
	*len = 0;
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Choosers                                                                  */

static long long fl_replay_choose(void *ctx, const int *order, int n, int current)
{
	struct fl_replay *r = ctx;

	(void)order;
	(void)n;
	(void)current;
	if (r->i < r->n)
		return r->decisions[r->i++];
	return 0;
}

void fl_replay_init(struct fl_chooser *c, struct fl_replay *r, const long long *d, size_t n)
{
	r->decisions = d;
	r->n = d ? n : 0;
	r->i = 0;
	c->choose = fl_replay_choose;
	c->ctx = r;
}

static uint64_t fl_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long long fl_random_choose(void *ctx, const int *order, int n, int current)
{
	struct fl_random *r = ctx;
	uint64_t lim, x;

	if (order[0] == current && r->preempt < 1.0) {
		double u = (double)(fl_splitmix64(&r->state) >> 11) * 0x1.0p-53;

		if (u >= r->preempt)
			return 0;
	}
	/* unbiased randrange(n) */
	lim = UINT64_MAX - UINT64_MAX % (uint64_t)n;
	do {
		x = fl_splitmix64(&r->state);
	} while (x >= lim);
	return (long long)(x % (uint64_t)n);
}

void fl_random_init(struct fl_chooser *c, struct fl_random *r, uint64_t seed, double preempt)
{
	r->state = seed;
	r->preempt = preempt;
	c->choose = fl_random_choose;
	c->ctx = r;
}

/* Fill res with the outcome of the last run (shared by every exported runner). */
void fl_sched_result(struct fl_sched *s, struct fl_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = (int)s->outcome;
	res->outcome_id = s->outcome_id;
	res->steps = (int)s->nevents;
	res->violation_step = s->has_viol ? s->viol.step : -1;
	res->violation_thread = s->has_viol ? s->viol.thread : -1;
	res->violation_fn = s->viol.fn ? s->viol.fn : "";
	res->message = s->viol.message;
	res->decisions = s->decisions;
	res->ndecisions = s->ndecisions;
	res->preempted = s->preempted;
	res->npreempted = s->npreempted;
	res->trace = fl_sched_trace(s, &res->trace_len);
	res->nevents = s->nevents;
	if (!res->trace) {
		res->outcome = FL_ERROR;
		res->outcome_id = "error";
		res->message = "out of memory (trace text)";
	}
}

void fl_format_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
