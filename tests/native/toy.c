// SPDX-License-Identifier: GPL-2.0-only
/*
 * The toy programs of tests/sched/toy.py on the C scheduler: the differential
 * test runs the same program and decisions on both schedulers and compares
 * the traces.
 *
 * A program arrives from Python as a flat array of long long:
 *
 *	n_threads, flags, then the setup and each thread as a list:
 *	n_actions, then per action: code, a1, a2
 *
 * with the action codes below (tests/native_toy.py TOY_CODES).  The world is
 * ToyWorld(): sleeping locks L0-L2, spinlocks S0-S2, rwsems R0-R1, int
 * variables var0-var2; thread i runs as "toy{i}" with fn "t{i}".  A non-empty
 * setup runs first with fl_sched_run_solo() as "setup", fn "t-1" (what
 * Scheduler.run_solo("setup", body(world, -1, setup)) does in Python).
 *
 * Codes from TOY_WAIT on are not in toy.py: tests/native/test_sched_differential.py
 * interprets them on the Python side, to reach every op kind, lockdep subclasses,
 * string values and violations raised by thread bodies.  Flag TOY_CHECKS installs
 * check_step/check_end hooks that fail when var2 (after a step) or var1 (at the
 * end) holds TOY_SENTINEL.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "footprint.h"
#include "sched.h"

#define TOY_LOCKS	3
#define TOY_SEMS	2
#define TOY_VARS	3

enum toy_code {
	TOY_LOCK,
	TOY_UNLOCK,
	TOY_TRYLOCK,
	TOY_SPIN,
	TOY_SPIN_UNLOCK,
	TOY_DOWN_READ,
	TOY_UP_READ,
	TOY_DOWN_WRITE,
	TOY_UP_WRITE,
	TOY_READ,
	TOY_WRITE,
	TOY_INC,
	TOY_RCU,
	TOY_RCU_UNLOCK,
	/* extended actions (tests/native: every op kind, hooks, thread violations) */
	TOY_WAIT,
	TOY_PTE_MAP,
	TOY_PTE_UNMAP,
	TOY_MIGHT_SLEEP,
	TOY_LOCK_NESTED,
	TOY_SPIN_NESTED,
	TOY_DOWN_READ_TRYLOCK,
	TOY_DOWN_WRITE_TRYLOCK,
	TOY_FAIL,
	TOY_PEEK,
	TOY_NR_CODES
};

#define TOY_CHECKS	1	/* flags: install the check_step/check_end hooks */
#define TOY_SENTINEL	4242	/* the value the hooks look for */

struct toy_action {
	int code;
	int idx;
	long long val;
};

struct toy_thread {
	struct fl_toy *toy;
	char fn[16];
	char name[16];
	const struct toy_action *acts;
	size_t n;
};

struct fl_toy {
	struct fl_sched s;
	struct fl_lock locks[TOY_LOCKS];
	struct fl_lock spins[TOY_LOCKS];
	struct fl_lock sems[TOY_SEMS];
	long long vars[TOY_VARS];
	int nthreads;
	long long flags;
	struct toy_thread setup;
	struct toy_thread th[FL_MAX_THREADS];
	struct toy_action *acts;
	struct fl_fp_layout fpl;	/* locks..vars, built by fl_toy_fp_new() */
};

static const char *const toy_lock_names[TOY_LOCKS] = { "L0", "L1", "L2" };
static const char *const toy_spin_names[TOY_LOCKS] = { "S0", "S1", "S2" };
static const char *const toy_sem_names[TOY_SEMS] = { "R0", "R1" };
static const char *const toy_var_names[TOY_VARS] = { "var0", "var1", "var2" };
static const char *const toy_pte_names[TOY_VARS] = { "pte:0", "pte:1", "pte:2" };

struct toy_mem {
	struct fl_toy *toy;
	int v;
	long long val;
};

static struct fl_value toy_read(void *arg)
{
	struct toy_mem *m = arg;
	struct fl_value r = { .kind = FL_VAL_INT, .i = m->toy->vars[m->v] };

	return r;
}

static struct fl_value toy_write(void *arg)
{
	struct toy_mem *m = arg;
	struct fl_value r = { .kind = FL_VAL_NONE };

	m->toy->vars[m->v] = m->val;
	return r;
}

static struct fl_value toy_inc(void *arg)
{
	struct toy_mem *m = arg;
	struct fl_value r = { .kind = FL_VAL_INT };
	long long *v = &m->toy->vars[m->v];

	if (*v == LLONG_MAX) {	/* Python ints do not overflow; refuse to diverge */
		fl_sched_error(&m->toy->s, "toy var%d overflows a C long long", m->v);
		return r;
	}
	r.i = ++*v;
	return r;
}

static struct fl_value toy_peek(void *arg)
{
	struct toy_mem *m = arg;
	struct fl_value r = { .kind = FL_VAL_STR };
	char buf[32];

	snprintf(buf, sizeof(buf), "x%lld", m->toy->vars[m->v]);
	r.s = fl_sched_strdup(&m->toy->s, buf);
	if (!r.s)
		fl_sched_error(&m->toy->s, "out of memory (peek)");
	return r;
}

static struct fl_value toy_yield_op(enum fl_op_kind kind, enum fl_mode mode, int subclass,
				    const char *fn, const char *label, const char *obj,
				    struct fl_lock *lk, fl_thunk_fn thunk, void *arg)
{
	struct fl_op op = {
		.kind = kind, .mode = mode, .subclass = subclass, .fn = fn, .label = label,
		.obj = obj, .lock = lk, .thunk = thunk, .thunk_arg = arg,
	};

	return fl_yield_op(&op);
}

static struct fl_value toy_yield(enum fl_op_kind kind, enum fl_mode mode, const char *fn,
				 const char *label, struct fl_lock *lk)
{
	struct fl_op op = {
		.kind = kind, .mode = mode, .fn = fn, .label = label,
		.obj = lk ? lk->name : "rcu", .lock = lk,
	};

	return fl_yield_op(&op);
}

static struct fl_value toy_yield_mem(const char *fn, const char *label, struct toy_mem *m,
				     fl_thunk_fn thunk)
{
	struct fl_op op = {
		.kind = FL_OP_MEM, .mode = FL_EXCL, .fn = fn, .label = label,
		.obj = toy_var_names[m->v], .thunk = thunk, .thunk_arg = m,
	};

	return fl_yield_op(&op);
}

/* The extended actions (not in tests/sched/toy.py). */
static void toy_ext_action(struct fl_toy *toy, const char *fn, const struct toy_action *a,
			   struct toy_mem *m)
{
	struct fl_value ok;

	switch (a->code) {
	case TOY_WAIT:
		toy_yield(FL_OP_WAIT, FL_EXCL, fn, "wait", &toy->locks[a->idx]);
		break;
	case TOY_PTE_MAP:
		toy_yield_op(FL_OP_PTE_MAP, FL_EXCL, 0, fn, "pte_map", toy_pte_names[a->idx],
			     NULL, toy_read, m);
		break;
	case TOY_PTE_UNMAP:
		toy_yield_op(FL_OP_PTE_UNMAP, FL_EXCL, 0, fn, "pte_unmap",
			     toy_pte_names[a->idx], NULL, NULL, NULL);
		break;
	case TOY_MIGHT_SLEEP:
		toy_yield_op(FL_OP_MIGHT_SLEEP, FL_EXCL, 0, fn, "might_sleep", "alloc", NULL,
			     NULL, NULL);
		break;
	case TOY_LOCK_NESTED:
		toy_yield_op(FL_OP_LOCK, FL_EXCL, 1, fn, "lock", toy->locks[a->idx].name,
			     &toy->locks[a->idx], NULL, NULL);
		break;
	case TOY_SPIN_NESTED:
		toy_yield_op(FL_OP_LOCK, FL_EXCL, 1, fn, "lock", toy->spins[a->idx].name,
			     &toy->spins[a->idx], NULL, NULL);
		break;
	case TOY_DOWN_READ_TRYLOCK:
		ok = toy_yield(FL_OP_TRYLOCK, FL_READ, fn, "down_read_trylock",
			       &toy->sems[a->idx]);
		if (ok.i)
			toy_yield(FL_OP_UNLOCK, FL_READ, fn, "up_read", &toy->sems[a->idx]);
		break;
	case TOY_DOWN_WRITE_TRYLOCK:
		ok = toy_yield(FL_OP_TRYLOCK, FL_WRITE, fn, "down_write_trylock",
			       &toy->sems[a->idx]);
		if (ok.i)
			toy_yield(FL_OP_UNLOCK, FL_WRITE, fn, "up_write", &toy->sems[a->idx]);
		break;
	case TOY_FAIL:
		fl_thread_violation("toy.fail", fn, "%s fails", fn);
	case TOY_PEEK:
		toy_yield_mem(fn, "peek", m, toy_peek);
		break;
	default:	/* fl_toy_new() admits no other code */
		break;
	}
}

/* tests/sched/toy.py body() */
static void toy_body(void *arg)
{
	struct toy_thread *tt = arg;
	struct fl_toy *toy = tt->toy;
	const char *fn = tt->fn;
	size_t i;

	for (i = 0; i < tt->n; i++) {
		const struct toy_action *a = &tt->acts[i];
		struct toy_mem m = { .toy = toy, .v = a->idx, .val = a->val };
		struct fl_value ok;

		switch (a->code) {
		case TOY_LOCK:
			toy_yield(FL_OP_LOCK, FL_EXCL, fn, "lock", &toy->locks[a->idx]);
			break;
		case TOY_UNLOCK:
			toy_yield(FL_OP_UNLOCK, FL_EXCL, fn, "unlock", &toy->locks[a->idx]);
			break;
		case TOY_TRYLOCK:
			ok = toy_yield(FL_OP_TRYLOCK, FL_EXCL, fn, "trylock", &toy->locks[a->idx]);
			if (ok.i)
				toy_yield(FL_OP_UNLOCK, FL_EXCL, fn, "unlock", &toy->locks[a->idx]);
			break;
		case TOY_SPIN:
			toy_yield(FL_OP_LOCK, FL_EXCL, fn, "lock", &toy->spins[a->idx]);
			break;
		case TOY_SPIN_UNLOCK:
			toy_yield(FL_OP_UNLOCK, FL_EXCL, fn, "unlock", &toy->spins[a->idx]);
			break;
		case TOY_DOWN_READ:
			toy_yield(FL_OP_LOCK, FL_READ, fn, "down_read", &toy->sems[a->idx]);
			break;
		case TOY_UP_READ:
			toy_yield(FL_OP_UNLOCK, FL_READ, fn, "up_read", &toy->sems[a->idx]);
			break;
		case TOY_DOWN_WRITE:
			toy_yield(FL_OP_LOCK, FL_WRITE, fn, "down_write", &toy->sems[a->idx]);
			break;
		case TOY_UP_WRITE:
			toy_yield(FL_OP_UNLOCK, FL_WRITE, fn, "up_write", &toy->sems[a->idx]);
			break;
		case TOY_READ:
			toy_yield_mem(fn, "read", &m, toy_read);
			break;
		case TOY_WRITE:
			toy_yield_mem(fn, "write", &m, toy_write);
			break;
		case TOY_INC:
			toy_yield_mem(fn, "atomic", &m, toy_inc);
			break;
		case TOY_RCU:
			toy_yield(FL_OP_RCU_LOCK, FL_EXCL, fn, "rcu_read_lock", NULL);
			break;
		case TOY_RCU_UNLOCK:
			toy_yield(FL_OP_RCU_UNLOCK, FL_EXCL, fn, "rcu_read_unlock", NULL);
			break;
		default:
			toy_ext_action(toy, fn, a, &m);
			break;
		}
	}
}

/* the index range of each action's first argument; 0 = takes none */
static int toy_idx_limit(int code)
{
	switch (code) {
	case TOY_LOCK:
	case TOY_UNLOCK:
	case TOY_TRYLOCK:
	case TOY_SPIN:
	case TOY_SPIN_UNLOCK:
		return TOY_LOCKS;
	case TOY_DOWN_READ:
	case TOY_UP_READ:
	case TOY_DOWN_WRITE:
	case TOY_UP_WRITE:
		return TOY_SEMS;
	case TOY_READ:
	case TOY_WRITE:
	case TOY_INC:
	case TOY_PTE_MAP:
	case TOY_PTE_UNMAP:
	case TOY_PEEK:
		return TOY_VARS;
	case TOY_WAIT:
	case TOY_LOCK_NESTED:
	case TOY_SPIN_NESTED:
		return TOY_LOCKS;
	case TOY_DOWN_READ_TRYLOCK:
	case TOY_DOWN_WRITE_TRYLOCK:
		return TOY_SEMS;
	default:
		return 0;
	}
}


/* One encoded action (code, a1, a2), action @k of @who: 0 if well formed. */
static int toy_check_action(const long long *a, const char *who, size_t k, char *err,
			    size_t errlen)
{
	long long code = a[0], idx = a[1];
	int lim;

	if (code < 0 || code >= TOY_NR_CODES) {
		fl_format_err(err, errlen, "%s action %zu: bad action code %lld", who, k, code);
		return -1;
	}
	lim = toy_idx_limit((int)code);
	if (lim ? (idx < 0 || idx >= lim) : idx != 0) {
		fl_format_err(err, errlen, "%s action %zu: index %lld out of range", who, k, idx);
		return -1;
	}
	if (code != TOY_WRITE && a[2] != 0) {
		fl_format_err(err, errlen, "%s action %zu: unexpected value %lld", who, k, a[2]);
		return -1;
	}
	return 0;
}

static int toy_init_world(struct fl_toy *toy)
{
	struct fl_sched *s = &toy->s;
	int i;

	for (i = 0; i < TOY_LOCKS; i++) {
		fl_lock_init(&toy->locks[i], toy_lock_names[i],
			     fl_sched_class(s, toy_lock_names[i]), FL_MUTEX);
		fl_lock_init(&toy->spins[i], toy_spin_names[i],
			     fl_sched_class(s, toy_spin_names[i]), FL_SPINLOCK);
	}
	for (i = 0; i < TOY_SEMS; i++)
		fl_lock_init(&toy->sems[i], toy_sem_names[i], fl_sched_class(s, toy_sem_names[i]),
			     FL_RWSEM);
	return 0;
}

/*
 * fl_toy_new - parse a toy program.  Returns NULL with a one-line message in
 * @err if @prog is malformed (or memory runs out); never crashes.
 */
struct fl_toy *fl_toy_new(const long long *prog, size_t len, char *err, size_t errlen)
{
	struct fl_toy *toy;
	size_t pos = 2, total = 0, i, k;
	long long nthreads;

	if (err && errlen)
		err[0] = '\0';
	if (!prog || len < 1) {
		fl_format_err(err, errlen, "empty program encoding");
		return NULL;
	}
	nthreads = prog[0];
	if (nthreads < 0 || nthreads > FL_MAX_THREADS) {
		fl_format_err(err, errlen, "%lld threads: the C scheduler runs 0 to %d", nthreads,
			FL_MAX_THREADS);
		return NULL;
	}
	if (len < 2 || prog[1] < 0 || prog[1] > TOY_CHECKS) {
		fl_format_err(err, errlen, "bad or missing flags");
		return NULL;
	}
	/* first pass: validate and count; list 0 is the setup, list i + 1 thread i */
	for (i = 0; i <= (size_t)nthreads; i++) {
		char who[32];
		long long n;

		if (i)
			snprintf(who, sizeof(who), "thread %zu", i - 1);
		else
			snprintf(who, sizeof(who), "setup");
		if (pos >= len) {
			fl_format_err(err, errlen, "%s: no action count", who);
			return NULL;
		}
		n = prog[pos++];
		if (n < 0 || (unsigned long long)n > (len - pos) / 3) {
			fl_format_err(err, errlen, "%s: %lld actions do not fit", who, n);
			return NULL;
		}
		for (k = 0; k < (size_t)n; k++, pos += 3)
			if (toy_check_action(&prog[pos], who, k, err, errlen))
				return NULL;
		total += (size_t)n;
	}
	if (pos != len) {
		fl_format_err(err, errlen, "%zu trailing integers after the last thread", len - pos);
		return NULL;
	}
	toy = calloc(1, sizeof(*toy));
	if (!toy) {
		fl_format_err(err, errlen, "out of memory");
		return NULL;
	}
	toy->acts = calloc(total ? total : 1, sizeof(*toy->acts));
	if (!toy->acts) {
		free(toy);
		fl_format_err(err, errlen, "out of memory");
		return NULL;
	}
	fl_sched_init(&toy->s, FL_DEFAULT_MAX_STEPS);
	toy_init_world(toy);
	toy->nthreads = (int)nthreads;
	/* second pass: fill */
	toy->flags = prog[1];
	pos = 2;
	total = 0;
	for (i = 0; i <= (size_t)nthreads; i++) {
		struct toy_thread *tt = i ? &toy->th[i - 1] : &toy->setup;
		size_t n = (size_t)prog[pos++];

		tt->toy = toy;
		if (i) {
			snprintf(tt->fn, sizeof(tt->fn), "t%zu", i - 1);
			snprintf(tt->name, sizeof(tt->name), "toy%zu", i - 1);
		} else {
			snprintf(tt->fn, sizeof(tt->fn), "t-1");
			snprintf(tt->name, sizeof(tt->name), "setup");
		}
		tt->acts = &toy->acts[total];
		tt->n = n;
		for (k = 0; k < n; k++, pos += 3) {
			toy->acts[total + k].code = (int)prog[pos];
			toy->acts[total + k].idx = (int)prog[pos + 1];
			toy->acts[total + k].val = prog[pos + 2];
		}
		total += n;
	}
	return toy;
}

void fl_toy_free(struct fl_toy *toy)
{
	if (!toy)
		return;
	fl_sched_destroy(&toy->s);
	fl_fp_layout_free(&toy->fpl);
	free(toy->acts);
	free(toy);
}

static int toy_check_step(struct fl_sched *s, struct fl_thread *t, void *ctx)
{
	struct fl_toy *toy = ctx;

	if (toy->vars[2] != TOY_SENTINEL)
		return 0;
	fl_sched_violation(s, "toy.check", toy->th[t->tid].fn, "var2 is %d after a step of T%d",
			   TOY_SENTINEL, t->tid);
	return 1;
}

static int toy_check_end(struct fl_sched *s, void *ctx)
{
	struct fl_toy *toy = ctx;

	if (toy->vars[1] != TOY_SENTINEL)
		return 0;
	fl_sched_violation(s, "toy.end-check", "end", "var1 is %d at the end", TOY_SENTINEL);
	return 1;
}

/* A fresh ToyWorld and scheduler, the setup run, the threads spawned. */
static int toy_prepare(struct fl_toy *toy, int max_steps)
{
	struct fl_sched *s = &toy->s;
	int i;

	fl_sched_reset(s);
	s->max_steps = max_steps < 0 ? 0 : max_steps;
	s->check_step = toy->flags & TOY_CHECKS ? toy_check_step : NULL;
	s->check_end = toy->flags & TOY_CHECKS ? toy_check_end : NULL;
	s->check_ctx = toy;
	for (i = 0; i < TOY_LOCKS; i++) {
		fl_lock_reset(&toy->locks[i]);
		fl_lock_reset(&toy->spins[i]);
	}
	for (i = 0; i < TOY_SEMS; i++)
		fl_lock_reset(&toy->sems[i]);
	memset(toy->vars, 0, sizeof(toy->vars));
	if (toy->setup.n && fl_sched_run_solo(s, toy->setup.name, toy_body, &toy->setup))
		return -1;
	for (i = 0; i < toy->nthreads; i++)
		if (fl_sched_spawn(s, toy->th[i].name, toy_body, &toy->th[i]) < 0)
			return -1;
	return 0;
}

static int toy_run(struct fl_toy *toy, const struct fl_chooser *ch, int max_steps,
		   struct fl_result *res)
{
	/* if the setup or a spawn failed the run is stopped: fl_sched_run() keeps its outcome */
	toy_prepare(toy, max_steps);
	fl_sched_run(&toy->s, ch);
	fl_sched_result(&toy->s, res);
	return res->outcome == FL_ERROR ? -1 : 0;
}

/*
 * fl_toy_run - run @toy once, replaying @decisions (0 once exhausted).
 * The arrays in @res stay valid until the next run or fl_toy_free().
 * Returns 0, or -1 for an internal error (res->message says why).
 */
int fl_toy_run(struct fl_toy *toy, const long long *decisions, size_t n, int max_steps,
	       struct fl_result *res)
{
	struct fl_chooser ch;
	struct fl_replay r;
	size_t i;

	if (!toy || !res)
		return -1;
	for (i = 0; decisions && i < n; i++) {
		if (decisions[i] < 0) {
			memset(res, 0, sizeof(*res));
			res->outcome = FL_ERROR;
			res->outcome_id = "error";
			res->message = "negative decision";
			res->violation_step = -1;
			res->violation_thread = -1;
			res->violation_fn = "";
			return -1;
		}
	}
	fl_replay_init(&ch, &r, decisions, n);
	return toy_run(toy, &ch, max_steps, res);
}

/* fl_toy_run_cb - run @toy once with decisions from a callback (choosers.Chooser). */
int fl_toy_run_cb(struct fl_toy *toy, long long (*choose)(void *, const int *, int, int),
		  void *ctx, int max_steps, struct fl_result *res)
{
	struct fl_chooser ch = { .choose = choose, .ctx = ctx };

	if (!toy || !res || !choose)
		return -1;
	return toy_run(toy, &ch, max_steps, res);
}

/*
 * fl_toy_bench - run @toy @runs times with seeded random choosers (seed,
 * seed + 1, ...), no trace text.  Returns the total number of steps, or -1.
 */
long long fl_toy_bench(struct fl_toy *toy, long long runs, unsigned long long seed,
		       int max_steps)
{
	long long total = 0, i;

	if (!toy)
		return -1;
	for (i = 0; i < runs; i++) {
		struct fl_chooser ch;
		struct fl_random r;

		fl_random_init(&ch, &r, seed + (unsigned long long)i, 1.0);
		if (toy_prepare(toy, max_steps) && toy->s.outcome == FL_ERROR)
			return -1;
		fl_sched_run(&toy->s, &ch);	/* after a setup violation: keeps it */
		if (toy->s.outcome == FL_ERROR)
			return -1;
		total += toy->s.step;
	}
	return total;
}

/*
 * fl_toy_run_pct - run @toy once with choosers.PCTChooser(seed, n_threads,
 * depth, k) (seed_abs = |seed|).  Returns -1 for bad PCT parameters or an
 * internal error.
 */
int fl_toy_run_pct(struct fl_toy *toy, unsigned long long seed_abs, int depth, int k,
		   int max_steps, struct fl_result *res)
{
	struct fl_chooser ch;
	struct fl_pct p;

	if (!toy || !res || toy->nthreads < 1 ||
	    fl_pct_init(&ch, &p, seed_abs, toy->nthreads, depth, k))
		return -1;
	return toy_run(toy, &ch, max_steps, res);
}

/* The toy's shared variables after the last run: copies min(n, 3) of them, returns 3. */
int fl_toy_vars(struct fl_toy *toy, long long *out, int n)
{
	int i;

	for (i = 0; toy && out && i < n && i < TOY_VARS; i++)
		out[i] = toy->vars[i];
	return TOY_VARS;
}

#ifdef FL_FOOTPRINT
/*
 * Footprints of toy runs (footprint.h): the region is the toy's locks and
 * variables, each lock one cell and each variable one cell.  The recorder belongs to @toy; free it with fl_fp_free().
 */
struct fl_fp *fl_toy_fp_new(struct fl_toy *toy)
{
	size_t base = offsetof(struct fl_toy, locks);
	size_t size = offsetof(struct fl_toy, vars) + sizeof(toy->vars) - base;
	struct fl_fp *fp;
	int i;

	if (!toy)
		return NULL;
	if (!toy->fpl.canon) {
		if (fl_fp_layout_init(&toy->fpl, size))
			return NULL;
		for (i = 0; i < TOY_LOCKS; i++) {
			fl_fp_layout_lock(&toy->fpl, offsetof(struct fl_toy, locks) - base +
					  (size_t)i * sizeof(struct fl_lock));
			fl_fp_layout_lock(&toy->fpl, offsetof(struct fl_toy, spins) - base +
					  (size_t)i * sizeof(struct fl_lock));
		}
		for (i = 0; i < TOY_SEMS; i++)
			fl_fp_layout_lock(&toy->fpl, offsetof(struct fl_toy, sems) - base +
					  (size_t)i * sizeof(struct fl_lock));
		for (i = 0; i < TOY_VARS; i++)
			fl_fp_layout_merge(&toy->fpl, offsetof(struct fl_toy, vars) - base +
					   (size_t)i * sizeof(toy->vars[0]), sizeof(toy->vars[0]));
	}
	fp = fl_fp_new();
	if (fp && fl_fp_add_region(fp, toy->locks, size, &toy->fpl, FL_FP_TAG_TOY)) {
		fl_fp_free(fp);
		fp = NULL;
	}
	return fp;
}

/*
 * fl_toy_footprints - one run of @toy recording every step's footprint into
 * @fp (from fl_toy_fp_new(@toy)); decisions from @choose if it is not NULL,
 * else replayed from @decisions.  Returns 0, or -1 (misuse, internal error or
 * out of memory: res->message says why).
 */
int fl_toy_footprints(struct fl_toy *toy, struct fl_fp *fp, const long long *decisions,
		      size_t n, long long (*choose)(void *, const int *, int, int), void *ctx,
		      int max_steps, struct fl_result *res, struct fl_fp_result *fpres)
{
	struct fl_chooser ch = { .choose = choose, .ctx = ctx };
	struct fl_replay r;
	size_t i;
	int rc;

	if (!toy || !fp || !res || !fpres || fp->nreg != 1 ||
	    fp->reg[0].base != (uintptr_t)toy->locks)
		return -1;
	memset(fpres, 0, sizeof(*fpres));
	for (i = 0; !choose && decisions && i < n; i++)
		if (decisions[i] < 0)
			return -1;
	if (!choose)
		fl_replay_init(&ch, &r, decisions, n);
	fl_fp_reset(fp);
	toy->s.fp = fp;
	rc = toy_run(toy, &ch, max_steps, res);
	toy->s.fp = NULL;
	fl_fp_pause(fp);
	if (fp->oom) {
		res->outcome = FL_ERROR;
		res->outcome_id = "error";
		res->message = "out of memory (footprints)";
		return -1;
	}
	fl_fp_result(fp, fpres);
	return rc;
}
#endif /* FL_FOOTPRINT */
