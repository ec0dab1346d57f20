// SPDX-License-Identifier: GPL-2.0-only
/*
 * kernel/fork.c / mm/mmap.c dup_mmap and mm/memory.c copy_page_range
 * (fuzzlock/model/fork.py).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/*
 * copy_present_pte (v6.18/v6.19), under both PTLs: share the folio read-only
 * (folio_try_dup_anon_rmap_pte clears PAE), or early-copy a maybe-pinned PAE page.
 */
static void copy_present_pte(struct fl_world *w, struct fl_vma *dst_vma, struct fl_vma *src_vma,
			     long long addr, struct fl_pte pte)
{
	struct fl_folio *folio = &w->folios[pte.folio];
	struct fl_mm *src_mm = &w->mms[src_vma->mm], *dst_mm = &w->mms[dst_vma->mm];
	struct fl_pte child;

	if (folio->pae && src_mm->pinned && folio->pincount > 0) {
		/* folio_needs_cow_for_dma -> -EBUSY -> copy_present_page */
		struct fl_folio *new = fl_new_folio(w, folio->value);
		struct fl_pte np = { .kind = PTE_PRESENT };

		if (!new)
			return;
		if (dst_vma->anon_vma < 0)	/* __folio_set_anon: BUG_ON(!anon_vma) */
			fl_thread_violation(FL_INV_RMAP_REACHABLE, "copy_present_pte",
					    "early copy into %s before it has an anon_vma (BUG_ON in __folio_set_anon)",
					    dst_vma->name);
		folio_add_new_anon_rmap(w, new, dst_vma, addr, true);
		new->lru = true;
		np.folio = new->id;
		np.writable = dst_vma->write;
		np.dirty = true;
		np.soft_dirty = pte.soft_dirty;
		np.mid = fl_mapping_id(w);
		fl_set_pte(w, dst_mm, addr, &np);
		return;
	}
	folio->refcount++;	/* folio_get */
	if (folio->pae && w->knob[K_FORK_CLEAR_EXCL])
		folio->pae = false;
	folio->mapcount++;
	child = pte;
	child.young = false;
	child.mid = fl_mapping_id(w);
	if (pte.writable) {	/* a COW mapping: write-protect parent and child */
		struct fl_pte ro = pte;

		ro.writable = false;
		fl_set_pte(w, src_mm, addr, &ro);
		child.writable = false;
	}
	fl_set_pte(w, dst_mm, addr, &child);
}

/*
 * copy_nonpresent_pte (v6.18/v6.19): duplicate a swap entry (the exclusive
 * marker is cleared in the parent and not given to the child) or a migration
 * entry (made readable in both).
 */
static void copy_nonpresent_pte(struct fl_world *w, struct fl_vma *dst_vma,
				struct fl_vma *src_vma, long long addr, struct fl_pte pte)
{
	struct fl_mm *src_mm = &w->mms[src_vma->mm], *dst_mm = &w->mms[dst_vma->mm];

	if (pte.kind == PTE_SWAP) {
		struct fl_pte np = pte;

		/* swap_duplicate */
		fl_swap_set_count(w, pte.entry, fl_swap_count(w, pte.entry, 0) + 1);
		np.exclusive = false;
		if (pte.exclusive)
			fl_set_pte(w, src_mm, addr, &np);
		np.mid = fl_mapping_id(w);
		fl_set_pte(w, dst_mm, addr, &np);
	} else if (pte.kind == PTE_MIGRATION) {
		/* COW mappings need readable (not exclusive, not writable) migration
		 * entries in both parent and child: make_readable_migration_entry */
		struct fl_pte ro = pte;

		ro.exclusive = false;
		ro.writable = false;
		fl_set_pte(w, src_mm, addr, &ro);
		ro.mid = fl_mapping_id(w);
		fl_set_pte(w, dst_mm, addr, &ro);
	}
}

/*
 * copy_page_range -> copy_pte_range (v6.18/v6.19): per page-table page, the dst PTL
 * then the src PTL (nested).
 */
static void copy_page_range(struct fl_world *w, struct fl_vma *dst_vma, struct fl_vma *src_vma)
{
	static const char fn[] = "copy_pte_range";
	struct fl_mm *src_mm = &w->mms[src_vma->mm], *dst_mm = &w->mms[dst_vma->mm];
	long long addr = src_vma->start;

	while (addr < src_vma->end) {
		long long tend = (addr / PTRS_PER_PTE + 1) * PTRS_PER_PTE;	/* addr >= 0 */
		struct fl_lock *dst_ptl, *src_ptl;
		bool any = false;
		long long a;

		if (tend > src_vma->end)
			tend = src_vma->end;
		for (a = addr; a < tend; a++)
			if (fl_pte_get(w, src_mm, a).kind != PTE_NONE)
				any = true;
		if (any) {
			dst_ptl = fl_ptl(w, dst_mm, addr);
			src_ptl = fl_ptl(w, src_mm, addr);
			if (!dst_ptl || !src_ptl)
				return;
			pte_offset_map(w, fn, dst_mm, addr);
			fl_lock_op(fn, dst_ptl, 0);
			pte_offset_map(w, fn, src_mm, addr);
			fl_lock_op(fn, src_ptl, 1);
			for (a = addr; a < tend; a++) {
				struct fl_pte p = fl_pte_get(w, src_mm, a);

				if (p.kind == PTE_NONE)
					continue;
				if (p.kind == PTE_PRESENT && p.folio >= 0) {
					copy_present_pte(w, dst_vma, src_vma, a, p);
				} else if (p.kind == PTE_ZERO) {
					struct fl_pte z = { .kind = PTE_ZERO, .folio = -1 };

					z.mid = fl_mapping_id(w);
					fl_set_pte(w, dst_mm, a, &z);
				} else {
					copy_nonpresent_pte(w, dst_vma, src_vma, a, p);
				}
			}
			fl_unlock_op(fn, src_ptl);
			pte_unmap(w, fn, src_mm, addr);
			fl_unlock_op(fn, dst_ptl);
			pte_unmap(w, fn, dst_mm, addr);
		}
		addr = tend;
	}
}

static void mm_append_vma(struct fl_mm *mm, struct fl_vma *v)
{
	mm->vmas[mm->nvmas++] = v->id;
}

/* dup_mmap (v6.18/v6.19).  Returns the child mm id. */
long long dup_mmap(struct fl_world *w, struct fl_mm *oldmm, int child_id)
{
	static const char fn[] = "dup_mmap";
	int parent_vmas[FL_MAX_VMAS], n, i, oldi = (int)(oldmm - w->mms);
	struct fl_mm *mm;

	fl_down_write(fn, &oldmm->mmap_lock);
	mm = fl_new_mm(w, child_id);
	if (!mm)
		fl_thread_violation("error", fn, "capacity");
	fl_yield_lock(FL_OP_LOCK, FL_WRITE, 1, fn, "down_write", &mm->mmap_lock);
	n = oldmm->nvmas;	/* list(oldmm.vmas), under the mmap_lock */
	memcpy(parent_vmas, oldmm->vmas, sizeof(int) * (size_t)n);
	for (i = 0; i < n; i++) {
		struct fl_vma *mpnt = &w->vmas[parent_vmas[i]], *tmp;
		char name[FL_NAME_LEN];
		bool link_first, copy;

		fl_down_write(fn, &mpnt->lock);	/* vma_start_write: until mmap_write_unlock */
		if (mpnt->dontfork)
			continue;
		snprintf(name, sizeof(name), "%s.c%d", mpnt->name, child_id);
		tmp = fl_new_vma(w, mm, mpnt->start, mpnt->end, name);
		if (!tmp)
			fl_thread_violation("error", fn, "capacity");
		tmp->pgoff = mpnt->pgoff;
		tmp->write = mpnt->write;
		tmp->shared = mpnt->shared;
		tmp->locked = mpnt->locked;
		tmp->wipeonfork = mpnt->wipeonfork;
		tmp->uffd = false;	/* dup_userfaultfd without EVENT_FORK */
		link_first = w->knob[K_FORK_LINK_FIRST] != 0;
		/* vma_needs_copy */
		copy = !mpnt->wipeonfork && mpnt->anon_vma >= 0;
		if (copy && !link_first) {
			mm_append_vma(mm, tmp);
			copy_page_range(w, tmp, mpnt);
		}
		if (!mpnt->wipeonfork)
			anon_vma_fork(w, tmp, mpnt);
		if (link_first || !copy)
			mm_append_vma(mm, tmp);
		if (copy && link_first)
			copy_page_range(w, tmp, mpnt);
	}
	/* the child inherits the parent's page contents */
	for (i = 0; i < w->ntables; i++) {
		struct fl_table *t = &w->tables[i];
		int k, j;

		if (t->mm != oldi)
			continue;
		for (k = 0; k < PTRS_PER_PTE; k++) {
			long long addr = (long long)t->index * PTRS_PER_PTE + k;

			if (!t->ghost[k])
				continue;
			for (j = 0; j < mm->nvmas; j++) {
				struct fl_vma *c = &w->vmas[mm->vmas[j]];

				if (!c->wipeonfork && c->start <= addr && addr < c->end) {
					fl_ghost_set(w, mm, addr, t->ghost[k]);
					break;
				}
			}
		}
	}
	fl_up_write(fn, &mm->mmap_lock);
	for (i = 0; i < n; i++)
		fl_up_write(fn, &w->vmas[parent_vmas[i]].lock);
	fl_up_write(fn, &oldmm->mmap_lock);
	return child_id;
}
