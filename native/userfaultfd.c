// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/userfaultfd.c and fs/userfaultfd.c (fuzzlock/model/userfaultfd.py):
 * UFFDIO_MOVE of small anon pages, v6.18 (folio lock and the src root
 * anon_vma write lock) and v6.19 (folio lock only, knob move.anon_vma_lock),
 * step for step, including the move_pages progress bookkeeping and the
 * move_present_ptes batching, and swap PTEs (move_swap_pte, with the swap-cache
 * folio's rmap: knob move.swap_moves_rmap).  THP (PMD) moves are not modelled:
 * every folio is small.  Lengths and results count pages.
 *
 * mm/userfaultfd.c is split in two here, the kernel keeping it as one file: this
 * file has the ioctl, the VMA locks, move_pages and move_pages_ptes (up to
 * holding the folio lock and the anon_vma lock), uffd_move_ptes.c the PTE moves
 * it then makes under double_pt_lock (move_present_ptes, move_zeropage_pte,
 * move_swap_pte).
 */
#include <stdio.h>

#include "userfaultfd_int.h"

/* I16's livelock bound: passes in a row whose success move_pages does not count */
#define MOVE_LIVELOCK_PASSES 16

#define FL_RETRY	1000000	/* _lock_anon_vma's "retry" */

struct changing_arg {
	struct fl_mm *mm;
};

static struct fl_value changing_thunk(void *arg)
{
	struct changing_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->mm->mmap_changing };

	return v;
}

static int read_mmap_changing(const char *fn, struct fl_mm *mm)
{
	struct changing_arg a = { mm };

	return (int)fl_yield_mem(fn, "read", mm->n_changing, changing_thunk, &a).i;
}

static void fl_point(const char *fn, const char *label, const char *obj)
{
	fl_yield_mem(fn, label, obj, NULL, NULL);
}

/* --- locking the VMAs ------------------------------------------------------------ */

/* uffd_lock_vma (v6.18/v6.19): NULL with *err set, or the VMA read-locked */
static struct fl_vma *uffd_lock_vma(struct fl_world *w, struct fl_mm *mm, long long addr,
				    long long *err)
{
	static const char fn[] = "uffd_lock_vma";
	struct fl_vma *vma = fl_find_vma(w, mm, addr);

	if (vma) {	/* lock_vma_under_rcu */
		if (fl_down_read_trylock(fn, &vma->lock)) {
			if (vma->detached)
				fl_up_read(fn, &vma->lock);
			else if (vma->shared || vma->anon_vma >= 0)
				return vma;
			else
				fl_up_read(fn, &vma->lock);
		}
	}
	fl_down_read(fn, &mm->mmap_lock, 0);
	vma = fl_find_vma(w, mm, addr);
	if (!vma) {
		fl_up_read(fn, &mm->mmap_lock);
		*err = -ENOENT;
		return NULL;
	}
	anon_vma_prepare(w, vma);
	fl_down_read(fn, &vma->lock, 0);
	fl_up_read(fn, &mm->mmap_lock);
	return vma;
}

static bool vma_contains(const struct fl_vma *v, long long addr)
{
	return v->start <= addr && addr < v->end;
}

/* uffd_move_lock (v6.18/v6.19): 0 with both VMAs read-locked, or a negative errno */
static long long uffd_move_lock(struct fl_world *w, struct fl_mm *mm, long long dst,
				long long src, struct fl_vma **dvmap, struct fl_vma **svmap)
{
	static const char fn[] = "uffd_move_lock";
	struct fl_vma *dvma, *svma;
	long long err = 0;

	dvma = uffd_lock_vma(w, mm, dst, &err);
	if (!dvma)
		return err;
	if (vma_contains(dvma, src)) {
		*dvmap = *svmap = dvma;
		return 0;
	}
	svma = fl_find_vma(w, mm, src);
	if (svma) {	/* lock_vma_under_rcu(mm, src) */
		bool ok = fl_down_read_trylock(fn, &svma->lock);

		if (ok && !svma->detached) {
			*dvmap = dvma;
			*svmap = svma;
			return 0;
		}
		if (ok)
			fl_up_read(fn, &svma->lock);
	}
	fl_up_read(fn, &dvma->lock);	/* undo and retry under the mmap_lock */
	fl_down_read(fn, &mm->mmap_lock, 0);
	dvma = fl_find_vma(w, mm, dst);
	if (!dvma) {
		fl_up_read(fn, &mm->mmap_lock);
		return -ENOENT;
	}
	anon_vma_prepare(w, dvma);
	svma = vma_contains(dvma, src) ? dvma : fl_find_vma(w, mm, src);
	if (!svma) {
		fl_up_read(fn, &mm->mmap_lock);
		return -ENOENT;
	}
	fl_down_read(fn, &dvma->lock, 0);
	if (svma != dvma)
		fl_down_read(fn, &svma->lock, 1);
	fl_up_read(fn, &mm->mmap_lock);
	*dvmap = dvma;
	*svmap = svma;
	return 0;
}

static void uffd_move_unlock(const char *fn, struct fl_vma *dvma, struct fl_vma *svma)
{
	if (svma != dvma)
		fl_up_read(fn, &svma->lock);
	fl_up_read(fn, &dvma->lock);
}

/* validate_move_areas (v6.18/v6.19) */
static long long validate_move_areas(struct fl_vma *svma, struct fl_vma *dvma)
{
	if (svma->write != dvma->write || svma->locked != dvma->locked)
		return -EINVAL;
	if (!svma->write)
		return -EINVAL;
	if (!dvma->uffd)
		return -EINVAL;
	return 0;
}

/* --- move_pages_ptes ----------------------------------------------------------------- */

static void unmap_both(struct fl_world *w, const char *fn, struct fl_mm *mm,
		       struct move_state *st, long long src_addr, long long dst_addr)
{
	if (st->src_mapped) {
		pte_unmap(w, fn, mm, src_addr);
		st->src_mapped = false;
	}
	if (st->dst_mapped) {
		pte_unmap(w, fn, mm, dst_addr);
		st->dst_mapped = false;
	}
}

/* _sleep: unmap the PTEs (knob move.unmap_before_sleep), then sleep in a lock */
static void move_sleep_prepare(struct fl_world *w, const char *fn, struct fl_mm *mm,
			       struct move_state *st, long long src_addr, long long dst_addr)
{
	if (w->knob[K_MOVE_UNMAP_BEFORE_SLEEP])
		unmap_both(w, fn, mm, st, src_addr, dst_addr);
}

/* folio_get_anon_vma without the folio lock (knob move.lock_order=anon-vma-first) */
static int get_anon_vma_unlocked(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	int mapping, av;
	bool mapped, got;

	fl_rcu_read_lock(fn);
	mapping = fl_read_mapping(w, fn, folio);
	mapped = folio_mapped(w, fn, folio);
	if (mapping < 0 || !mapped) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	av = fl_av_deref(w, mapping, fn, "refcount");
	got = fl_av_inc_not_zero_op(w, fn, mapping, av);
	fl_rcu_read_unlock(fn);
	return got ? mapping : -1;
}

/* _lock_anon_vma [v6.18]: 0, an errno or FL_RETRY */
static long long lock_anon_vma(struct fl_world *w, const char *fn, struct fl_mm *mm,
			       struct move_state *st, const struct fl_pte *orig_src,
			       long long src_addr, long long dst_addr, bool first)
{
	struct fl_folio *folio;
	int av;

	if (st->src_anon_vma >= 0)
		return 0;
	folio = &w->folios[orig_src->folio];
	if (first)
		av = get_anon_vma_unlocked(w, fn, folio);
	else
		av = folio_get_anon_vma(w, folio);
	if (av < 0)
		return -EAGAIN;
	st->src_anon_vma = av;
	if (!anon_vma_trylock_write(w, fn, av)) {
		move_sleep_prepare(w, fn, mm, st, src_addr, dst_addr);
		anon_vma_lock_write(w, fn, av);
		return FL_RETRY;
	}
	return 0;
}

static long long move_pages_ptes_body(struct fl_world *w, struct fl_mm *mm,
				      struct fl_vma *dvma, long long dst_addr,
				      long long src_addr, long long len, long long mode,
				      struct move_state *st)
{
	static const char fn[] = "move_pages_ptes";
	struct fl_lock *dst_ptl = fl_ptl(w, mm, dst_addr);
	struct fl_lock *src_ptl = fl_ptl(w, mm, src_addr);

	for (;;) {	/* retry: */
		struct fl_pte orig_dst, orig_src;
		long long r;

		if (st->dst_mapped || st->src_mapped)
			unmap_both(w, fn, mm, st, src_addr, dst_addr);
		pte_offset_map(w, fn, mm, dst_addr);	/* pte_offset_map_rw_nolock */
		st->dst_mapped = true;
		pte_offset_map(w, fn, mm, src_addr);
		st->src_mapped = true;

		fl_lock_op(fn, dst_ptl, 0);
		orig_dst = fl_pte_get(w, mm, dst_addr);
		fl_unlock_op(fn, dst_ptl);
		if (orig_dst.kind != PTE_NONE)
			return -EEXIST;

		fl_lock_op(fn, src_ptl, 0);
		orig_src = fl_pte_get(w, mm, src_addr);
		fl_unlock_op(fn, src_ptl);
		if (orig_src.kind == PTE_NONE) {
			if (!(mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES))
				return -ENOENT;
			return PAGE_SIZE;	/* nothing to do to move a hole */
		}

		/* if the PTE changed after we locked the folio, start over (R9) */
		if (st->src_folio && w->knob[K_MOVE_RECHECK_SRC] &&
		    !fl_pte_same(&st->src_folio_pte, &orig_src))
			return -EAGAIN;

		if (orig_src.kind == PTE_MIGRATION) {	/* a migration entry */
			move_sleep_prepare(w, fn, mm, st, src_addr, dst_addr);
			fl_yield_lock(FL_OP_WAIT, FL_EXCL, 0, "migration_entry_wait", "wait",
				      &w->folios[orig_src.folio].lock);
			return -EAGAIN;
		}
		if (orig_src.kind == PTE_SWAP) {
			struct fl_folio *folio = NULL;

			if (!orig_src.exclusive)
				return -EBUSY;
			if (!w->swap.present)	/* get_swap_device */
				return -EAGAIN;
			if (!st->src_folio)
				/* filemap_get_folio: the lookup and folio_try_get are one step
				 * (under RCU, rechecked with xas_reload); a folio being freed
				 * is not returned */
				folio = swap_cache_get_folio_op(w, fn, orig_src.entry);
			if (folio) {
				st->src_folio = folio;
				st->src_folio_pte = orig_src;
				if (!folio_trylock(fn, folio)) {	/* put_swap_device, sleep */
					move_sleep_prepare(w, fn, mm, st, src_addr, dst_addr);
					folio_lock(fn, folio);
					continue;
				}
			}
			return move_swap_pte(w, mm, dvma, dst_addr, src_addr, &orig_dst, &orig_src,
					     st->src_folio, orig_src.entry);
		}
		if (orig_src.kind == PTE_ZERO)
			return move_zeropage_pte(w, mm, dst_addr, src_addr, &orig_dst, &orig_src);
		if (w->knob[K_MOVE_LOCK_ORDER_AV_FIRST] && w->knob[K_MOVE_ANON_VMA_LOCK]) {
			r = lock_anon_vma(w, fn, mm, st, &orig_src, src_addr, dst_addr, true);
			if (r == FL_RETRY)
				continue;
			if (r)
				return r;
		}
		if (!st->src_folio) {
			struct fl_pte cur;
			struct fl_folio *folio;
			bool locked;

			fl_lock_op(fn, src_ptl, 0);
			cur = fl_pte_get(w, mm, src_addr);
			if (!fl_pte_same(&orig_src, &cur)) {
				fl_unlock_op(fn, src_ptl);
				return -EAGAIN;
			}
			folio = orig_src.folio >= 0 ? &w->folios[orig_src.folio] : NULL;
			if (!folio || (w->knob[K_MOVE_CHECK_EXCLUSIVE] && !folio->pae)) {
				fl_unlock_op(fn, src_ptl);
				return -EBUSY;
			}
			locked = folio_trylock(fn, folio);
			folio_get(w, fn, folio);
			st->src_folio = folio;
			st->src_folio_pte = orig_src;
			fl_unlock_op(fn, src_ptl);
			if (!locked) {
				move_sleep_prepare(w, fn, mm, st, src_addr, dst_addr);
				folio_lock(fn, folio);
				continue;
			}
		}
		if (w->knob[K_MOVE_ANON_VMA_LOCK] && st->src_anon_vma < 0) {
			r = lock_anon_vma(w, fn, mm, st, &orig_src, src_addr, dst_addr, false);
			if (r == FL_RETRY)
				continue;
			if (r)
				return r;
		}
		return move_present_ptes(w, mm, dvma, dst_addr, src_addr, &orig_dst, &orig_src, st,
					 len);
	}
}

/* move_pages_ptes (v6.18 with the anon_vma write lock; v6.19 without) */
static long long move_pages_ptes(struct fl_world *w, struct fl_mm *mm, struct fl_vma *dvma,
				 long long dst_addr, long long src_addr, long long len,
				 long long mode)
{
	static const char fn[] = "move_pages_ptes";
	struct move_state st = { .src_folio = NULL, .src_anon_vma = -1 };
	long long ret;

	fl_point(fn, "mmu_notifier_start", mm->n_mm);
	ret = move_pages_ptes_body(w, mm, dvma, dst_addr, src_addr, len, mode, &st);
	/* out: */
	if (st.src_anon_vma >= 0) {
		anon_vma_unlock_write(w, fn, st.src_anon_vma);
		put_anon_vma(w, fn, st.src_anon_vma);
	}
	if (st.src_folio) {
		folio_unlock(fn, st.src_folio);
		folio_put(w, fn, st.src_folio, true);
	}
	if (st.src_mapped)
		pte_unmap(w, fn, mm, src_addr);
	if (st.dst_mapped)
		pte_unmap(w, fn, mm, dst_addr);
	fl_point(fn, "mmu_notifier_end", mm->n_mm);
	return ret;
}

/* --- move_pages and the ioctl --------------------------------------------------------- */

struct returned_arg {
	struct fl_world *w;
	long long ret;
};

static struct fl_value returned_thunk(void *arg)
{
	struct returned_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_STR };

	v.s = fl_errname(a->w, a->ret);
	return v;
}

static const char *move_at_name(struct fl_world *w, long long src_addr)
{
	char buf[64];
	const char *s;

	snprintf(buf, sizeof(buf), "move_pages_ptes@0x%llx", (unsigned long long)src_addr);
	s = fl_sched_strdup(w->s, buf);
	return s ? s : "move_pages_ptes@?";
}

/* move_pages (v6.18/v6.19) */
static long long move_pages(struct fl_world *w, struct fl_mm *mm, long long dst_start,
			    long long src_start, long long len, long long mode)
{
	static const char fn[] = "move_pages";
	struct fl_vma *dvma = NULL, *svma = NULL;
	long long moved = 0, err, r;
	int changing;

	r = uffd_move_lock(w, mm, dst_start, src_start, &dvma, &svma);
	if (r)
		return r;
	err = -EAGAIN;
	fl_down_read(fn, &mm->map_changing_lock, 0);
	changing = read_mmap_changing(fn, mm);
	if (!changing) {
		bool in_range = src_start + len <= svma->end && dst_start + len <= dvma->end;

		err = -EINVAL;
		if (in_range && !svma->shared && !dvma->shared)
			err = validate_move_areas(svma, dvma);
	}
	if (!changing && err == 0) {
		long long src_addr = src_start, dst_addr = dst_start, src_end = src_start + len;
		long long step = 0;
		long long uncounted = 0;	/* passes whose success the sticky err hid */

		while (src_addr < src_end) {
			struct returned_arg ra = { .w = w };
			long long ret;

			if (!fl_table_find(w, mm, src_addr)) {	/* mm_find_pmd / pmd_none */
				if (!(mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES)) {
					err = -ENOENT;
					break;
				}
				fl_table(w, mm, src_addr);	/* __pte_alloc */
			}
			fl_table(w, mm, dst_addr);	/* pte_alloc */
			ret = move_pages_ptes(w, mm, dvma, dst_addr, src_addr, src_end - src_addr,
					      mode);
			ra.ret = ret;
			fl_yield_mem(fn, "returned", move_at_name(w, src_addr), returned_thunk,
				     &ra);
			if (ret < 0) {
				err = ret;
				uncounted = 0;
			} else {
				/* the sticky -EAGAIN of v6.18/v6.19 (docs/kernel-notes/move.md) */
				step = ret;
				if (w->knob[K_MOVE_RESET_ERR]) {
					err = 0;
				} else if (err == -EAGAIN &&
					   ++uncounted >= MOVE_LIVELOCK_PASSES) {
					/* I16: retrying forever without possible progress */
					fl_thread_violation(FL_INV_MOVE_RESULT, fn,
						"livelock: move_pages went round %lld times at 0x%llx with successes it never counts (sticky -EAGAIN)",
						uncounted, src_addr);
				}
			}
			if (err) {
				if (err == -EAGAIN)
					continue;
				break;
			}
			dst_addr += step;
			src_addr += step;
			moved += step;
		}
	}
	fl_up_read(fn, &mm->map_changing_lock);
	uffd_move_unlock(fn, dvma, svma);
	return moved ? moved : err;
}

/* userfaultfd_move (fs/userfaultfd.c, v6.18/v6.19) */
struct fl_move_result userfaultfd_move(struct fl_world *w, struct fl_mm *mm, long long dst,
				       long long src, long long len, long long mode)
{
	static const char fn[] = "userfaultfd_move";
	struct fl_move_result r = { 0, 0, false };
	long long ret;

	if (read_mmap_changing(fn, mm)) {
		r.ret = -EAGAIN;
		r.move = -EAGAIN;
		r.has_move = true;
		return r;
	}
	if (len <= 0 || dst < 0 || src < 0) {
		r.ret = -EINVAL;
		return r;
	}
	if (mode & ~(long long)(UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES | UFFDIO_MOVE_MODE_DONTWAKE)) {
		r.ret = -EINVAL;
		return r;
	}
	if (!mm->alive) {
		r.ret = -ESRCH;
		return r;
	}
	ret = move_pages(w, mm, dst, src, len, mode);
	r.has_move = true;
	if (ret < 0) {
		r.ret = ret;
		r.move = ret;
		return r;
	}
	r.ret = ret == len ? 0 : -EAGAIN;
	r.move = ret;
	return r;
}
