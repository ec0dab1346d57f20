// SPDX-License-Identifier: GPL-2.0-only
/*
 * The deterministic scheduler of the C port.  Every function here mirrors the
 * method of fuzzlock/sched/scheduler.py with the same name (fl_advance is
 * Scheduler._advance, fl_execute is _execute, ...); keep them in step: the
 * differential test (tests/native/test_sched_differential.py) compares the two
 * event for event.  The threads are coroutines (fiber.c).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "footprint.h"
#include "sched_int.h"

_Thread_local struct fl_sched *fl_tls_sched;
static int fl_flip_rule;

static const struct fl_value fl_violating = { .kind = FL_VAL_STR, .s = "!" };

void fl_fp_op(const struct fl_op *op) FL_HIDDEN;	/* ops.c */

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
	fl_sched_violation(s, FL_INV_THREAD_END, "thread exit", "%s", buf);
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
				fl_sched_violation(s, FL_INV_SLEEP_IN_ATOMIC, op->fn,
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
		fl_sched_violation(s, FL_INV_UNLOCK_NOT_HELD, op->fn,
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
			fl_sched_violation(s, FL_INV_UNLOCK_NOT_HELD, op->fn,
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
