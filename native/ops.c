// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scheduling-point operations (fuzzlock/sched/ops.py): a thread body yields an
 * op to the scheduler; the op is checked, and its footprint cells named.
 */
#include <stdint.h>

#include "footprint.h"
#include "sched_int.h"

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
void fl_fp_op(const struct fl_op *op)
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
