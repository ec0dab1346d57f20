// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/memory.c (fuzzlock/model/memory.py): user reads and writes through the
 * page table, the anonymous and write-protect faults of the slice (no swap,
 * no zap, no pins).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

static long long handle_mm_fault(struct fl_world *w, struct fl_mm *mm, long long addr,
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
		fl_sched_violation(w->s, "folio.exclusive", a->fn,
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

	if (p.kind == PTE_NONE || p.kind == PTE_MIGRATION)
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
		fl_sched_violation(w->s, "user.data", a->fn,
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

/* wp_can_reuse_anon_folio (v6.18/v6.19, small folio, no swap cache), PTL held */
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
	if (ref > 1)
		return false;
	if (locked && !folio_trylock(fn, folio))
		return false;
	/* folio_free_swap: nothing in the swap cache in the slice */
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

/* --- pins ------------------------------------------------------------------------ */

struct fl_pin_arg {
	struct fl_world *w;
	struct fl_mm *mm;
	struct fl_folio *folio;
	const char *fn;
};

static struct fl_value pin_grab_thunk(void *arg)
{
	struct fl_pin_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };

	if (a->folio->freed || a->folio->refcount == 0)
		return v;
	a->folio->refcount++;
	a->folio->pincount++;
	a->mm->pinned = true;	/* MMF_HAS_PINNED */
	v.i = 1;
	return v;
}

static struct fl_value unpin_thunk(void *arg)
{
	struct fl_pin_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	a->folio->pincount--;
	a->folio->refcount--;
	if (a->folio->refcount == 0)
		free_folio(a->w, a->fn, a->folio);
	v.i = a->folio->pincount;
	return v;
}

/* unpin_user_page (v6.18/v6.19) */
static void unpin_folio(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "unpin_user_page";
	struct fl_pin_arg a = { .w = w, .folio = folio, .fn = fn };

	fl_yield_mem(fn, "atomic", folio->n_pincount, unpin_thunk, &a);
}

/*
 * gup_fast_pte_range with FOLL_PIN|FOLL_WRITE|FOLL_LONGTERM (v6.18/v6.19): no locks;
 * grab a pin, then recheck the PTE and back out if it changed.  A page that is not
 * PageAnonExclusive must be unshared by the slow path (not modelled: the pin fails).
 * Returns the pinned folio id or -1.
 */
int gup_fast_pin(struct fl_world *w, struct fl_mm *mm, long long addr)
{
	static const char fn[] = "gup_fast_pin";
	struct fl_pte pte = ptep_get(w, fn, mm, addr), again;
	struct fl_pin_arg a = { .w = w, .mm = mm, .fn = fn };
	struct fl_folio *folio;
	int me = fl_me(w);

	if (pte.kind != PTE_PRESENT || pte.folio < 0)
		return -1;
	folio = &w->folios[pte.folio];
	if (!folio->pae)
		return -1;
	a.folio = folio;
	if (!fl_yield_mem(fn, "atomic", folio->n_pincount, pin_grab_thunk, &a).i)
		return -1;
	again = ptep_get(w, fn, mm, addr);
	if (!fl_pte_same(&again, &pte)) {
		unpin_folio(w, folio);
		return -1;
	}
	if (w->npins[me] == FL_MAX_PINS) {
		fl_world_full(w, "pins");
		return -1;
	}
	w->pins[me][w->npins[me]++] = folio->id;
	return folio->id;
}

/* Unpin the folio this thread pinned most recently (scenario op unpin). */
long long unpin_last(struct fl_world *w)
{
	int me = fl_me(w);

	if (!w->npins[me])
		return -EFAULT;
	unpin_folio(w, &w->folios[w->pins[me][--w->npins[me]]]);
	return 0;
}
