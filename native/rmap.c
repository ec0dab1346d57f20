// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/rmap.c (fuzzlock/model/rmap.py): the anon_vma life cycle and the folio
 * rmap updates of the slice (no fork, no rmap walks).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/* --- the typesafe pool (fuzzlock/sched/rcu.py) ------------------------------ */

/* TypesafePool.free, in a thunk: nonzero after a violation */
static int fl_av_free(struct fl_world *w, int av, const char *fn)
{
	struct fl_anon_vma *a = &w->avs[av];
	struct fl_av_slot *sl = &w->slots[a->slot];

	if (!sl->live || sl->gen != a->gen) {
		fl_sched_violation(w->s, "uaf", fn, "double free of anon_vma:%d gen %d", a->slot,
				   a->gen);
		return -1;
	}
	sl->live = false;
	a->free_clock = w->s->clock;
	return 0;
}

/* TypesafePool.deref from a thread body: the object the memory holds now, or uaf */
int fl_av_deref(struct fl_world *w, int av, const char *fn, const char *field)
{
	struct fl_anon_vma *a = &w->avs[av];
	struct fl_av_slot *sl = &w->slots[a->slot];
	struct fl_thread *t = w->s->current;

	if (sl->gen == a->gen && sl->live)
		return av;
	if (a->free_clock >= 0 && t && t->rcu_since >= 0 && t->rcu_since < a->free_clock)
		return sl->obj;
	fl_thread_violation("uaf", fn,
			    "anon_vma:%d%s%s touched after it was freed (gen %d, slot now gen "
			    "%d%s) outside an RCU section that covers the free",
			    a->slot, field[0] ? "." : "", field, a->gen, sl->gen,
			    sl->live ? " live" : " free");
}

/* --- anon_vma life cycle ------------------------------------------------------ */

static int anon_vma_alloc(struct fl_world *w, const char *fn)
{
	int av;

	fl_might_sleep(fn, "anon_vma");
	av = fl_alloc_anon_vma(w);
	if (av < 0)
		fl_thread_violation("error", fn, "capacity");
	return av;
}

struct fl_av_arg {
	struct fl_world *w;
	const char *fn;
	int av;
	struct fl_folio *folio;
	struct fl_vma *vma;
	long long index;
};

static struct fl_value av_dec_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	v.i = --a->w->avs[a->av].refcount;
	return v;
}

static struct fl_value av_locked_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	const struct fl_lock *lk = fl_av_root_lock(a->w, a->av);
	struct fl_value v = { .kind = FL_VAL_BOOL };

	v.i = !(lk->writer < 0 && !lk->readers);
	return v;
}

static struct fl_value av_free_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };

	fl_av_free(a->w, a->av, a->fn);
	return v;
}

/* anon_vma_free (v6.18/v6.19): the free handshake, then free to the slab */
static void anon_vma_free(struct fl_world *w, int av)
{
	static const char fn[] = "anon_vma_free";
	struct fl_av_arg a = { .w = w, .fn = fn, .av = av };

	fl_might_sleep(fn, w->slots[w->avs[av].slot].name);
	if (w->knob[K_FREE_HANDSHAKE]) {
		int root = w->avs[av].root;

		if (fl_yield_mem(fn, "read", w->slots[w->avs[root].slot].n_rwsem,
				 av_locked_thunk, &a).i) {
			anon_vma_lock_write(w, fn, av);
			anon_vma_unlock_write(w, fn, av);
		}
	}
	fl_yield_mem(fn, "write", w->slots[w->avs[av].slot].name, av_free_thunk, &a);
}

static void __put_anon_vma(struct fl_world *w, int av)
{
	static const char fn[] = "__put_anon_vma";
	int root = w->avs[av].root;

	anon_vma_free(w, av);
	if (root != av) {
		struct fl_av_arg a = { .w = w, .fn = fn, .av = root };

		if (fl_yield_mem(fn, "atomic", w->avs[root].n_refcount, av_dec_thunk, &a).i == 0)
			anon_vma_free(w, root);
	}
}

/* put_anon_vma (v6.18/v6.19): drop a reference; the last one frees */
void put_anon_vma(struct fl_world *w, const char *fn, int av)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = av };

	if (fl_yield_mem(fn, "atomic", w->avs[av].n_refcount, av_dec_thunk, &a).i == 0)
		__put_anon_vma(w, av);
}

static void anon_vma_chain_link(struct fl_world *w, struct fl_vma *vma, int av)
{
	struct fl_anon_vma *a = &w->avs[av];

	if (vma->nchain == FL_MAX_CHAIN || a->ntree == FL_MAX_VMAS)
		fl_world_full(w, "anon_vma chains");
	vma->chain[vma->nchain++] = av;
	a->tree[a->ntree++] = vma->id;
}

/* __anon_vma_prepare (v6.18/v6.19); find_mergeable_anon_vma is not modelled */
static int __anon_vma_prepare(struct fl_world *w, struct fl_vma *vma)
{
	static const char fn[] = "__anon_vma_prepare";
	struct fl_mm *mm = &w->mms[vma->mm];
	int av = anon_vma_alloc(w, fn);
	int allocated = av;

	anon_vma_lock_write(w, fn, av);
	fl_lock_op(fn, &mm->page_table_lock, 0);
	if (vma->anon_vma < 0) {
		vma->anon_vma = av;
		anon_vma_chain_link(w, vma, av);
		w->avs[av].num_active_vmas++;
		allocated = -1;
	}
	fl_unlock_op(fn, &mm->page_table_lock);
	anon_vma_unlock_write(w, fn, av);
	if (allocated >= 0)
		put_anon_vma(w, fn, allocated);
	return 0;
}

int anon_vma_prepare(struct fl_world *w, struct fl_vma *vma)
{
	if (vma->anon_vma >= 0)
		return 0;
	return __anon_vma_prepare(w, vma);
}

/* --- folio_get_anon_vma -------------------------------------------------------- */

bool fl_inc_not_zero(struct fl_world *w, int av)
{
	if (w->avs[av].refcount == 0)
		return false;
	w->avs[av].refcount++;
	return true;
}

struct fl_mapping_arg {
	struct fl_world *w;
	struct fl_folio *folio;
	int mapping;
};

static struct fl_value mapping_read_thunk(void *arg)
{
	struct fl_mapping_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };

	a->mapping = a->folio->mapping;
	if (a->mapping >= 0) {
		v.kind = FL_VAL_STR;
		v.s = a->w->avs[a->mapping].repr;
	}
	return v;
}

static struct fl_value inc_not_zero_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL };

	v.i = fl_inc_not_zero(a->w, a->av);
	return v;
}

/* READ_ONCE(folio->mapping): the anon_vma object or -1 */
int fl_read_mapping(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_mapping_arg a = { w, folio, -1 };

	fl_yield_mem(fn, "read", folio->n_mapping, mapping_read_thunk, &a);
	return a.mapping;
}

/* atomic_inc_not_zero(&av->refcount) on the object @deref reached through @mapping */
bool fl_av_inc_not_zero_op(struct fl_world *w, const char *fn, int mapping, int target)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = target };

	return fl_yield_mem(fn, "atomic", w->avs[mapping].n_refcount, inc_not_zero_thunk, &a).i;
}

/* folio_get_anon_vma (v6.18; asserted under the folio lock in v6.19) */
int folio_get_anon_vma(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "folio_get_anon_vma";
	int mapping, av;

	if (w->knob[K_WALKS_HOLD_FOLIO_LOCK] && folio->lock.owner != fl_me(w))
		fl_thread_violation("lock.walk-discipline", fn,
				    "%s on %s without the folio lock (VM_BUG_ON_FOLIO)", fn,
				    folio->name);
	fl_rcu_read_lock(fn);
	mapping = fl_read_mapping(w, fn, folio);
	if (mapping < 0) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	if (!folio_mapped(w, fn, folio)) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	av = fl_av_deref(w, mapping, fn, "refcount");
	if (!fl_av_inc_not_zero_op(w, fn, mapping, av)) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	if (!folio_mapped(w, fn, folio)) {
		fl_rcu_read_unlock(fn);
		put_anon_vma(w, fn, mapping);
		return -1;
	}
	fl_rcu_read_unlock(fn);
	return mapping;
}

/* --- folio rmap updates ---------------------------------------------------------- */

/* I8, in a thunk: nonzero after a violation */
static int check_mapping_store(struct fl_world *w, const char *fn, struct fl_folio *folio,
			       int new)
{
	int me = fl_me(w), old;

	if (folio->mapcount <= 0)
		return 0;
	if (folio->lock.owner != me) {
		fl_sched_violation(w->s, "lock.write-discipline", fn,
				   "%s.mapping stored without the folio lock", folio->name);
		return -1;
	}
	old = folio->mapping;
	if (w->knob[K_MOVE_ANON_VMA_LOCK] && old >= 0 && fl_av_is_live(w, old) &&
	    w->avs[old].root != w->avs[new].root && fl_av_root_lock(w, old)->writer != me) {
		fl_sched_violation(w->s, "lock.write-discipline", fn,
				   "%s.mapping moved from root %s to %s without the old root's "
				   "rwsem held for write", folio->name,
				   w->slots[w->avs[w->avs[old].root].slot].name,
				   w->slots[w->avs[w->avs[new].root].slot].name);
		return -1;
	}
	return 0;
}

static struct fl_value mapping_store_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_STR };

	if (check_mapping_store(a->w, a->fn, a->folio, a->av))
		return v;
	a->folio->mapping = a->av;
	v.s = a->w->avs[a->av].repr;
	return v;
}

/* folio_move_anon_rmap (v6.18/v6.19): WRITE_ONCE(folio->mapping, vma->anon_vma) */
void folio_move_anon_rmap(struct fl_world *w, const char *fn, struct fl_folio *folio,
			  struct fl_vma *vma)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = vma->anon_vma, .folio = folio };

	fl_yield_mem(fn, "write", folio->n_mapping, mapping_store_thunk, &a);
}

static struct fl_value index_store_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	if (a->folio->mapcount > 0 && a->folio->lock.owner != fl_me(a->w)) {
		fl_sched_violation(a->w->s, "lock.write-discipline", a->fn,
				   "%s.index stored without the folio lock", a->folio->name);
		return v;
	}
	a->folio->index = a->index;
	v.i = a->index;
	return v;
}

void set_folio_index(struct fl_world *w, const char *fn, struct fl_folio *folio,
		     long long index)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .folio = folio, .index = index };

	fl_yield_mem(fn, "write", folio->n_index, index_store_thunk, &a);
}

void folio_add_new_anon_rmap(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive)
{
	folio->mapping = exclusive ? vma->anon_vma : w->avs[vma->anon_vma].root;
	folio->index = fl_linear_page_index(vma, addr);
	folio->mapcount = 1;
	folio->pae = exclusive;
}

void folio_remove_rmap_pte(struct fl_folio *folio)
{
	folio->mapcount--;
}
