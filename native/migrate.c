// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/migrate.c (fuzzlock/model/migrate.py): migration of one small anon folio
 * (MIGRATE_SYNC) with try_to_migrate and remove_migration_ptes.  A migration
 * entry the walk cannot reach is left pointing at a freed folio
 * (migration.reachable, I13).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/*
 * try_to_migrate_one (v6.18/v6.19): the PTE becomes a migration entry (with the
 * exclusive marker if the page was PAE; a pinned PAE page cannot be shared: abort).
 */
static bool try_to_migrate_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			       long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "try_to_migrate_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte, m;
	bool anon_exclusive;

	(void)rwc;
	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	anon_exclusive = folio->pae;
	if (anon_exclusive && folio->pincount > 0) {
		pte_unmap_unlock(w, fn, mm, addr);
		return false;
	}
	if (anon_exclusive)
		folio->pae = false;	/* folio_try_share_anon_rmap_pte */
	memset(&m, 0, sizeof(m));
	m.kind = PTE_MIGRATION;
	m.folio = folio->id;
	m.writable = pte.writable;
	m.dirty = pte.dirty;
	m.soft_dirty = pte.soft_dirty;
	m.exclusive = anon_exclusive;
	m.mid = pte.mid;
	fl_set_pte(w, mm, addr, &m);
	folio_remove_rmap_pte(folio);
	folio->refcount--;
	pte_unmap_unlock(w, fn, mm, addr);
	return true;
}

/* try_to_migrate (v6.18/v6.19): folio locked (I9); blocking anon_vma read lock */
static void try_to_migrate(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "try_to_migrate";
	struct fl_rwc rwc = { .caller = "try_to_migrate", .rmap_one = try_to_migrate_one,
			      .done_unmapped = true };

	if (folio->lock.owner != fl_me(w)) {
		fl_viol_objects(w, folio->name, NULL);
		fl_thread_violation(FL_INV_LOCK_WALK_DISCIPLINE, fn, "try_to_migrate on unlocked %s",
				    folio->name);
	}
	rmap_walk_anon(w, folio, &rwc);
}

/*
 * remove_migration_pte (v6.18/v6.19): a migration entry for src becomes a PTE
 * mapping @dst (PAE from the entry's exclusive marker).
 */
static bool remove_migration_pte(struct fl_world *w, struct fl_folio *dst, struct fl_vma *vma,
				 long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "remove_migration_pte";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte p;

	if (!fl_table_find(w, mm, addr))	/* pmd none: no entry to restore */
		return true;
	pte_offset_map_lock(w, fn, mm, addr);
	p = fl_pte_get(w, mm, addr);
	/*
	 * Under the PTL the walk sees what is at the address it computed: a present
	 * PTE of the walked folio (src itself after a failed migration, e.g.
	 * try_to_migrate_one aborted on a pinned page) is found there, not missed.
	 */
	if (p.kind == PTE_PRESENT && p.folio == dst->id)
		walkrec_visit(rec, p.mid);
	if (p.kind == PTE_MIGRATION && p.folio == rwc->src) {
		struct fl_pte np;

		dst->mapcount++;
		dst->refcount++;
		if (p.exclusive)
			dst->pae = true;
		memset(&np, 0, sizeof(np));
		np.kind = PTE_PRESENT;
		np.folio = dst->id;
		np.writable = p.writable;
		np.dirty = p.dirty;
		np.soft_dirty = p.soft_dirty;
		np.mid = p.mid;
		fl_set_pte(w, mm, addr, &np);
	}
	pte_unmap_unlock(w, fn, mm, addr);
	return true;
}

/*
 * remove_migration_ptes (v6.18/v6.19): rmap_walk of @dst (which carries src's
 * mapping and index) without anon_lock: rmap_walk_anon_lock on the anon_vma the
 * caller pinned; no mapped check.
 */
static void remove_migration_ptes(struct fl_world *w, struct fl_folio *src, struct fl_folio *dst)
{
	struct fl_rwc rwc = { .caller = "remove_migration_ptes", .rmap_one = remove_migration_pte,
			      .no_anon_lock = true, .src = src->id };

	rmap_walk_anon(w, dst, &rwc);
}

struct fl_mig_arg {
	struct fl_folio *src, *dst;
};

/* folio_migrate_mapping: only the isolation reference may remain */
static struct fl_value move_mapping_thunk(void *arg)
{
	struct fl_mig_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };

	if (a->src->refcount != 1 || a->src->pincount)
		return v;
	a->dst->mapping = a->src->mapping;
	a->dst->index = a->src->index;
	a->dst->value = a->src->value;
	v.i = 1;
	return v;
}

/*
 * migrate_pages of one isolated small anon folio, MIGRATE_SYNC (v6.18/v6.19):
 * migrate_folio_unmap then migrate_folio_move; remove_migration_ptes only if
 * the folio was mapped when try_to_migrate ran (PAGE_WAS_MAPPED).  Returns
 * "migrated" or why not.
 */
const char *migrate_folio(struct fl_world *w, struct fl_folio *src)
{
	const char *fn = "migrate_folio_unmap";
	struct fl_mig_arg ma;
	struct fl_folio *dst, *target;
	const char *result = "busy";
	int anon_vma = -1;
	bool mapped, still;

	if (!isolate_lru_folio(w, fn, src))
		return "not-on-lru";
	folio_lock(fn, src);
	mapped = folio_mapped(w, fn, src);
	if (mapped && src->mapping >= 0)
		anon_vma = folio_get_anon_vma(w, src);
	fl_might_sleep(fn, "alloc_migration_target");
	dst = fl_new_folio(w, src->value);
	if (!dst)
		fl_thread_violation("error", fn, "capacity");
	src = &w->folios[src->id];
	dst->refcount = 1;
	if (!folio_trylock(fn, dst))
		fl_thread_violation("error", fn, "a new folio is never locked");
	/*
	 * folio_get_anon_vma found the folio unmapped (a racing zap), and an unmapped
	 * anon folio cannot be mapped again while we hold its lock: the kernel's
	 * folio_mapped() check before try_to_migrate fails, PAGE_WAS_MAPPED stays clear.
	 */
	if (mapped && anon_vma < 0)
		mapped = false;
	if (mapped)
		try_to_migrate(w, src);
	still = folio_mapped(w, fn, src);
	if (!still) {
		fn = "migrate_folio_move";
		ma.src = src;
		ma.dst = dst;
		if (fl_yield_mem(fn, "write", dst->n_mapping, move_mapping_thunk, &ma).i)
			result = "migrated";
	}
	target = strcmp(result, "migrated") == 0 ? dst : src;
	if (mapped)	/* PAGE_WAS_MAPPED */
		remove_migration_ptes(w, src, target);
	folio_unlock(fn, dst);
	folio_unlock(fn, src);
	if (anon_vma >= 0)
		put_anon_vma(w, fn, anon_vma);
	if (target == dst) {
		dst->lru = true;
		folio_put(w, fn, dst, false);	/* the allocation reference */
		src->isolated = false;
		folio_put(w, fn, src, true);	/* the isolation reference: src is freed */
	} else {
		dst->refcount = 0;
		dst->freed = true;
		putback_lru_folio(w, fn, src);
	}
	return result;
}
