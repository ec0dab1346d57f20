// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to the two halves of mm/userfaultfd.c (userfaultfd.c and
 * uffd_move_ptes.c): the state move_pages_ptes keeps across its retry label and
 * the PTE moves it calls.
 */
#ifndef FUZZLOCK_USERFAULTFD_INT_H
#define FUZZLOCK_USERFAULTFD_INT_H

#include "prim.h"

#define FL_UFFD_HIDDEN __attribute__((visibility("hidden")))

#define PAGE_SIZE	1

/* the locals of move_pages_ptes that live across its retry label */
struct move_state {
	struct fl_folio *src_folio;
	struct fl_pte src_folio_pte;
	int src_anon_vma;
	bool src_mapped, dst_mapped;
};

/* uffd_move_ptes.c */
long long move_zeropage_pte(struct fl_world *w, struct fl_mm *mm, long long dst_addr,
			    long long src_addr, const struct fl_pte *orig_dst,
			    const struct fl_pte *orig_src) FL_UFFD_HIDDEN;
long long move_present_ptes(struct fl_world *w, struct fl_mm *mm, struct fl_vma *dvma,
			    long long dst_addr, long long src_addr, const struct fl_pte *orig_dst,
			    const struct fl_pte *orig_src, struct move_state *st,
			    long long len) FL_UFFD_HIDDEN;
long long move_swap_pte(struct fl_world *w, struct fl_mm *mm, struct fl_vma *dvma,
			long long dst_addr, long long src_addr, const struct fl_pte *orig_dst,
			const struct fl_pte *orig_src, struct fl_folio *src_folio,
			int entry) FL_UFFD_HIDDEN;

#endif /* FUZZLOCK_USERFAULTFD_INT_H */
