// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to the scheduler's C files (scheduler.c, fiber.c, ops.c, lockdep.c,
 * locks.c, result.c, trace.c, choosers.c): what they share and nothing else
 * includes.  The context switch (fl_resume, fl_suspend) is inline here: it is on
 * every step.
 */
#ifndef FUZZLOCK_SCHED_INT_H
#define FUZZLOCK_SCHED_INT_H

#include <stdarg.h>
#include <stdlib.h>

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

#define FL_HIDDEN __attribute__((visibility("hidden")))

#define FL_SOLO_SLOT FL_MAX_THREADS

/* the scheduler running on this OS thread (scheduler.c) */
extern _Thread_local struct fl_sched *fl_tls_sched FL_HIDDEN;

static const struct fl_value fl_none = { .kind = FL_VAL_NONE };

#ifdef FL_CTX_ASM
void fl_ctx_switch(void **save, void *to) FL_HIDDEN;
void fl_ctx_trampoline(void) FL_HIDDEN;
#endif

/* fiber.c: a thread's stack and its first context */
int fl_thread_setup(struct fl_sched *s, struct fl_thread *t, int tid, const char *name,
		    fl_body_fn body, void *arg) FL_HIDDEN;
void fl_stack_free(struct fl_thread *t) FL_HIDDEN;

/* result.c: growing arrays, messages and violations */
int fl_grow(void **p, size_t *cap, size_t need, size_t elem) FL_HIDDEN;

struct fl_sb {
	char *buf;
	size_t cap, len;
};

void fl_sb_printf(struct fl_sb *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3))) FL_HIDDEN;
void fl_vviolation(struct fl_sched *s, const char *id, const char *fn, int step, int thread,
		   const char *fmt, va_list ap) FL_HIDDEN;
void fl_violation_at(struct fl_sched *s, const char *id, const char *fn, int step, int thread,
		     const char *fmt, ...) __attribute__((format(printf, 6, 7))) FL_HIDDEN;

/* lockdep.c: the lock-class graph and the wait-for cycle */
int fl_lockdep(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op) FL_HIDDEN;
void fl_deadlock(struct fl_sched *s) FL_HIDDEN;

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

/* scheduler -> thread @t; returns when @t yields, ends or stops the run */
static inline void fl_resume(struct fl_sched *s, struct fl_thread *t)
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
static inline void fl_suspend(struct fl_sched *s, struct fl_thread *t, bool exiting)
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

#endif /* FUZZLOCK_SCHED_INT_H */
