// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/memory.c (and mm/gup.c, mm/swapfile.c pieces; fuzzlock/model/memory.py):
 * user reads and writes through the page table, the anonymous, write-protect
 * and swap faults, the swap cache, and zap_pte_range.  GUP-fast pins are in
 * gup.c.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

static long long handle_mm_fault(struct fl_world *w, struct fl_mm *mm, long long addr,
				 bool write);
static long long handle_pte_fault(struct fl_world *w, struct fl_vma *vma, long long addr,
				  bool write);

/* --- user accesses ------------------------------------------------------------ */

struct fl_user_arg {
	struct fl_world *w;
	struct fl_mm *mm;
	long long addr;
	long long value;
	const char *fn;
};

static struct fl_value user_store_thunk(void *arg)
{
	struct fl_user_arg *a = arg;
	struct fl_world *w = a->w;
	struct fl_pte p = fl_pte_get(w, a->mm, a->addr);
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };
	struct fl_folio *f;

	if (p.kind != PTE_PRESENT || !p.writable)
		return v;
	f = &w->folios[p.folio];
	if (!f->pae) {
		fl_sched_violation(w->s, FL_INV_FOLIO_EXCLUSIVE, a->fn,
				   "user write through writable PTE %s to %s which is not "
				   "PageAnonExclusive", fl_pte_name(w, a->mm, a->addr), f->name);
		return v;
	}
	f->value = a->value;
	f->dirty = true;
	if (!(p.young && p.dirty)) {	/* hardware A/D bits */
		p.young = true;
		p.dirty = true;
		fl_set_pte(w, a->mm, a->addr, &p);
	}
	fl_ghost_set(w, a->mm, a->addr, a->value);
	v.i = 1;
	return v;
}

/* A user store of @value at @addr: through a writable PTE, else fault and retry. */
long long user_write(struct fl_world *w, struct fl_mm *mm, long long addr, long long value)
{
	static const char fn[] = "user_write";
	struct fl_user_arg a = { w, mm, addr, value, fn };
	int i;

	for (i = 0; i < 4; i++) {
		long long r;

		if (fl_yield_mem(fn, "user_store", fl_pte_name(w, mm, addr), user_store_thunk,
				 &a).i)
			return 0;
		r = handle_mm_fault(w, mm, addr, true);
		if (r != 0)
			return r;
	}
	return -EAGAIN;
}

static struct fl_value user_load_thunk(void *arg)
{
	struct fl_user_arg *a = arg;
	struct fl_world *w = a->w;
	struct fl_pte p = fl_pte_get(w, a->mm, a->addr);
	struct fl_value v = { .kind = FL_VAL_NONE };
	long long got, want;

	if (p.kind != PTE_PRESENT && p.kind != PTE_ZERO)	/* !pte_present */
		return v;
	if (p.kind == PTE_ZERO) {
		got = 0;
	} else {
		got = w->folios[p.folio].value;
		if (!p.young) {
			p.young = true;
			fl_set_pte(w, a->mm, a->addr, &p);
		}
	}
	want = fl_ghost_get(w, a->mm, a->addr);
	if (got != want) {
		fl_sched_violation(w->s, FL_INV_USER_DATA, a->fn,
				   "read %lld at %s; the operations' sequential history says %lld",
				   got, fl_pte_name(w, a->mm, a->addr), want);
		return v;
	}
	v.kind = FL_VAL_INT;
	v.i = got;
	return v;
}

/* A user load at @addr; faults in what is missing.  Checks user.data. */
long long user_read(struct fl_world *w, struct fl_mm *mm, long long addr)
{
	static const char fn[] = "user_read";
	struct fl_user_arg a = { w, mm, addr, 0, fn };
	int i;

	for (i = 0; i < 4; i++) {
		struct fl_value v;
		long long r;

		v = fl_yield_mem(fn, "user_load", fl_pte_name(w, mm, addr), user_load_thunk, &a);
		if (v.kind != FL_VAL_NONE)
			return v.i;
		r = handle_mm_fault(w, mm, addr, false);
		if (r != 0)
			return r;
	}
	return -EAGAIN;
}

/* --- faults ------------------------------------------------------------------- */

/* do_anonymous_page (v6.18/v6.19) */
static long long do_anonymous_page(struct fl_world *w, struct fl_vma *vma, long long addr,
				   bool write)
{
	static const char fn[] = "do_anonymous_page";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_folio *folio;
	struct fl_pte p;

	if (vma->uffd)
		return FL_UFFD_MISSING;
	if (!write) {
		pte_offset_map_lock(w, fn, mm, addr);
		if (fl_pte_get(w, mm, addr).kind == PTE_NONE) {
			struct fl_pte z = { .kind = PTE_ZERO, .folio = -1 };

			z.mid = fl_mapping_id(w);
			fl_set_pte(w, mm, addr, &z);
		}
		pte_unmap_unlock(w, fn, mm, addr);
		return 0;
	}
	anon_vma_prepare(w, vma);
	fl_might_sleep(fn, "alloc_anon_folio");
	folio = fl_new_folio(w, 0);
	if (!folio)
		fl_thread_violation("error", fn, "capacity");
	pte_offset_map_lock(w, fn, mm, addr);
	if (fl_pte_get(w, mm, addr).kind != PTE_NONE) {
		pte_unmap_unlock(w, fn, mm, addr);
		folio->refcount = 0;
		folio->freed = true;
		return 0;
	}
	folio_add_new_anon_rmap(w, folio, vma, addr, true);
	folio->lru = true;
	memset(&p, 0, sizeof(p));
	p.kind = PTE_PRESENT;
	p.folio = folio->id;
	p.writable = vma->write;
	p.young = true;
	p.dirty = true;
	p.mid = fl_mapping_id(w);
	fl_set_pte(w, mm, addr, &p);
	pte_unmap_unlock(w, fn, mm, addr);
	return 0;
}

struct fl_ref_arg {
	struct fl_folio *folio;
};

static struct fl_value refcount_read_thunk(void *arg)
{
	struct fl_ref_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->folio->refcount };

	return v;
}

static struct fl_value data_read_thunk(void *arg)
{
	struct fl_ref_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->folio->value };

	return v;
}

/* --- swap ------------------------------------------------------------------------- */

struct fl_swap_arg {
	struct fl_world *w;
	struct fl_folio *folio;
	int entry;
};

static struct fl_value free_swap_thunk(void *arg)
{
	struct fl_swap_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 1 };

	fl_swap_drop(a->w, a->entry, true, true, true);
	a->folio->swap = 0;
	a->folio->refcount--;
	return v;
}

/*
 * folio_free_swap (v6.18/v6.19), folio locked: drop the swap cache if no swap
 * PTE still refers to the entry.
 */
static bool folio_free_swap(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_swap_arg a = { w, folio, folio->swap };

	if (!a.entry || fl_swap_count(w, a.entry, 0) > 0)
		return false;
	return fl_yield_mem(fn, "write", fl_swap_slot(w, a.entry)->name, free_swap_thunk,
			    &a).i != 0;
}

/*
 * swap_cache_get_folio / filemap_get_folio on the swap cache (v6.18/v6.19): the
 * cached folio with a reference (folio_try_get), or NULL if there is none or it
 * is being freed.  Runs inside a thunk.
 */
static struct fl_folio *swap_cache_get_folio(struct fl_world *w, int entry)
{
	int id = fl_swap_slot(w, entry)->cache;
	struct fl_folio *folio;

	if (id < 0)
		return NULL;
	folio = &w->folios[id];
	if (folio->freed || folio->refcount == 0)
		return NULL;
	folio->refcount++;
	fl_ref(w, folio, +1);
	return folio;
}

/*
 * __read_swap_cache_async (v6.18/v6.19): the cached folio, or a new one read
 * from the slot and added to the swap cache (its reference plus ours); NULL if
 * the slot is free (swapcache_prepare fails).  Runs inside a thunk.
 */
static struct fl_folio *read_swap_cache_async(struct fl_world *w, int entry)
{
	struct fl_swap_slot *e = fl_swap_slot(w, entry);
	struct fl_folio *folio = swap_cache_get_folio(w, entry);

	if (folio)
		return folio;
	if (!e->has_count)
		return NULL;
	folio = fl_new_folio(w, e->has_content ? e->content : 0);
	if (!folio)
		return NULL;
	folio->swap = entry;
	folio->refcount = 2;
	folio->lru = true;
	e->cache = folio->id;
	fl_ref(w, folio, +1);
	return folio;
}

/* trace.fmt_value of a Folio or None: "folio:N" or "" */
static struct fl_value folio_value(struct fl_folio *folio)
{
	struct fl_value v = { .kind = FL_VAL_NONE };

	if (folio) {
		v.kind = FL_VAL_STR;
		v.s = folio->name;
		v.p = folio;
	}
	return v;
}

static struct fl_value swap_cache_get_thunk(void *arg)
{
	struct fl_swap_arg *a = arg;

	a->folio = swap_cache_get_folio(a->w, a->entry);
	return folio_value(a->folio);
}

static struct fl_value read_swap_cache_thunk(void *arg)
{
	struct fl_swap_arg *a = arg;

	a->folio = read_swap_cache_async(a->w, a->entry);
	return folio_value(a->folio);
}

/*
 * The swap-cache lookup of do_swap_page and move_pages_ptes as one atomic step
 * (filemap_get_folio under RCU, rechecked with xas_reload): the folio, with a
 * reference, or NULL.
 */
struct fl_folio *swap_cache_get_folio_op(struct fl_world *w, const char *fn, int entry)
{
	struct fl_swap_arg a = { w, NULL, entry };

	fl_yield_mem(fn, "atomic", fl_swap_slot(w, entry)->n_cache, swap_cache_get_thunk, &a);
	return a.folio;
}

/*
 * free_swap_and_cache (v6.18/v6.19), under the PTL: drop one swap count; if it
 * was the last, try-lock the swap-cache folio and drop it if it is unmapped.
 */
void free_swap_and_cache(struct fl_world *w, const char *fn, int entry)
{
	struct fl_swap_slot *e = fl_swap_slot(w, entry);
	struct fl_folio *folio;

	fl_swap_set_count(w, entry, fl_swap_count(w, entry, 1) - 1);
	if (e->count > 0)
		return;
	if (e->cache < 0) {
		fl_swap_drop(w, entry, false, true, true);
		return;
	}
	folio = &w->folios[e->cache];
	if (!folio_trylock(fn, folio))	/* __try_to_reclaim_swap */
		return;
	if (folio->mapcount == 0 && folio->swap == entry) {
		fl_swap_drop(w, entry, true, true, true);
		folio->swap = 0;
		folio->refcount--;
		if (folio->refcount == 0)
			free_folio_body(w, fn, folio);
	}
	folio_unlock(fn, folio);
}

/*
 * wp_can_reuse_anon_folio (v6.18/v6.19, small folio), called with the PTL held:
 * reuse only an unshared folio, verified under the folio (try)lock (knob
 * cow.reuse_lock), and move its rmap to this VMA's own anon_vma (same root).
 */
static bool wp_can_reuse_anon_folio(struct fl_world *w, struct fl_folio *folio,
				    struct fl_vma *vma)
{
	static const char fn[] = "wp_can_reuse_anon_folio";
	struct fl_ref_arg a = { folio };
	bool locked = w->knob[K_COW_REUSE_TRYLOCK] != 0;
	long long ref;

	ref = fl_yield_mem(fn, "read", folio->n_refcount, refcount_read_thunk, &a).i;
	if (ref > 3)
		return false;
	if (ref > 1 + (folio->swap ? 1 : 0))
		return false;
	if (locked && !folio_trylock(fn, folio))
		return false;
	if (folio->swap)
		folio_free_swap(w, fn, folio);
	ref = fl_yield_mem(fn, "read", folio->n_refcount, refcount_read_thunk, &a).i;
	if (ref != 1) {
		if (locked)
			folio_unlock(fn, folio);
		return false;
	}
	folio_move_anon_rmap(w, fn, folio, vma);
	if (locked)
		folio_unlock(fn, folio);
	return true;
}

/* wp_page_copy (v6.18/v6.19) */
static long long wp_page_copy(struct fl_world *w, struct fl_vma *vma, long long addr,
			      const struct fl_pte *orig, struct fl_folio *old)
{
	static const char fn[] = "wp_page_copy";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_folio *new;
	struct fl_pte cur;
	long long value = 0;
	bool replaced;

	anon_vma_prepare(w, vma);
	fl_might_sleep(fn, "alloc_anon_folio");
	if (old) {
		struct fl_ref_arg a = { old };

		value = fl_yield_mem(fn, "read", old->n_data, data_read_thunk, &a).i;
	}
	new = fl_new_folio(w, value);
	if (!new)
		fl_thread_violation("error", fn, "capacity");
	pte_offset_map_lock(w, fn, mm, addr);
	cur = fl_pte_get(w, mm, addr);
	replaced = cur.kind != PTE_NONE && fl_pte_same(&cur, orig);
	if (replaced) {
		struct fl_pte p = { .kind = PTE_PRESENT, .writable = true, .young = true,
				    .dirty = true };

		if (old)
			folio_remove_rmap_pte(old);
		folio_add_new_anon_rmap(w, new, vma, addr, true);
		new->lru = true;
		p.folio = new->id;
		p.mid = fl_mapping_id(w);
		fl_set_pte(w, mm, addr, &p);
	}
	pte_unmap_unlock(w, fn, mm, addr);
	if (!replaced) {
		new->refcount = 0;
		new->freed = true;
	}
	if (old) {
		if (replaced)
			folio_put(w, fn, old, false);	/* the old PTE's reference */
		folio_put(w, fn, old, true);		/* do_wp_page's folio_get */
	}
	return 0;
}

/* do_wp_page (v6.18/v6.19), entered with the PTL held */
static long long do_wp_page(struct fl_world *w, struct fl_vma *vma, long long addr,
			    const struct fl_pte *orig)
{
	static const char fn[] = "do_wp_page";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_folio *folio = NULL;

	if (orig->kind == PTE_PRESENT) {
		folio = &w->folios[orig->folio];
		if (folio->pae || wp_can_reuse_anon_folio(w, folio, vma)) {
			struct fl_pte p = *orig;

			folio->pae = true;
			p.writable = true;
			p.young = true;
			p.dirty = true;
			fl_set_pte(w, mm, addr, &p);	/* wp_page_reuse */
			pte_unmap_unlock(w, fn, mm, addr);
			return 0;
		}
		folio_get(w, fn, folio);
	}
	pte_unmap_unlock(w, fn, mm, addr);
	return wp_page_copy(w, vma, addr, orig, folio);
}

/*
 * do_swap_page (v6.18/v6.19, swap-cache path): find or read in the folio, lock
 * it, recheck the PTE under the PTL, map it (folio_add_anon_rmap_pte checks the
 * rmap, I12), free the swap slot.
 */
static long long do_swap_page(struct fl_world *w, struct fl_vma *vma, long long addr,
			      const struct fl_pte *orig, bool write)
{
	static const char fn[] = "do_swap_page";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_swap_arg a = { w, NULL, orig->entry };
	int entry = orig->entry, me;
	struct fl_folio *folio;
	struct fl_pte cur, p;
	bool exclusive, writable;

	/* swap_cache_get_folio: lookup and folio_try_get in one step (RCU, xas_reload) */
	folio = swap_cache_get_folio_op(w, fn, entry);
	if (!folio) {
		fl_might_sleep(fn, fl_swap_slot(w, entry)->n_swapin);	/* swapin_readahead */
		fl_yield_mem(fn, "atomic", fl_swap_slot(w, entry)->n_cache, read_swap_cache_thunk,
			     &a);
		folio = a.folio;
		if (!folio)	/* the slot was freed: the PTE changed meanwhile; refault */
			return 0;
	}
	folio_lock(fn, folio);	/* folio_lock_or_retry */
	if (folio->swap != entry) {
		folio_unlock(fn, folio);
		folio_put(w, fn, folio, true);
		return 0;
	}
	pte_offset_map_lock(w, fn, mm, addr);
	cur = fl_pte_get(w, mm, addr);
	if (cur.kind == PTE_NONE || !fl_pte_same(&cur, orig)) {
		pte_unmap_unlock(w, fn, mm, addr);
		folio_unlock(fn, folio);
		folio_put(w, fn, folio, true);
		return 0;
	}
	exclusive = orig->exclusive;
	fl_swap_set_count(w, entry, fl_swap_count(w, entry, 0) - 1);	/* swap_free */
	/* should_try_to_free_swap: a write fault on a folio only we hold (cache + ours) */
	if (write && folio->swap && folio->refcount == 2)
		folio_free_swap(w, fn, folio);
	if (!exclusive && folio->refcount == 1)
		exclusive = true;	/* certainly not shared: same logic as do_wp_page */
	if (folio->mapping < 0)
		folio_add_new_anon_rmap(w, folio, vma, addr, exclusive);
	else
		folio_add_anon_rmap_pte(w, folio, vma, addr, exclusive);
	writable = exclusive && vma->write;
	memset(&p, 0, sizeof(p));
	p.kind = PTE_PRESENT;
	p.folio = folio->id;
	p.writable = writable;
	p.young = true;
	p.dirty = write && writable;
	p.soft_dirty = orig->soft_dirty;
	p.mid = fl_mapping_id(w);
	fl_set_pte(w, mm, addr, &p);
	/* the reference we took becomes the PTE's */
	me = fl_me(w);
	if (me >= 0)
		w->refs[me][folio->id]--;
	pte_unmap_unlock(w, fn, mm, addr);
	folio_unlock(fn, folio);
	if (write && !writable)	/* handle_mm_fault_retry_write: a shared entry goes on to CoW */
		return handle_pte_fault(w, vma, addr, true);
	return 0;
}

/* handle_pte_fault (v6.18/v6.19): dispatch on the PTE read lock-free */
static long long handle_pte_fault(struct fl_world *w, struct fl_vma *vma, long long addr,
				  bool write)
{
	static const char fn[] = "handle_pte_fault";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte orig, cur;
	struct fl_lock *ptl;

	orig = pte_offset_map(w, fn, mm, addr);
	if (orig.kind == PTE_NONE) {
		pte_unmap(w, fn, mm, addr);
		return do_anonymous_page(w, vma, addr, write);
	}
	if (orig.kind == PTE_SWAP) {
		pte_unmap(w, fn, mm, addr);
		return do_swap_page(w, vma, addr, &orig, write);
	}
	if (orig.kind == PTE_MIGRATION) {
		pte_unmap(w, fn, mm, addr);
		fl_yield_lock(FL_OP_WAIT, FL_EXCL, 0, "migration_entry_wait", "wait",
			      &w->folios[orig.folio].lock);
		return 0;
	}
	ptl = fl_ptl(w, mm, addr);
	fl_lock_op(fn, ptl, 0);
	cur = fl_pte_get(w, mm, addr);
	if (!(cur.kind != PTE_NONE && fl_pte_same(&cur, &orig))) {
		pte_unmap_unlock(w, fn, mm, addr);
		return 0;
	}
	if (write && !cur.writable)
		return do_wp_page(w, vma, addr, &cur);
	pte_unmap_unlock(w, fn, mm, addr);
	return 0;
}

/* lock_vma_under_rcu + handle_mm_fault (v6.18/v6.19) */
static long long handle_mm_fault(struct fl_world *w, struct fl_mm *mm, long long addr,
				 bool write)
{
	static const char fn[] = "handle_mm_fault";
	struct fl_vma *vma = fl_find_vma(w, mm, addr);
	long long r;

	if (!vma)
		return FL_SEGV;
	if (!fl_down_read_trylock(fn, &vma->lock)) {
		fl_down_read(fn, &mm->mmap_lock, 0);	/* lock_mm_and_find_vma fallback */
		vma = fl_find_vma(w, mm, addr);
		if (!vma) {
			fl_up_read(fn, &mm->mmap_lock);
			return FL_SEGV;
		}
		r = handle_pte_fault(w, vma, addr, write);
		fl_up_read(fn, &mm->mmap_lock);
		return r;
	}
	if (vma->detached) {
		fl_up_read(fn, &vma->lock);
		return FL_SEGV;
	}
	r = handle_pte_fault(w, vma, addr, write);
	fl_up_read(fn, &vma->lock);
	return r;
}

/*
 * zap_pte_range (v6.18/v6.19): per page-table page, under its PTL, clear each
 * PTE and drop its rmap (a swap entry: free_swap_and_cache); no folio lock, no
 * anon_vma lock; mapping stays stale.  The mappings' references go after the
 * flush.
 */
void zap_pte_range(struct fl_world *w, struct fl_vma *vma, long long start,
			  long long end)
{
	static const char fn[] = "zap_pte_range";
	struct fl_mm *mm = &w->mms[vma->mm];
	long long addr = start;

	while (addr < end) {
		long long q = addr >= 0 ? addr / PTRS_PER_PTE
					: -((-addr + PTRS_PER_PTE - 1) / PTRS_PER_PTE);
		long long tend = (q + 1) * PTRS_PER_PTE, a;
		int puts[PTRS_PER_PTE], nputs = 0, swaps[PTRS_PER_PTE], nswaps = 0, i;

		if (tend > end)
			tend = end;
		if (!fl_table_find(w, mm, addr)) {	/* zap_pmd_range skips a none pmd */
			addr = tend;
			continue;
		}
		pte_offset_map_lock(w, fn, mm, addr);
		for (a = addr; a < tend; a++) {
			struct fl_pte p = fl_pte_get(w, mm, a);

			if (p.kind == PTE_NONE)
				continue;
			fl_set_pte(w, mm, a, NULL);
			if (p.kind == PTE_PRESENT && p.folio >= 0) {
				folio_remove_rmap_pte(&w->folios[p.folio]);
				puts[nputs++] = p.folio;
			} else if (p.kind == PTE_SWAP) {
				swaps[nswaps++] = p.entry;
			}
			fl_ghost_set(w, mm, a, 0);
		}
		for (i = 0; i < nswaps; i++)
			free_swap_and_cache(w, fn, swaps[i]);
		pte_unmap_unlock(w, fn, mm, addr);
		for (i = 0; i < nputs; i++)
			folio_put(w, fn, &w->folios[puts[i]], false);
		addr = tend;
	}
}
