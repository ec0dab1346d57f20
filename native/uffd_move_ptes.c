// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/userfaultfd.c, second part (fuzzlock/model/uffd_move_ptes.py): the PTE
 * moves of UFFDIO_MOVE, each under double_pt_lock: move_present_ptes (with
 * check_ptes_for_batched_move, its batch), move_zeropage_pte and move_swap_pte,
 * the is_pte_pages_stable recheck they share, and the I11 checks on a moved
 * page.  Both this file and userfaultfd.c follow mm/userfaultfd.c, which keeps
 * the whole move path in one file; the model splits it where the locking
 * changes hands: userfaultfd.c has the ioctl, the VMA locks, move_pages and
 * move_pages_ptes (which takes, and sleeps on, the folio lock and the anon_vma
 * lock), this file what move_pages_ptes calls once it holds them, with both
 * PTLs taken here.  Lengths and results count pages.
 */
#include <stdio.h>
#include <string.h>

#include "userfaultfd_int.h"

/* is_pte_pages_stable (v6.18/v6.19) */
static bool is_pte_pages_stable(struct fl_world *w, struct fl_mm *mm, long long dst_addr,
				long long src_addr, const struct fl_pte *orig_dst,
				const struct fl_pte *orig_src)
{
	struct fl_pte s = fl_pte_get(w, mm, src_addr), d = fl_pte_get(w, mm, dst_addr);
	bool src_same = fl_pte_same(&s, orig_src);
	bool dst_same = fl_pte_same(&d, orig_dst) || !w->knob[K_MOVE_RECHECK_DST];

	return src_same && dst_same;
}

/* user.data: the content moves with the PTE; count PTE moves for move.result */
static void ghost_move(struct fl_world *w, struct fl_mm *mm, long long src_addr,
		       long long dst_addr)
{
	int me = fl_me(w);
	long long v = fl_ghost_get(w, mm, src_addr);

	if (me >= 0)
		w->pte_moves[me]++;
	fl_ghost_set(w, mm, src_addr, 0);
	fl_ghost_set(w, mm, dst_addr, v);
}

/* move_zeropage_pte (v6.18/v6.19) */
long long move_zeropage_pte(struct fl_world *w, struct fl_mm *mm, long long dst_addr,
			    long long src_addr, const struct fl_pte *orig_dst,
			    const struct fl_pte *orig_src)
{
	static const char fn[] = "move_zeropage_pte";
	struct fl_lock *dst_ptl = fl_ptl(w, mm, dst_addr), *src_ptl = fl_ptl(w, mm, src_addr);
	struct fl_pte z = { .kind = PTE_ZERO, .folio = -1 };

	double_pt_lock(fn, dst_ptl, src_ptl);
	if (!is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src)) {
		double_pt_unlock(fn, dst_ptl, src_ptl);
		return -EAGAIN;
	}
	fl_set_pte(w, mm, src_addr, NULL);
	z.mid = orig_src->mid;
	fl_set_pte(w, mm, dst_addr, &z);
	ghost_move(w, mm, src_addr, dst_addr);
	double_pt_unlock(fn, dst_ptl, src_ptl);
	return PAGE_SIZE;
}

/* I11 after a page moved, under both PTLs */
static void check_move_post_state(struct fl_world *w, const char *fn, struct fl_mm *mm,
				  struct fl_vma *dvma, long long src_addr, long long dst_addr,
				  struct fl_folio *folio, bool pae0, int mapcount0)
{
	struct fl_pte dst = fl_pte_get(w, mm, dst_addr), src = fl_pte_get(w, mm, src_addr);
	char msg[512];
	size_t n = 0;
	const char *sep = "";

	msg[0] = '\0';
#define WRONG(txt) do { n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s", sep, txt); \
			sep = "; "; } while (0)
	if (src.kind != PTE_NONE)
		WRONG("src PTE not none");
	if (dst.kind == PTE_NONE || dst.folio != folio->id || !dst.writable)
		WRONG("dst PTE does not map the folio writable");
	if (folio->mapping != dvma->anon_vma)
		WRONG("mapping is not the dst VMA's anon_vma");
	if (folio->index != fl_linear_page_index(dvma, dst_addr))
		WRONG("index is not dst's linear index");
	if (folio->pae != pae0 || folio->mapcount != mapcount0)
		WRONG("PageAnonExclusive or mapcount changed");
#undef WRONG
	if (n)
		fl_thread_violation(FL_INV_MOVE_POST_STATE, fn, "%s moved 0x%llx -> 0x%llx: %s",
				    folio->name, (unsigned long long)src_addr,
				    (unsigned long long)dst_addr, msg);
}

static void check_move_failed(struct fl_world *w, const char *fn, struct fl_mm *mm,
			      long long src_addr, struct fl_folio *folio, int mapping0,
			      long long index0, const struct fl_pte *pte0)
{
	struct fl_pte cur = fl_pte_get(w, mm, src_addr);

	if (folio->mapping != mapping0 || folio->index != index0 || !fl_pte_same(&cur, pte0))
		fl_thread_violation(FL_INV_MOVE_POST_STATE, fn,
				    "the move of %s at 0x%llx failed but changed it: mapping "
				    "%s -> %s, index %lld -> %lld", folio->name,
				    (unsigned long long)src_addr,
				    mapping0 >= 0 ? w->avs[mapping0].repr : "None",
				    folio->mapping >= 0 ? w->avs[folio->mapping].repr : "None",
				    index0, folio->index);
}

static void update_rmap(struct fl_world *w, const char *fn, struct fl_folio *folio,
			struct fl_vma *dvma, long long dst_addr)
{
	folio_move_anon_rmap(w, fn, folio, dvma);
	set_folio_index(w, fn, folio, fl_linear_page_index(dvma, dst_addr));
}

/* check_ptes_for_batched_move (v6.18 with the same-anon_vma check, v6.19 without) */
static struct fl_folio *check_ptes_for_batched_move(struct fl_world *w, const char *fn,
						    struct fl_mm *mm, long long src_addr,
						    long long dst_addr, int src_anon_vma)
{
	struct fl_pte p;
	struct fl_folio *folio;

	if (fl_pte_get(w, mm, dst_addr).kind != PTE_NONE)
		return NULL;
	p = fl_pte_get(w, mm, src_addr);
	if (p.kind != PTE_PRESENT || p.folio < 0)
		return NULL;
	folio = &w->folios[p.folio];
	if (!folio_trylock(fn, folio))
		return NULL;
	if ((w->knob[K_MOVE_CHECK_EXCLUSIVE] && !folio->pae) ||
	    (w->knob[K_MOVE_BATCH_SAME_AV] && src_anon_vma >= 0 &&
	     folio->mapping != src_anon_vma)) {
		folio_unlock(fn, folio);
		return NULL;
	}
	return folio;
}

static long long min_ll(long long a, long long b)
{
	return a < b ? a : b;
}

static long long floor_div(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* move_present_ptes (v6.18/v6.19): a batch under double_pt_lock */
long long move_present_ptes(struct fl_world *w, struct fl_mm *mm, struct fl_vma *dvma,
			    long long dst_addr, long long src_addr,
			    const struct fl_pte *orig_dst, const struct fl_pte *orig_src,
			    struct move_state *st, long long len)
{
	static const char fn[] = "move_present_ptes";
	long long src_start = src_addr, src_end, err = 0;
	struct fl_lock *dst_ptl, *src_ptl;
	struct fl_folio *folio = st->src_folio;

	len = min_ll(len, (floor_div(dst_addr, PTRS_PER_PTE) + 1) * PTRS_PER_PTE - dst_addr);
	src_end = min_ll(src_addr + len, (floor_div(src_addr, PTRS_PER_PTE) + 1) * PTRS_PER_PTE);
	dst_ptl = fl_ptl(w, mm, dst_addr);
	src_ptl = fl_ptl(w, mm, src_addr);
	double_pt_lock(fn, dst_ptl, src_ptl);
	if (!is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src)) {
		err = -EAGAIN;
	} else {
		bool pinned = folio_maybe_dma_pinned(w, fn, folio);

		if (pinned || (w->knob[K_MOVE_CHECK_EXCLUSIVE] && !folio->pae))
			err = -EBUSY;
	}
	if (err == 0) {
		struct fl_folio *src_folio = folio;
		int src_anon_vma = st->src_anon_vma;
		int mapping0;
		long long index0;
		struct fl_pte pte0;

		folio_put(w, fn, folio, true);	/* the page table holds a reference */
		st->src_folio = NULL;
		mapping0 = folio->mapping;
		index0 = folio->index;
		pte0 = fl_pte_get(w, mm, src_addr);
		for (;;) {
			struct fl_pte cur = fl_pte_get(w, mm, src_addr), nw;
			bool pae0 = src_folio->pae, pin_first = w->knob[K_MOVE_PIN_FIRST] != 0;
			int mapcount0 = src_folio->mapcount;

			if (!pin_first)	/* the pre-2024 order (R10) */
				update_rmap(w, fn, src_folio, dvma, dst_addr);
			fl_set_pte(w, mm, src_addr, NULL);	/* ptep_get_and_clear */
			if (folio_maybe_dma_pinned(w, fn, src_folio)) {
				fl_set_pte(w, mm, src_addr, &cur);
				err = -EBUSY;
				if (src_addr == src_start)
					check_move_failed(w, fn, mm, src_addr, src_folio, mapping0,
							  index0, &pte0);
				break;
			}
			if (pin_first)
				update_rmap(w, fn, src_folio, dvma, dst_addr);
			memset(&nw, 0, sizeof(nw));
			nw.kind = PTE_PRESENT;
			nw.folio = src_folio->id;
			nw.writable = true;
			nw.young = true;
			nw.dirty = cur.dirty;
			nw.soft_dirty = true;
			nw.mid = cur.mid;
			fl_set_pte(w, mm, dst_addr, &nw);
			ghost_move(w, mm, src_addr, dst_addr);
			check_move_post_state(w, fn, mm, dvma, src_addr, dst_addr, src_folio, pae0,
					      mapcount0);
			src_addr += PAGE_SIZE;
			if (src_addr == src_end)
				break;
			dst_addr += PAGE_SIZE;
			folio_unlock(fn, src_folio);
			src_folio = check_ptes_for_batched_move(w, fn, mm, src_addr, dst_addr,
								src_anon_vma);
			if (!src_folio)
				break;
		}
		if (src_folio)
			folio_unlock(fn, src_folio);
	}
	double_pt_unlock(fn, dst_ptl, src_ptl);
	return src_addr > src_start ? src_addr - src_start : err;
}

/*
 * move_swap_pte (v6.18/v6.19): no anon_vma lock even pre-patch; a swap-cache
 * folio's rmap moves with the entry (knob move.swap_moves_rmap, I12).
 */
long long move_swap_pte(struct fl_world *w, struct fl_mm *mm, struct fl_vma *dvma,
			long long dst_addr, long long src_addr,
			const struct fl_pte *orig_dst, const struct fl_pte *orig_src,
			struct fl_folio *src_folio, int entry)
{
	static const char fn[] = "move_swap_pte";
	struct fl_lock *dst_ptl, *src_ptl;
	struct fl_pte np;

	if (src_folio && src_folio->swap != entry)
		return -EAGAIN;
	dst_ptl = fl_ptl(w, mm, dst_addr);
	src_ptl = fl_ptl(w, mm, src_addr);
	double_pt_lock(fn, dst_ptl, src_ptl);
	if (!is_pte_pages_stable(w, mm, dst_addr, src_addr, orig_dst, orig_src)) {
		double_pt_unlock(fn, dst_ptl, src_ptl);
		return -EAGAIN;
	}
	if (src_folio) {
		if (w->knob[K_MOVE_SWAP_MOVES_RMAP])
			update_rmap(w, fn, src_folio, dvma, dst_addr);
	} else if (fl_swap_slot(w, entry)->cache >= 0) {	/* SWAP_HAS_CACHE appeared: retry */
		double_pt_unlock(fn, dst_ptl, src_ptl);
		return -EAGAIN;
	}
	fl_set_pte(w, mm, src_addr, NULL);
	np = *orig_src;
	np.soft_dirty = true;
	fl_set_pte(w, mm, dst_addr, &np);
	ghost_move(w, mm, src_addr, dst_addr);
	double_pt_unlock(fn, dst_ptl, src_ptl);
	return PAGE_SIZE;
}

