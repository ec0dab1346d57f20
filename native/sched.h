/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The deterministic scheduler of the C port: the same contract, bit for bit,
 * as fuzzlock/sched/scheduler.py (docs/design.md#scheduler-contract).
 *
 * Simulated threads are coroutines inside the calling OS thread: each has its
 * own stack and calls fl_yield_op() at every scheduling point.  One call of
 * fl_sched_run() runs a whole schedule; no OS threads and no syscalls are
 * involved on the hot path (x86-64 switches with a few instructions, other
 * architectures fall back to ucontext).
 *
 * Life of a scheduler:
 *
 *	fl_sched_init(&s, max_steps);		once
 *	fl_sched_class(&s, "folio_lock");	lockdep classes, once
 *	for each schedule:
 *		fl_sched_reset(&s);		keeps stacks and buffers
 *		(reset the world's locks with fl_lock_reset())
 *		fl_sched_run_solo(&s, "setup", setup, arg);
 *		fl_sched_spawn(&s, "A", body_a, arg_a); ...
 *		fl_sched_run(&s, &chooser);
 *		read s.outcome, s.viol, fl_sched_trace(), s.decisions ...
 *	fl_sched_destroy(&s);
 *
 * Strings handed to the scheduler (thread names, op fn/label/obj, lock names,
 * string values) are not copied: they must stay valid until the next
 * fl_sched_reset() (use fl_sched_strdup() for built ones) and must not contain
 * '|' or '\n' (the canonical trace uses them as separators).
 */
#ifndef FUZZLOCK_SCHED_H
#define FUZZLOCK_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fuzzlock_schema.h"

#define FL_MAX_CLASSES		64	/* lockdep classes per scheduler */
#define FL_MAX_SUBCLASSES	8	/* as lockdep's MAX_LOCKDEP_SUBCLASSES */
#define FL_DEFAULT_MAX_STEPS	20000	/* scheduler.DEFAULT_MAX_STEPS */
#define FL_DEFAULT_STACK	(64 * 1024)

/* enum fl_op_kind, enum fl_mode, enum fl_outcome: fuzzlock_schema.h */

enum fl_lock_type {
	FL_MUTEX,	/* sleeping one-holder lock (folio lock, mutex) */
	FL_SPINLOCK,	/* non-sleeping one-holder lock (PTL): holder is atomic */
	FL_RWSEM,	/* reader/writer semaphore, sleeps */
};

/* A lock of the simulated kernel: locks.Lock or locks.RWSem. */
struct fl_lock {
	const char *name;
	int cls;		/* lockdep class id from fl_sched_class() */
	enum fl_lock_type type;
	int owner;		/* Lock.owner; -1 = None */
	int writer;		/* RWSem.writer; -1 = None */
	uint32_t readers;	/* RWSem.readers keys, bit per thread slot */
	uint32_t pending_writers;
	uint32_t waiting_writers;
	int nread[FL_MAX_THREADS + 1];	/* RWSem.readers values */
};

/* trace.fmt_value: None -> "", bool -> "1"/"0", int -> decimal, str -> itself */
enum fl_value_kind {
	FL_VAL_NONE = 0,
	FL_VAL_BOOL = 1,
	FL_VAL_INT = 2,
	FL_VAL_STR = 3,
};

struct fl_value {
	enum fl_value_kind kind;
	long long i;		/* BOOL (0/1) and INT */
	const char *s;		/* STR: the trace text */
	void *p;		/* payload for the thread body, never traced */
};

typedef struct fl_value (*fl_thunk_fn)(void *arg);

/* One scheduling point (ops.Op). */
struct fl_op {
	enum fl_op_kind kind;
	enum fl_mode mode;
	int subclass;
	const char *fn;
	const char *label;
	const char *obj;
	struct fl_lock *lock;
	fl_thunk_fn thunk;	/* MEM, PTE_MAP, MIGHT_SLEEP: run when executed;
				 * UNLOCK: a memory check run before the release */
	void *thunk_arg;
};

/* lockdep's held_lock (scheduler.Held). */
struct fl_held {
	struct fl_lock *lock;
	enum fl_mode mode;
	int subclass;
	bool trylock;
	const char *fn;
	int step;
};

typedef void (*fl_body_fn)(void *arg);

struct fl_sched;
struct fl_fp;

struct fl_thread {
	int tid;		/* -1 for the solo (setup) thread */
	int slot;		/* bit index in lock masks: tid, or FL_MAX_THREADS */
	const char *name;
	fl_body_fn body;
	void *arg;
	struct fl_sched *sched;
	struct fl_op pending;
	bool has_pending;
	bool done;
	struct fl_held *held;
	int nheld, held_cap;
	int rcu_depth;		/* rcu_read_lock nesting, PTE maps included */
	long long rcu_since;	/* clock of the outermost rcu_read_lock; -1 = None */
	int pte_maps;
	int spins;		/* spinlocks held */
	struct fl_value resume;	/* value fl_yield_op() returns */
	/* coroutine */
	void *sp;		/* saved stack pointer (x86-64) */
	void *uctx;		/* ucontext_t * (fallback) */
	void *stack;		/* usable stack (above the guard page) */
	size_t stack_size;
	void *asan_fake;
};

/* One trace event: (step, thread, fn, op, obj, value). */
struct fl_event {
	int step;
	int tid;
	const char *fn;
	const char *label;
	const char *obj;
	struct fl_value val;
};

/*
 * Where decisions come from.  choose() is called only when two or more threads
 * are enabled, with the enabled thread ids in round-robin order from the
 * current thread; it returns a decision c >= 0 (order[c % n] runs), or a
 * negative number to abort the run (outcome "aborted").
 */
struct fl_chooser {
	long long (*choose)(void *ctx, const int *order, int n, int current);
	void *ctx;
};

struct fl_replay {		/* choosers.Replay: 0 once exhausted */
	const long long *decisions;
	size_t n, i;
};

struct fl_random {		/* choosers.RandomChooser (different generator) */
	uint64_t state;
	double preempt;		/* 1.0 = uniform among the enabled threads */
};

/*
 * choosers.PCTChooser, bit for bit (native/choosers.c): the same seed, thread count,
 * depth and k give the same decisions as the Python chooser, whose
 * random.Random(seed) it reproduces (MT19937 and CPython's seeding, _randbelow,
 * shuffle and sample).
 */
#define FL_MT_N			624

struct fl_mt {			/* CPython's random.Random state */
	uint32_t mt[FL_MT_N];
	int mti;
};

struct fl_pct {
	int n, depth, k;
	long long prio[FL_MAX_THREADS];
	int npoints;
	int point[FL_PCT_MAX_DEPTH];	/* sorted decision-point indices */
	long long seen;
};

void fl_replay_init(struct fl_chooser *c, struct fl_replay *r, const long long *d, size_t n);
void fl_random_init(struct fl_chooser *c, struct fl_random *r, uint64_t seed, double preempt);
/*
 * PCTChooser(seed, n, depth, k) with seed_abs = |seed| (random.Random seeds
 * with the absolute value); -1 if n, depth or k is out of range
 * (1 <= n <= FL_MAX_THREADS, 1 <= depth <= FL_PCT_MAX_DEPTH, 0 <= k <= FL_PCT_MAX_K).
 * choose() returns -1 (abort) for a thread id >= n, where Python raises IndexError.
 */
int fl_pct_init(struct fl_chooser *c, struct fl_pct *p, uint64_t seed_abs, int n, int depth,
		int k);
/* random.Random(seed_abs) */
void fl_mt_seed(struct fl_mt *r, uint64_t seed_abs);
uint32_t fl_mt_next(struct fl_mt *r);
/* Random._randbelow(n) for 1 <= n < 2^32 */
uint32_t fl_mt_below(struct fl_mt *r, uint32_t n);
/* test aid (exported): @n draws of random.Random(seed_abs)._randbelow(bound) */
int fl_debug_randbelow(unsigned long long seed_abs, unsigned int bound, unsigned int *out, int n);


struct fl_violation {
	const char *id;		/* "deadlock", "lock.order", ... */
	int step;
	int thread;		/* -1 at the end of a run */
	const char *fn;
	char message[FL_MSG_LEN];
};

struct fl_lockdep_edge {
	int src, dst;		/* node = class * FL_MAX_SUBCLASSES + subclass */
	int next;		/* next out-edge of src in insertion order, -1 */
	int tid, step;
	const char *fn, *held_name, *taken_name;
};

#define FL_LOCKDEP_NODES (FL_MAX_CLASSES * FL_MAX_SUBCLASSES)

struct fl_sched {
	int max_steps;
	size_t stack_size;
	int nthreads;
	struct fl_thread threads[FL_MAX_THREADS + 1];	/* last: solo */
	struct fl_thread *current;
	long long clock;	/* every executed op, setup included */
	int step;		/* trace step of the concurrent phase */
	bool solo;
	bool in_thread;		/* a thread body is running (not the scheduler) */
	bool stopped;		/* a violation or an error ended the run */
	bool flip;		/* test-only broken decision rule */

	/* hooks for model invariants: return nonzero after fl_sched_violation() */
	int (*check_step)(struct fl_sched *s, struct fl_thread *t, void *ctx);
	int (*check_end)(struct fl_sched *s, void *ctx);
	void *check_ctx;

	/* result of the last run */
	enum fl_outcome outcome;
	const char *outcome_id;
	bool has_viol;
	struct fl_violation viol;
	struct fl_event *events;
	size_t nevents, events_cap;
	long long *decisions;
	size_t ndecisions, decisions_cap;
	int *preempted;
	size_t npreempted, preempted_cap;
	char *trace;		/* canonical text, built by fl_sched_trace() */
	size_t trace_len, trace_cap;

	/* footprint recorder of a recorded run (footprint.h), NULL otherwise */
	struct fl_fp *fp;

	/* lockdep */
	const char *class_names[FL_MAX_CLASSES];
	int nclasses;
	struct fl_lockdep_edge *edges;
	int nedges, edges_cap;
	int node_first[FL_LOCKDEP_NODES], node_last[FL_LOCKDEP_NODES];
	unsigned int node_gen[FL_LOCKDEP_NODES], graph_gen;
	unsigned int node_seen[FL_LOCKDEP_NODES], seen_gen;
	int node_parent[FL_LOCKDEP_NODES];

	/* strings owned by the scheduler until the next reset */
	char **strs;
	size_t nstrs, strs_cap;

	/* coroutine plumbing */
	void *main_sp;
	void *main_uctx;
	const void *main_stack_bottom;
	size_t main_stack_size;
};

int fl_sched_init(struct fl_sched *s, int max_steps);
void fl_sched_destroy(struct fl_sched *s);
void fl_sched_reset(struct fl_sched *s);
int fl_sched_class(struct fl_sched *s, const char *name);
const char *fl_sched_strdup(struct fl_sched *s, const char *str);
int fl_sched_spawn(struct fl_sched *s, const char *name, fl_body_fn body, void *arg);
int fl_sched_run(struct fl_sched *s, const struct fl_chooser *chooser);
int fl_sched_run_solo(struct fl_sched *s, const char *name, fl_body_fn body, void *arg);
const char *fl_sched_trace(struct fl_sched *s, size_t *len);

/*
 * Record a violation from a hook or a thunk (code on the scheduler's stack);
 * the caller then returns and the run ends at this step.  In a thread body use
 * fl_thread_violation().
 */
void fl_sched_violation(struct fl_sched *s, const char *id, const char *fn,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Record an internal error (misuse, out of memory): outcome "error". */
void fl_sched_error(struct fl_sched *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void fl_lock_init(struct fl_lock *lk, const char *name, int cls, enum fl_lock_type type);
void fl_lock_reset(struct fl_lock *lk);

/*
 * Called by a thread body at each scheduling point: the thread stops here
 * until the scheduler executes @op, and gets the op's value back.
 */
struct fl_value fl_yield_op(const struct fl_op *op);

/*
 * Called by model code in a thread body: record a violation and end the run;
 * does not return.
 */
_Noreturn void fl_thread_violation(const char *id, const char *fn, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The scheduler running on this OS thread, and its running sim thread. */
struct fl_sched *fl_current_sched(void);

/*
 * Footprint recording (footprint.c): explicit cells that model code adds to the
 * step being recorded.  No-ops outside a recorded step (always, in the normal
 * library).
 */
#define FL_FP_READ	1u
#define FL_FP_WRITE	2u
/* an object of a SLAB_TYPESAFE_BY_RCU pool was freed (ordered against RCU readers) */
void fl_fp_rcu_free(void);
void fl_fp_cell(int64_t cell, unsigned int rw);
void fl_fp_range(const void *p, size_t n, unsigned int rw);
void fl_fp_lock(const struct fl_lock *lk, unsigned int rw);

/* Test-only: 1 makes the decision rule pick order[(c + 1) % n]; returns the old setting. */
int fl_debug_flip_decision_rule(int on);

/* ------------------------------------------------------------------------ */
/* Exported to Python (fuzzlock_schema.h; fuzzlock/native/_schema.py).       */


void fl_sched_result(struct fl_sched *s, struct fl_result *res);

/* Format a one-line error for a caller-provided buffer (err may be NULL). */
void fl_format_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));


#endif /* FUZZLOCK_SCHED_H */
