// SPDX-License-Identifier: GPL-2.0-only
/*
 * Kernel primitives as scheduling points (fuzzlock/model/prim.py).  Memory
 * ops run their effect in a thunk, on the step that executes them, so values
 * and the scheduler clock match the Python model.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

static _Thread_local struct fl_world *fl_world_tls;

struct fl_world *fl_cur_world(void)
{
	return fl_world_tls;
}

void fl_set_cur_world(struct fl_world *w)
{
	fl_world_tls = w;
}

struct fl_value fl_yield_lock(enum fl_op_kind kind, enum fl_mode mode, int subclass,
			      const char *fn, const char *label, struct fl_lock *lk)
{
	struct fl_op op = {
		.kind = kind, .mode = mode, .subclass = subclass, .fn = fn, .label = label,
		.obj = lk->name, .lock = lk,
	};

	return fl_yield_op(&op);
}

struct fl_value fl_yield_mem(const char *fn, const char *label, const char *obj,
			     fl_thunk_fn thunk, void *arg)
{
	struct fl_op op = {
		.kind = FL_OP_MEM, .mode = FL_EXCL, .fn = fn, .label = label, .obj = obj,
		.thunk = thunk, .thunk_arg = arg,
	};

	return fl_yield_op(&op);
}

void fl_rcu_read_lock(const char *fn)
{
	struct fl_op op = { .kind = FL_OP_RCU_LOCK, .fn = fn, .label = "rcu_read_lock",
			    .obj = "rcu" };

	fl_yield_op(&op);
}

void fl_rcu_read_unlock(const char *fn)
{
	struct fl_op op = { .kind = FL_OP_RCU_UNLOCK, .fn = fn, .label = "rcu_read_unlock",
			    .obj = "rcu" };

	fl_yield_op(&op);
}

void fl_might_sleep(const char *fn, const char *obj)
{
	struct fl_op op = { .kind = FL_OP_MIGHT_SLEEP, .fn = fn, .label = "might_sleep",
			    .obj = obj };

	fl_yield_op(&op);
}

const char *fl_errname(struct fl_world *w, long long rc)
{
	char buf[32];
	const char *s;

	switch (rc) {
	case -ENOENT: return "ENOENT";
	case -ESRCH: return "ESRCH";
	case -EINTR: return "EINTR";
	case -EFAULT: return "EFAULT";
	case -EAGAIN: return "EAGAIN";
	case -ENOMEM: return "ENOMEM";
	case -EBUSY: return "EBUSY";
	case -EEXIST: return "EEXIST";
	case -EINVAL: return "EINVAL";
	case -EPERM: return "EPERM";
	default: break;
	}
	snprintf(buf, sizeof(buf), "%lld", rc);
	s = fl_sched_strdup(w->s, buf);
	return s ? s : "?";
}

/* --- folio references ------------------------------------------------------ */

void fl_ref(struct fl_world *w, struct fl_folio *f, int delta)
{
	int me = fl_me(w);

	if (me >= 0)
		w->refs[me][f->id] += delta;
}

struct fl_folio_arg {
	struct fl_world *w;
	const char *fn;
	struct fl_folio *f;
	bool owned;
};

static struct fl_value folio_get_thunk(void *arg)
{
	struct fl_folio_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	if (a->f->freed) {
		fl_sched_violation(a->w->s, FL_INV_FOLIO_REFCOUNT, a->fn, "folio_get on freed %s",
				   a->f->name);
		return v;
	}
	a->f->refcount++;
	fl_ref(a->w, a->f, +1);
	v.i = a->f->refcount;
	return v;
}

int folio_get(struct fl_world *w, const char *fn, struct fl_folio *f)
{
	struct fl_folio_arg a = { w, fn, f, true };

	return (int)fl_yield_mem(fn, "atomic", f->n_refcount, folio_get_thunk, &a).i;
}

/*
 * free_folio: the last reference is gone.  A folio still mapped or cached
 * cannot be freed.  From a thunk: nonzero after a violation.
 */
int free_folio(struct fl_world *w, const char *fn, struct fl_folio *f)
{
	if (f->mapcount > 0 || f->swap) {
		fl_viol_objects(w, f->name, NULL);
		fl_sched_violation(w->s, FL_INV_FOLIO_REFCOUNT, fn, "%s freed with mapcount %d%s",
				   f->name, f->mapcount, f->swap ? " in swap cache" : "");
		return -1;
	}
	f->freed = true;
	f->lru = false;
	return 0;
}

/* free_folio from a thread body: a violation ends the run there */
void free_folio_body(struct fl_world *w, const char *fn, struct fl_folio *f)
{
	if (f->mapcount > 0 || f->swap) {
		fl_viol_objects(w, f->name, NULL);
		fl_thread_violation(FL_INV_FOLIO_REFCOUNT, fn, "%s freed with mapcount %d%s", f->name,
				    f->mapcount, f->swap ? " in swap cache" : "");
	}
	f->freed = true;
	f->lru = false;
}

static struct fl_value folio_put_thunk(void *arg)
{
	struct fl_folio_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	if (a->f->refcount <= 0 || a->f->freed) {
		fl_sched_violation(a->w->s, FL_INV_FOLIO_REFCOUNT, a->fn, "folio_put underflow on %s",
				   a->f->name);
		return v;
	}
	a->f->refcount--;
	if (a->owned)
		fl_ref(a->w, a->f, -1);
	if (a->f->refcount == 0 && free_folio(a->w, a->fn, a->f))
		return v;
	v.i = a->f->refcount;
	return v;
}

int folio_put(struct fl_world *w, const char *fn, struct fl_folio *f, bool owned)
{
	struct fl_folio_arg a = { w, fn, f, owned };

	return (int)fl_yield_mem(fn, "atomic", f->n_refcount, folio_put_thunk, &a).i;
}

static struct fl_value folio_mapped_thunk(void *arg)
{
	struct fl_folio_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = a->f->mapcount > 0 };

	return v;
}

bool folio_mapped(struct fl_world *w, const char *fn, struct fl_folio *f)
{
	struct fl_folio_arg a = { w, fn, f, false };

	return fl_yield_mem(fn, "read", f->n_mapcount, folio_mapped_thunk, &a).i != 0;
}

static struct fl_value folio_pinned_thunk(void *arg)
{
	struct fl_folio_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = a->f->pincount > 0 };

	return v;
}

bool folio_maybe_dma_pinned(struct fl_world *w, const char *fn, struct fl_folio *f)
{
	struct fl_folio_arg a = { w, fn, f, false };

	return fl_yield_mem(fn, "read", f->n_pincount, folio_pinned_thunk, &a).i != 0;
}

/* --- page tables ------------------------------------------------------------ */

struct fl_pte_arg {
	struct fl_world *w;
	struct fl_mm *mm;
	long long addr;
	struct fl_pte pte;
};

static struct fl_value pte_read_thunk(void *arg)
{
	struct fl_pte_arg *a = arg;

	a->pte = fl_pte_get(a->w, a->mm, a->addr);
	return fl_pte_value(a->w, &a->pte);
}

/* ptep_get: a lock-free PTE read outside the PTL */
struct fl_pte ptep_get(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr)
{
	struct fl_pte_arg a = { .w = w, .mm = mm, .addr = addr };

	fl_yield_mem(fn, "read", fl_pte_name(w, mm, addr), pte_read_thunk, &a);
	return a.pte;
}

/* pte_offset_map: map the PTE page (RCU section, no sleeping), read the PTE lock-free */
struct fl_pte pte_offset_map(struct fl_world *w, const char *fn, struct fl_mm *mm,
			     long long addr)
{
	struct fl_pte_arg a = { .w = w, .mm = mm, .addr = addr };
	struct fl_op op = {
		.kind = FL_OP_PTE_MAP, .fn = fn, .label = "pte_map",
		.obj = fl_pte_name(w, mm, addr), .thunk = pte_read_thunk, .thunk_arg = &a,
	};

	fl_yield_op(&op);
	return a.pte;
}

void pte_unmap(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr)
{
	struct fl_op op = {
		.kind = FL_OP_PTE_UNMAP, .fn = fn, .label = "pte_unmap",
		.obj = fl_pte_name(w, mm, addr),
	};

	fl_yield_op(&op);
}

struct fl_pte pte_offset_map_lock(struct fl_world *w, const char *fn, struct fl_mm *mm,
				  long long addr)
{
	pte_offset_map(w, fn, mm, addr);
	fl_lock_op(fn, fl_ptl(w, mm, addr), 0);
	return fl_pte_get(w, mm, addr);
}

void pte_unmap_unlock(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr)
{
	fl_unlock_op(fn, fl_ptl(w, mm, addr));
	pte_unmap(w, fn, mm, addr);
}

/* mm/userfaultfd.c double_pt_lock: ordered by name, the second nested */
void double_pt_lock(const char *fn, struct fl_lock *ptl1, struct fl_lock *ptl2)
{
	struct fl_lock *a = ptl1, *b = ptl2;

	if (ptl1 == ptl2) {
		fl_lock_op(fn, ptl1, 0);
		return;
	}
	if (strcmp(a->name, b->name) > 0) {
		a = ptl2;
		b = ptl1;
	}
	fl_lock_op(fn, a, 0);
	fl_lock_op(fn, b, 1);
}

void double_pt_unlock(const char *fn, struct fl_lock *ptl1, struct fl_lock *ptl2)
{
	fl_unlock_op(fn, ptl1);
	if (ptl2 != ptl1)
		fl_unlock_op(fn, ptl2);
}

/*
 * up_read(&anon_vma->root->rwsem) reads anon_vma->root and writes the root's
 * rwsem; up_read(&root_anon_vma->rwsem) only the latter.
 */
struct fl_value anon_vma_unlock_check(void *arg)
{
	struct fl_unlock_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };
	int mem = a->av;

	if (!a->root_only) {
		mem = fl_av_deref_thunk(a->w, a->av, a->fn, "root");
		if (mem < 0)
			return v;
		mem = a->w->avs[mem].root;
	}
	fl_av_deref_thunk(a->w, mem, a->fn, "rwsem");
	return v;
}

/*
 * anon_vma_unlock_read (v6.18/v6.19): up_read(&anon_vma->root->rwsem).  Both
 * must be there (live, or freed inside this thread's RCU section) when the
 * step executes: a walker holding the rwsem but no reference can see the
 * anon_vma freed under it (R5) between its previous step and this one.
 */
void anon_vma_unlock_read(struct fl_world *w, const char *fn, int av)
{
	struct fl_unlock_arg a = { .w = w, .fn = fn, .av = av };

	fl_up_read_check(fn, fl_av_root_lock(w, av), anon_vma_unlock_check, &a);
}
