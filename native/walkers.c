// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rmap walkers reached physically (fuzzlock/model/walkers.py): page_idle,
 * DAMON and memory-failure.  Reclaim's walkers are in vmscan.c.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

struct fl_walker_arg {
	struct fl_world *w;
	struct fl_folio *f;
};

static struct fl_value try_get_thunk(void *arg)
{
	struct fl_walker_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };

	if (a->f->freed || a->f->refcount == 0)
		return v;
	a->f->refcount++;
	fl_ref(a->w, a->f, +1);
	v.i = 1;
	return v;
}

/* folio_try_get (page_idle_get_folio, damon_get_folio) */
bool folio_try_get(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_walker_arg a = { w, folio };

	return fl_yield_mem(fn, "atomic", folio->n_refcount, try_get_thunk, &a).i != 0;
}

/* --- page_idle and DAMON ---------------------------------------------------------------- */

/* page_idle_clear_pte_refs_one / damon_folio_mkold_one: clear the young bit */
static bool clear_young_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			    long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	const char *fn = strcmp(rwc->caller, "damon_folio_mkold") ? "page_idle_clear_pte_refs_one"
								   : "damon_folio_mkold_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;

	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	if (pte.young) {
		pte.young = false;
		fl_set_pte(w, mm, addr, &pte);
		rwc->referenced++;
	}
	pte_unmap_unlock(w, fn, mm, addr);
	return true;
}

/* damon_folio_young_one (v6.18/v6.19): report an accessed PTE, stop at the first */
static bool young_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
		      long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "damon_folio_young_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;
	bool accessed;

	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	accessed = pte.young;
	pte_unmap_unlock(w, fn, mm, addr);
	if (accessed) {
		rwc->accessed = true;
		return false;
	}
	return true;
}

/* mapped?, optional trylock, rmap_walk, unlock */
static void locked_walk(struct fl_world *w, const char *fn, struct fl_folio *folio,
			bool need_lock, struct fl_rwc *rwc)
{
	bool mapped = folio_mapped(w, fn, folio);
	int raw = fl_read_mapping(w, fn, folio);

	if (!mapped || raw < 0)
		return;
	if (need_lock && !folio_trylock(fn, folio))
		return;
	rmap_walk_anon(w, folio, rwc);
	if (need_lock)
		folio_unlock(fn, folio);
}

/*
 * page_idle_bitmap_write -> page_idle_clear_pte_refs (v6.18: no folio lock for
 * anon; v6.19: trylock, skip on failure)
 */
long long page_idle_clear_pte_refs(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "page_idle_clear_pte_refs";
	struct fl_rwc rwc = { .caller = "page_idle_clear_pte_refs", .rmap_one = clear_young_one };

	if (!folio_try_get(w, fn, folio))
		return 0;
	locked_walk(w, fn, folio, w->knob[K_PAGE_IDLE_LOCK] != 0, &rwc);
	folio_put(w, fn, folio, true);
	return rwc.referenced;
}

/* damon_folio_mkold (v6.18: no folio lock for anon; v6.19: trylock) */
long long damon_folio_mkold(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "damon_folio_mkold";
	struct fl_rwc rwc = { .caller = "damon_folio_mkold", .rmap_one = clear_young_one };

	if (!folio_try_get(w, fn, folio))
		return 0;
	locked_walk(w, fn, folio, w->knob[K_DAMON_LOCK] != 0, &rwc);
	folio_put(w, fn, folio, true);
	return rwc.referenced;
}

/*
 * damon_folio_young (v6.18: no folio lock for anon; v6.19: trylock, and a
 * failed trylock reports "not accessed")
 */
bool damon_folio_young(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "damon_folio_young";
	struct fl_rwc rwc = { .caller = "damon_folio_young", .rmap_one = young_one };

	if (!folio_try_get(w, fn, folio))
		return false;
	locked_walk(w, fn, folio, w->knob[K_DAMON_LOCK] != 0, &rwc);
	folio_put(w, fn, folio, true);
	return rwc.accessed;
}

/* --- memory-failure ---------------------------------------------------------------------- */

/*
 * collect_procs_anon (v6.18/v6.19): with the anon_vma read-locked, every mm
 * with a VMA of the tree that maps the page is a kill target.  -1 if the folio
 * was not mapped, else the number of (sorted) mm ids in @ids.
 */
static int collect_procs_anon(struct fl_world *w, struct fl_folio *folio, int *ids)
{
	static const char fn[] = "collect_procs_anon";
	struct fl_walkrec *rec = &w->walks[fl_me(w)];
	int order[FL_MAX_MMS], nkill = 0, nmms, av, mem, i, j, k;
	long long pgoff;

	av = folio_lock_anon_vma_read(w, folio, NULL);
	if (av < 0)
		return -1;
	pgoff = fl_read_pgoff(fn, folio);
	walkrec_start(w, rec, folio);
	fl_rcu_read_lock(fn);
	mem = fl_av_deref(w, av, fn, "rb_root");
	nmms = w->nmms;	/* sorted(w.mms.values()): a snapshot */
	for (i = 0; i < nmms; i++) {	/* for_each_process, by mm id */
		for (j = i; j > 0 && w->mms[order[j - 1]].id > w->mms[i].id; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
	for (i = 0; i < nmms; i++) {
		int mi = order[i], tree[FL_MAX_VMAS], ntree = w->avs[mem].ntree;
		bool kill = false;

		memcpy(tree, w->avs[mem].tree, sizeof(int) * (size_t)ntree);
		for (k = 0; k < ntree; k++) {
			struct fl_vma *v = &w->vmas[tree[k]];
			struct fl_pte pte;
			long long addr;

			check_tree_locked(w, fn, mem);
			if (v->mm != mi || !(v->pgoff <= pgoff && pgoff < v->pgoff + (v->end - v->start)))
				continue;
			addr = pgoff - v->pgoff + v->start;
			/* page_mapped_in_vma: page_vma_mapped_walk under the PTL */
			if (rmap_one_pte(w, fn, folio, v, addr, rec, &pte)) {
				pte_unmap_unlock(w, fn, &w->mms[v->mm], addr);
				kill = true;
			}
		}
		if (kill)
			ids[nkill++] = w->mms[mi].id;
	}
	fl_rcu_read_unlock(fn);
	walkrec_check(w, rec, "collect_procs_anon", av, pgoff,
		      ": that task would not be killed");
	anon_vma_unlock_read(w, fn, av);
	return nkill;
}

/* kill_procs_now (v6.18: no folio lock; v6.19: folio_lock) */
int kill_procs_now(struct fl_world *w, struct fl_folio *folio, int *ids)
{
	static const char fn[] = "kill_procs_now";
	bool lock = w->knob[K_MF_LOCK] != 0;
	int n;

	if (!folio_try_get(w, fn, folio))
		return -1;
	if (lock)
		folio_lock(fn, folio);
	assert_walk_folio_locked(w, fn, folio);
	n = collect_procs_anon(w, folio, ids);
	if (lock)
		folio_unlock(fn, folio);
	folio_put(w, fn, folio, true);
	return n;
}
