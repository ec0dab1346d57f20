// SPDX-License-Identifier: GPL-2.0-only
/*
 * munmap and exit (fuzzlock/model/vmscan.py do_munmap, exit_mmap, _remove_vmas),
 * with zap_pte_range (fuzzlock/model/memory.py) and unlink_anon_vmas
 * (fuzzlock/model/rmap.py) for the PTE kinds of the slice (present, zero).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/* zap_pte_range (v6.18/v6.19): per page-table page, under its PTL, clear each PTE
 * and drop its rmap; the mappings' references go after the flush */
static void zap_pte_range(struct fl_world *w, struct fl_vma *vma, long long start,
			  long long end)
{
	static const char fn[] = "zap_pte_range";
	struct fl_mm *mm = &w->mms[vma->mm];
	long long addr = start;

	while (addr < end) {
		long long q = addr >= 0 ? addr / PTRS_PER_PTE
					: -((-addr + PTRS_PER_PTE - 1) / PTRS_PER_PTE);
		long long tend = (q + 1) * PTRS_PER_PTE, a;
		int puts[PTRS_PER_PTE], nputs = 0, i;

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
			}
			fl_ghost_set(w, mm, a, 0);
		}
		pte_unmap_unlock(w, fn, mm, addr);
		for (i = 0; i < nputs; i++)
			folio_put(w, fn, &w->folios[puts[i]], false);
		addr = tend;
	}
}

static void av_tree_remove(struct fl_anon_vma *a, int vma)
{
	int i;

	for (i = 0; i < a->ntree; i++) {
		if (a->tree[i] == vma) {
			memmove(&a->tree[i], &a->tree[i + 1], sizeof(int) * (size_t)(a->ntree - i - 1));
			a->ntree--;
			return;
		}
	}
}

/* unlink_anon_vmas (v6.18): remove the VMA from every anon_vma tree under the root
 * write lock; anon_vmas left empty are put after the lock is dropped */
static void unlink_anon_vmas(struct fl_world *w, struct fl_vma *vma)
{
	static const char fn[] = "unlink_anon_vmas";
	int chain[FL_MAX_CHAIN], nchain = vma->nchain, emptied[FL_MAX_CHAIN], nemptied = 0;
	int root = -1, i, k;

	memcpy(chain, vma->chain, sizeof(int) * (size_t)nchain);
	for (i = 0; i < nchain; i++) {
		int av = chain[i];
		struct fl_anon_vma *a = &w->avs[av];

		if (root != a->root) {
			if (root >= 0)
				anon_vma_unlock_write(w, fn, root);
			root = a->root;
			anon_vma_lock_write(w, fn, root);
		}
		av_tree_remove(a, vma->id);
		if (!a->ntree) {
			w->avs[a->parent].num_children--;
			emptied[nemptied++] = av;
			continue;
		}
		for (k = 0; k < vma->nchain; k++) {
			if (vma->chain[k] == av) {
				memmove(&vma->chain[k], &vma->chain[k + 1],
					sizeof(int) * (size_t)(vma->nchain - k - 1));
				vma->nchain--;
				break;
			}
		}
	}
	if (vma->anon_vma >= 0) {
		w->avs[vma->anon_vma].num_active_vmas--;
		vma->anon_vma = -1;
	}
	if (root >= 0)
		anon_vma_unlock_write(w, fn, root);
	vma->nchain = 0;
	for (i = 0; i < nemptied; i++)
		put_anon_vma(w, fn, emptied[i]);
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
