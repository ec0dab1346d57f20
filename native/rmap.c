// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/rmap.c (fuzzlock/model/rmap.py): the folio rmap updates of the slice and
 * the anon rmap walk (folio_lock_anon_vma_read, rmap_walk_anon,
 * folio_referenced, try_to_unmap).  The anon_vma life cycle is in anon_vma.c,
 * the walk.complete ground truth in walkrecord.c.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

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

	assert_walk_folio_locked(w, fn, folio);
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

	if (!(folio->mapcount > 0 || folio->swap))
		return 0;
	if (folio->lock.owner != me) {
		fl_sched_violation(w->s, FL_INV_LOCK_WRITE_DISCIPLINE, fn,
				   "%s.mapping stored without the folio lock", folio->name);
		return -1;
	}
	old = folio->mapping;
	/* the pre-patch root rule protects unlocked walkers, which only trust a mapped folio */
	if (w->knob[K_MOVE_ANON_VMA_LOCK] && folio->mapcount > 0 && old >= 0 &&
	    fl_av_is_live(w, old) &&
	    w->avs[old].root != w->avs[new].root && fl_av_root_lock(w, old)->writer != me) {
		fl_sched_violation(w->s, FL_INV_LOCK_WRITE_DISCIPLINE, fn,
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

	if ((a->folio->mapcount > 0 || a->folio->swap) && a->folio->lock.owner != fl_me(a->w)) {
		fl_sched_violation(a->w->s, FL_INV_LOCK_WRITE_DISCIPLINE, a->fn,
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

/*
 * folio_add_new_anon_rmap -> __folio_set_anon (v6.18/v6.19) on a folio not yet
 * visible to rmap: a folio not exclusive to this vma gets the oldest anon_vma,
 * the root.  Part of the caller's PTL critical section.
 */
void folio_add_new_anon_rmap(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive)
{
	if (vma->anon_vma < 0)
		fl_thread_violation("error", "folio_add_new_anon_rmap",
				    "%s has no anon_vma (assert in the Python model)", vma->name);
	folio->mapping = exclusive ? vma->anon_vma : w->avs[vma->anon_vma].root;
	folio->index = fl_linear_page_index(vma, addr);
	folio->mapcount = 1;
	folio->pae = exclusive;
}

/*
 * folio_add_anon_rmap_pte (v6.18/v6.19): map an existing anon folio again
 * (swap-in); __page_check_anon_rmap BUGs if the folio's rmap does not cover
 * (vma, addr) (I12).
 */
void folio_add_anon_rmap_pte(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive)
{
	static const char fn[] = "folio_add_anon_rmap_pte";
	int av = folio->mapping;

	if (av < 0 || !fl_av_is_live(w, av) || vma->anon_vma < 0 ||
	    w->avs[av].root != w->avs[vma->anon_vma].root ||
	    folio->index != fl_linear_page_index(vma, addr)) {
		fl_viol_objects(w, folio->name, vma->name, NULL);
		fl_thread_violation(FL_INV_SWAP_RMAP, fn,
				    "__page_check_anon_rmap: %s (mapping %s, index %lld) mapped at "
				    "%s:0x%llx (anon_vma %s, index %lld)", folio->name,
				    av >= 0 ? w->avs[av].repr : "None", folio->index, vma->name,
				    (unsigned long long)addr,
				    vma->anon_vma >= 0 ? w->avs[vma->anon_vma].repr : "None",
				    fl_linear_page_index(vma, addr));
	}
	folio->mapcount++;
	if (exclusive)
		folio->pae = true;
}

/*
 * folio_remove_rmap_pte (v6.18/v6.19): mapcount--; mapping stays stale, and so
 * does PageAnonExclusive (it is reset when the page is freed, not on unmap).
 */
void folio_remove_rmap_pte(struct fl_folio *folio)
{
	folio->mapcount--;
}

/* --- the rmap walk ---------------------------------------------------------------- */

/* I9's post-patch rule, as the kernel's VM_BUG_ON_FOLIO would check it */
void assert_walk_folio_locked(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	if (fl_walks_hold_folio_lock(w) && folio->lock.owner != fl_me(w)) {
		fl_viol_objects(w, folio->name, NULL);
		fl_thread_violation(FL_INV_LOCK_WALK_DISCIPLINE, fn,
				    "%s on %s without the folio lock (VM_BUG_ON_FOLIO)", fn,
				    folio->name);
	}
}

struct fl_root_arg {
	struct fl_world *w;
	int av;
	int root;
};

static struct fl_value root_read_thunk(void *arg)
{
	struct fl_root_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_STR };

	a->root = a->w->avs[a->av].root;
	v.s = a->w->avs[a->root].repr;
	return v;
}

static inline struct fl_lock *av_slot_lock(struct fl_world *w, int av)
{
	return &w->slots[w->avs[av].slot].lock;
}


/* up_read(&root_anon_vma->rwsem) of folio_lock_anon_vma_read's fast path */
static void root_up_read(struct fl_world *w, const char *fn, int root)
{
	struct fl_unlock_arg a = { .w = w, .fn = fn, .av = root, .root_only = true };

	fl_up_read_check(fn, av_slot_lock(w, root), anon_vma_unlock_check, &a);
}

/*
 * folio_lock_anon_vma_read (v6.18 with its retry and mapping rechecks; v6.19
 * without them): the anon_vma with its root read-locked, or -1.
 */
int folio_lock_anon_vma_read(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "folio_lock_anon_vma_read";
	bool recheck = w->knob[K_RECHECK_MAPPING] != 0;
	bool check_mapped = w->knob[K_CHECK_MAPPED] != 0;

	assert_walk_folio_locked(w, fn, folio);
	for (;;) {
		struct fl_root_arg ra = { .w = w };
		struct fl_av_arg da;
		int mapping, av, now;

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
		ra.av = fl_av_deref(w, mapping, fn, "root");
		fl_yield_mem(fn, "read", w->slots[w->avs[mapping].slot].n_root, root_read_thunk,
			     &ra);
		fl_av_deref(w, ra.root, fn, "rwsem");
		if (fl_down_read_trylock(fn, av_slot_lock(w, ra.root))) {
			if (recheck) {
				now = fl_read_mapping(w, fn, folio);
				if (now != mapping) {
					root_up_read(w, fn, ra.root);
					fl_rcu_read_unlock(fn);
					continue;
				}
			}
			if (check_mapped && !folio_mapped(w, fn, folio)) {
				root_up_read(w, fn, ra.root);
				fl_rcu_read_unlock(fn);
				return -1;
			}
			fl_rcu_read_unlock(fn);
			return mapping;
		}
		if (rwc && rwc->try_lock) {
			rwc->contended = true;
			fl_rcu_read_unlock(fn);
			return -1;
		}
		/* trylock failed, we got to sleep: pin the anon_vma first */
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
		fl_down_read(fn, fl_av_root_lock(w, mapping), 0);
		if (recheck) {
			now = fl_read_mapping(w, fn, folio);
			if (now != mapping) {
				anon_vma_unlock_read(w, fn, mapping);
				put_anon_vma(w, fn, mapping);
				continue;
			}
		}
		da = (struct fl_av_arg){ .w = w, .fn = fn, .av = mapping };
		if (fl_yield_mem(fn, "atomic", w->avs[mapping].n_refcount, av_dec_thunk, &da).i ==
		    0) {
			/* we held the last reference: unlock and bail */
			anon_vma_unlock_read(w, fn, mapping);
			__put_anon_vma(w, mapping);
			return -1;
		}
		return mapping;
	}
}

/* I9: the interval tree is traversed with the root rwsem held */
void check_tree_locked(struct fl_world *w, const char *fn, int av)
{
	const struct fl_lock *lk = fl_av_root_lock(w, av);
	int me = fl_me(w);

	if (!(lk->readers & (1u << me)) && lk->writer != me) {
		fl_viol_objects(w, w->slots[w->avs[av].slot].name, lk->name, NULL);
		fl_thread_violation(FL_INV_LOCK_WALK_DISCIPLINE, fn,
				    "traversing %s's interval tree without %s held",
				    w->avs[av].repr, lk->name);
	}
}

/*
 * page_vma_mapped_walk for one small folio: take the PTL and see whether the
 * PTE at @addr maps @folio.  True with the PTE in @out and the PTL held.
 */
bool rmap_one_pte(struct fl_world *w, const char *fn, struct fl_folio *folio,
		  struct fl_vma *vma, long long addr, struct fl_walkrec *rec, struct fl_pte *out)
{
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;

	if (!fl_table_find(w, mm, addr)) {	/* pmd none: nothing mapped there */
		walkrec_visit(rec, 0);
		return false;
	}
	pte = pte_offset_map_lock(w, fn, mm, addr);
	if (pte.kind == PTE_PRESENT && pte.folio == folio->id) {
		walkrec_visit(rec, pte.mid);
		*out = pte;
		return true;
	}
	/*
	 * A migration entry of this folio (a migration racing a walker without the
	 * folio lock): page_vma_mapped_walk skips it, but the walk reached that
	 * mapping at its exact address, which is what I10 asks; the restored PTE
	 * keeps the mapping id.
	 */
	if (pte.kind == PTE_MIGRATION && pte.folio == folio->id)
		walkrec_visit(rec, pte.mid);
	pte_unmap_unlock(w, fn, mm, addr);
	return false;
}

struct fl_folio_read_arg {
	struct fl_folio *f;
};

static struct fl_value index_read_thunk(void *arg)
{
	struct fl_folio_read_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->f->index };

	return v;
}

static struct fl_value mapcount_read_thunk(void *arg)
{
	struct fl_folio_read_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->f->mapcount };

	return v;
}

static long long fl_read_index(const char *fn, struct fl_folio *folio)
{
	struct fl_folio_read_arg a = { folio };

	return fl_yield_mem(fn, "read", folio->n_index, index_read_thunk, &a).i;
}

static bool vma_covers(const struct fl_vma *v, long long pgoff)
{
	return v->pgoff <= pgoff && pgoff < v->pgoff + (v->end - v->start);
}

/*
 * rmap_walk_anon_lock (v6.18/v6.19): the anon_vma the caller pinned, read-locked
 * (trylock first; try_lock callers give up).
 */
static int rmap_walk_anon_lock(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "rmap_walk_anon_lock";
	int av = fl_read_mapping(w, fn, folio), mem;

	if (av < 0)
		return -1;
	mem = fl_av_deref(w, av, fn, "root");
	if (fl_down_read_trylock(fn, fl_av_root_lock(w, mem)))
		return av;
	if (rwc->try_lock) {
		rwc->contended = true;
		return -1;
	}
	fl_down_read(fn, fl_av_root_lock(w, av), 0);
	return av;
}

/*
 * rmap_walk_anon (v6.18/v6.19): lock the anon_vma, then rmap_one on every VMA
 * of its interval tree that covers the folio's pgoff; walk.complete (I10) at
 * the end, I9 on each step of the traversal.
 */
void rmap_walk_anon(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "rmap_walk_anon";
	struct fl_walkrec *rec = &w->walks[fl_me(w)];
	int av, mem, tree[FL_MAX_VMAS], ntree, i;
	long long pgoff;

	assert_walk_folio_locked(w, fn, folio);
	if (rwc->no_anon_lock)
		av = rmap_walk_anon_lock(w, folio, rwc);
	else
		av = folio_lock_anon_vma_read(w, folio, rwc);
	if (av < 0)
		return;
	pgoff = fl_read_index(fn, folio);
	walkrec_start(w, rec, folio);
	mem = fl_av_deref(w, av, fn, "rb_root");
	ntree = w->avs[mem].ntree;
	memcpy(tree, w->avs[mem].tree, sizeof(int) * (size_t)ntree);
	for (i = 0; i < ntree; i++) {
		struct fl_vma *v = &w->vmas[tree[i]];

		check_tree_locked(w, fn, mem);
		if (!vma_covers(v, pgoff))
			continue;
		if (!rwc->rmap_one(w, folio, v, pgoff - v->pgoff + v->start, rwc, rec)) {
			rwc->stopped_early = true;
			break;
		}
		if (rwc->done_unmapped && folio->mapcount == 0) {
			rwc->stopped_early = true;
			break;
		}
	}
	if (!rwc->stopped_early)
		walkrec_check(w, rec, rwc->caller, av, pgoff, " during the whole walk");
	anon_vma_unlock_read(w, fn, av);
}

/* --- folio_referenced ------------------------------------------------------------------ */

/* folio_referenced_one (v6.18/v6.19) */
static bool folio_referenced_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
				 long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "folio_referenced_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;

	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	if (pte.young) {	/* ptep_clear_flush_young */
		pte.young = false;
		fl_set_pte(w, mm, addr, &pte);
		rwc->referenced++;
	}
	rwc->mapcount--;
	pte_unmap_unlock(w, fn, mm, addr);
	return rwc->mapcount > 0;
}

/*
 * folio_referenced (v6.18: no folio lock for anon non-KSM folios; v6.19: a
 * trylock): referenced PTEs, trylock_fail_result on a failed trylock, -1 on
 * anon_vma contention.
 */
long long folio_referenced(struct fl_world *w, struct fl_folio *folio, bool is_locked)
{
	static const char fn[] = "folio_referenced";
	struct fl_folio_read_arg ra = { folio };
	struct fl_rwc rwc = { .caller = "folio_referenced", .rmap_one = folio_referenced_one,
			      .try_lock = true };
	bool we_locked = false;
	long long mapcount;

	mapcount = fl_yield_mem(fn, "read", folio->n_mapcount, mapcount_read_thunk, &ra).i;
	if (!mapcount)
		return 0;
	if (fl_read_mapping(w, fn, folio) < 0)
		return 0;
	if (!is_locked) {
		long long mode = w->knob[K_REF_ACTIVE_LOCK];

		if (mode == FL_WALK_LOCK_TRYLOCK) {
			we_locked = folio_trylock(fn, folio);
			if (!we_locked)
				return w->knob[K_TRYLOCK_FAIL_RESULT];
		} else if (mode == FL_WALK_LOCK_LOCK) {
			folio_lock(fn, folio);
			we_locked = true;
		}
	}
	rwc.mapcount = (int)mapcount;
	rmap_walk_anon(w, folio, &rwc);
	if (we_locked)
		folio_unlock(fn, folio);
	return rwc.contended ? -1 : rwc.referenced;
}

/* --- try_to_unmap -------------------------------------------------------------------- */

/*
 * try_to_unmap_one (v6.18/v6.19) for a small anon folio in the swap cache: the
 * PTE becomes a swap entry (exclusive marker if the page was PAE); a pinned PAE
 * page cannot be shared and aborts the walk.
 */
static bool try_to_unmap_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "try_to_unmap_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte, sp;
	bool anon_exclusive;
	int entry;

	(void)rwc;
	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	entry = folio->swap;
	anon_exclusive = folio->pae;
	if (entry == 0 || (anon_exclusive && folio->pincount > 0)) {
		/* no swap entry, or folio_try_share_anon_rmap_pte() -> -EBUSY: restore, abort */
		pte_unmap_unlock(w, fn, mm, addr);
		return false;
	}
	fl_swap_set_count(w, entry, fl_swap_count(w, entry, 0) + 1);	/* swap_duplicate */
	if (anon_exclusive)
		folio->pae = false;	/* folio_try_share_anon_rmap_pte */
	memset(&sp, 0, sizeof(sp));
	sp.kind = PTE_SWAP;
	sp.folio = -1;
	sp.entry = entry;
	sp.exclusive = anon_exclusive;
	sp.soft_dirty = pte.soft_dirty;
	sp.mid = fl_mapping_id(w);
	fl_set_pte(w, mm, addr, &sp);
	if (pte.dirty)
		folio->dirty = true;
	folio_remove_rmap_pte(folio);
	folio->refcount--;	/* the mapping's reference (freed after the TLB flush) */
	pte_unmap_unlock(w, fn, mm, addr);
	return true;
}

/*
 * try_to_unmap (v6.18/v6.19): requires the folio lock (I9), walks with
 * folio_lock_anon_vma_read (blocking) and stops once the folio is unmapped.
 */
void try_to_unmap(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "try_to_unmap";
	struct fl_rwc rwc = { .caller = "try_to_unmap", .rmap_one = try_to_unmap_one,
			      .done_unmapped = true };

	if (folio->lock.owner != fl_me(w)) {
		fl_viol_objects(w, folio->name, NULL);
		fl_thread_violation(FL_INV_LOCK_WALK_DISCIPLINE, fn, "try_to_unmap on unlocked %s",
				    folio->name);
	}
	rmap_walk_anon(w, folio, &rwc);
}

/* READ_ONCE(folio->index) */
long long fl_read_pgoff(const char *fn, struct fl_folio *folio)
{
	return fl_read_index(fn, folio);
}
