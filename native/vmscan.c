// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/vmscan.c reclaim and mm/madvise.c COLD/PAGEOUT/DONTNEED, munmap and exit
 * (fuzzlock/model/vmscan.py).
 *
 * Reclaim reaches a folio from the LRU: isolation takes a reference and clears
 * the LRU flag.  shrink_active_list calls folio_referenced(is_locked=0);
 * shrink_folio_list try-locks the folio (knob reclaim.unmap_lock), checks
 * references, adds it to the swap cache and try_to_unmaps it to swap entries,
 * then writes it out and frees it if nothing else holds it.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

struct fl_vmscan_arg {
	struct fl_world *w;
	struct fl_folio *f;
	int entry;
};

static struct fl_value isolate_thunk(void *arg)
{
	struct fl_vmscan_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };

	if (a->f->freed || !a->f->lru || a->f->refcount == 0)
		return v;
	a->f->lru = false;
	a->f->isolated = true;
	a->f->refcount++;
	fl_ref(a->w, a->f, +1);
	v.i = 1;
	return v;
}

static struct fl_value putback_thunk(void *arg)
{
	struct fl_vmscan_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };

	a->f->isolated = false;
	if (a->f->refcount > 1 || a->f->mapcount || a->f->swap)
		a->f->lru = true;
	return v;
}

/*
 * isolate_lru_folios for one folio, under the lruvec lock: a reference and the
 * LRU flag cleared.  Returns false if it is not on the LRU.
 */
bool isolate_lru_folio(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_vmscan_arg a = { w, folio, 0 };

	return fl_yield_mem(fn, "atomic", folio->n_lru, isolate_thunk, &a).i != 0;
}

/* putback_lru_folio: back on the LRU and drop the isolation reference */
void putback_lru_folio(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_vmscan_arg a = { w, folio, 0 };

	fl_yield_mem(fn, "atomic", folio->n_lru, putback_thunk, &a);
	folio_put(w, fn, folio, true);
}

/*
 * shrink_active_list (v6.18/v6.19): isolate, folio_referenced(is_locked=0),
 * deactivate (a nonzero result only matters for file VM_EXEC folios).  Returns
 * false if the folio is not on the LRU.
 */
bool shrink_active_list(struct fl_world *w, struct fl_folio *folio, long long *referenced)
{
	static const char fn[] = "shrink_active_list";

	if (!isolate_lru_folio(w, fn, folio))
		return false;
	*referenced = folio_referenced(w, folio, false);
	putback_lru_folio(w, fn, folio);
	return true;
}

static struct fl_value add_to_swap_thunk(void *arg)
{
	struct fl_vmscan_arg *a = arg;
	struct fl_world *w = a->w;
	struct fl_value v = { .kind = FL_VAL_INT };
	int e = w->swap.next_entry;

	if (e >= FL_MAX_SWAP) {
		fl_world_full(w, "swap entries");
		return v;
	}
	w->swap.next_entry = e + 1;
	fl_swap_set_count(w, e, 0);
	fl_swap_slot(w, e)->cache = a->f->id;
	a->f->swap = e;
	a->f->refcount++;
	a->f->dirty = true;
	v.i = e;
	return v;
}

/*
 * add_to_swap (v6.18/v6.19), folio locked: allocate a swap slot and put the
 * folio in the swap cache (one more reference).
 */
static bool add_to_swap(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "add_to_swap";
	struct fl_vmscan_arg a = { w, folio, 0 };

	if (!w->swap.present)
		return false;
	fl_yield_mem(fn, "write", folio->n_swap, add_to_swap_thunk, &a);
	return true;
}

static struct fl_value pageout_thunk(void *arg)
{
	struct fl_vmscan_arg *a = arg;
	struct fl_swap_slot *e = fl_swap_slot(a->w, a->entry);
	struct fl_value v = { .kind = FL_VAL_NONE };

	e->has_content = true;
	e->content = a->f->value;
	return v;
}

/* __remove_mapping: refcount must be exactly isolation + swap cache (folio_ref_freeze(folio, 2)) */
static struct fl_value remove_mapping_thunk(void *arg)
{
	struct fl_vmscan_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL, .i = 0 };

	if (a->f->refcount != 2 || a->f->mapcount || a->f->pincount)
		return v;
	fl_swap_drop(a->w, a->entry, true, false, false);
	a->f->swap = 0;
	a->f->refcount--;
	v.i = 1;
	return v;
}

enum fl_shrink_result { SHRINK_RECLAIMED, SHRINK_KEEP, SHRINK_ACTIVATE, SHRINK_NOT_ON_LRU };

static const char *const fl_shrink_names[] = {
	"reclaimed", "keep", "activate", "not-on-lru",
};

/* the part of shrink_folio_list (v6.18/v6.19) that runs with the folio (try)locked */
static enum fl_shrink_result shrink_locked_folio(struct fl_world *w, const char *fn,
						 struct fl_folio *folio, bool ignore_references)
{
	struct fl_vmscan_arg a = { w, folio, 0 };

	if (!ignore_references) {
		long long referenced = folio_referenced(w, folio, true);

		if (referenced == -1)
			return SHRINK_KEEP;
		if (referenced > 0)
			return SHRINK_ACTIVATE;
	}
	if (!folio->swap && !add_to_swap(w, folio))
		return SHRINK_ACTIVATE;
	if (folio_mapped(w, fn, folio)) {
		try_to_unmap(w, folio);
		if (folio_mapped(w, fn, folio))
			return SHRINK_ACTIVATE;
	}
	/* pageout: write the content out (synchronous here), then __remove_mapping */
	a.entry = folio->swap;
	fl_yield_mem(fn, "write", fl_swap_slot(w, a.entry)->name, pageout_thunk, &a);
	if (!fl_yield_mem(fn, "atomic", folio->n_refcount, remove_mapping_thunk, &a).i)
		return SHRINK_KEEP;
	if (folio->lock.owner == fl_me(w))
		folio_unlock(fn, folio);
	folio_put(w, fn, folio, true);	/* the isolation reference: frees the folio */
	return SHRINK_RECLAIMED;
}

/*
 * shrink_folio_list (v6.18/v6.19) for one isolated anon folio.  Returns
 * "reclaimed", "keep", "activate" or "not-on-lru".
 */
const char *shrink_folio_list(struct fl_world *w, struct fl_folio *folio,
			      bool ignore_references)
{
	static const char fn[] = "shrink_folio_list";
	bool locked = w->knob[K_RECLAIM_UNMAP_TRYLOCK] != 0;
	enum fl_shrink_result result;

	if (!isolate_lru_folio(w, fn, folio))
		return fl_shrink_names[SHRINK_NOT_ON_LRU];
	if (locked && !folio_trylock(fn, folio)) {
		putback_lru_folio(w, fn, folio);
		return fl_shrink_names[SHRINK_KEEP];
	}
	result = shrink_locked_folio(w, fn, folio, ignore_references);
	if (result != SHRINK_RECLAIMED) {
		if (locked)
			folio_unlock(fn, folio);
		putback_lru_folio(w, fn, folio);
	}
	return fl_shrink_names[result];
}

/* unmap_vmas, then free_pgtables -> unlink_anon_vmas (knob unmap.zap_before_unlink) */
static void remove_vmas(struct fl_world *w, const int *vmas, int n)
{
	bool zap_first = w->knob[K_ZAP_BEFORE_UNLINK] != 0;
	int i;

	for (i = 0; zap_first && i < n; i++)
		zap_pte_range(w, &w->vmas[vmas[i]], w->vmas[vmas[i]].start, w->vmas[vmas[i]].end);
	for (i = 0; i < n; i++)
		unlink_anon_vmas(w, &w->vmas[vmas[i]]);
	for (i = 0; !zap_first && i < n; i++)
		zap_pte_range(w, &w->vmas[vmas[i]], w->vmas[vmas[i]].start, w->vmas[vmas[i]].end);
}

static void mm_remove_vma(struct fl_mm *mm, int vma)
{
	int i;

	for (i = 0; i < mm->nvmas; i++) {
		if (mm->vmas[i] == vma) {
			memmove(&mm->vmas[i], &mm->vmas[i + 1],
				sizeof(int) * (size_t)(mm->nvmas - i - 1));
			mm->nvmas--;
			return;
		}
	}
}

/* do_vmi_munmap (v6.18/v6.19) of whole VMAs (@all: exit_mmap) */
static long long unmap_vmas_of(struct fl_world *w, struct fl_mm *mm, long long start,
			       long long npages, bool all)
{
	const char *fn = all ? "exit_mmap" : "do_munmap";
	int vmas[FL_MAX_VMAS], n = 0, i;

	fl_down_write(fn, &mm->mmap_lock);
	for (i = 0; i < mm->nvmas; i++) {
		struct fl_vma *v = &w->vmas[mm->vmas[i]];

		if (all || (start <= v->start && v->end <= start + npages))
			vmas[n++] = v->id;
	}
	for (i = 0; i < n; i++) {
		fl_down_write(fn, &w->vmas[vmas[i]].lock);	/* vma_start_write */
		w->vmas[vmas[i]].detached = true;
	}
	if (all)
		mm->alive = false;
	remove_vmas(w, vmas, n);
	for (i = 0; i < n; i++) {
		mm_remove_vma(mm, vmas[i]);
		fl_up_write(fn, &w->vmas[vmas[i]].lock);
	}
	fl_up_write(fn, &mm->mmap_lock);
	return 0;
}

long long do_munmap(struct fl_world *w, struct fl_mm *mm, long long start, long long npages)
{
	return unmap_vmas_of(w, mm, start, npages, false);
}

/* exit_mmap (v6.18/v6.19) */
long long exit_mmap(struct fl_world *w, struct fl_mm *mm)
{
	return unmap_vmas_of(w, mm, 0, 0, true);
}

/* madvise_dontneed_single_vma (v6.18/v6.19) under the mmap read lock: zap */
long long madvise_dontneed(struct fl_world *w, struct fl_mm *mm, long long start,
			   long long npages)
{
	static const char fn[] = "madvise_dontneed";
	struct fl_vma *vma;

	fl_down_read(fn, &mm->mmap_lock, 0);
	vma = fl_find_vma(w, mm, start);
	if (!vma || start + npages > vma->end) {
		fl_up_read(fn, &mm->mmap_lock);
		return -EINVAL;
	}
	zap_pte_range(w, vma, start, start + npages);
	fl_up_read(fn, &mm->mmap_lock);
	return 0;
}

/* the present folios mapped in [start, end), each once, in address order */
static int folios_in(struct fl_world *w, struct fl_mm *mm, long long start, long long end,
		     int *out)
{
	int n = 0, i;
	long long a;

	for (a = start; a < end; a++) {
		struct fl_pte p = fl_pte_get(w, mm, a);

		if (p.kind != PTE_PRESENT || p.folio < 0)
			continue;
		for (i = 0; i < n; i++)
			if (out[i] == p.folio)
				break;
		if (i == n)
			out[n++] = p.folio;
	}
	return n;
}

/*
 * madvise_cold_or_pageout_pte_range (v6.18/v6.19) under the mmap read lock:
 * COLD deactivates (clears young bits), PAGEOUT reclaims exclusively mapped
 * folios (reclaim_pages -> shrink_folio_list(ignore_references)).
 */
long long madvise_pageout(struct fl_world *w, struct fl_mm *mm, long long start,
			  long long npages, bool cold)
{
	const char *fn = cold ? "madvise_cold" : "madvise_pageout";
	int folios[64], n, i;
	struct fl_vma *vma;

	fl_down_read(fn, &mm->mmap_lock, 0);
	vma = fl_find_vma(w, mm, start);
	if (!vma || start + npages > vma->end) {
		fl_up_read(fn, &mm->mmap_lock);
		return -EINVAL;
	}
	n = folios_in(w, mm, start, start + npages, folios);
	for (i = 0; i < n; i++) {
		struct fl_folio *folio = &w->folios[folios[i]];
		long long a;

		if (folio->mapcount != 1)	/* folio_maybe_mapped_shared: skip */
			continue;
		if (!cold) {
			shrink_folio_list(w, folio, true);
			continue;
		}
		for (a = start; a < start + npages; a++) {
			struct fl_pte p;

			if (!fl_table_find(w, mm, a))
				continue;
			pte_offset_map_lock(w, fn, mm, a);
			p = fl_pte_get(w, mm, a);
			if (p.kind != PTE_NONE && p.folio == folio->id && p.young) {
				p.young = false;
				fl_set_pte(w, mm, a, &p);
			}
			pte_unmap_unlock(w, fn, mm, a);
		}
	}
	fl_up_read(fn, &mm->mmap_lock);
	return 0;
}
