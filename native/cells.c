// SPDX-License-Identifier: GPL-2.0-only
/*
 * What of struct fl_world a footprint records (footprint.h): the C twin of
 * fuzzlock/model/cells.py, which names the Python world's cells.
 *
 * Everything is recorded by default, so state added to the world later is
 * covered without a change here (soundly, if perhaps coarsely).  A unit is left
 * out only if no thread's step can ever observe a difference through it -- it
 * is constant during the concurrent phase, or only ever touched by one thread,
 * or a cache or scratch buffer whose content never feeds back into what the
 * model does -- and the reason is written next to it below.  Locks are folded
 * into one cell each (the unit of their owner field) so that the scheduler's
 * explicit lock cells and the model's own reads of lock state (assertions like
 * folio->lock.owner != me) meet.
 *
 * Not excluded, although the brief suggested it: the ghost user-data values
 * (fl_table.ghost).  A user load compares the value it reads with the ghost and
 * raises user.data, so the ghost does feed back (into the outcome); every
 * ghost write happens in a step that also writes the same address's PTE or
 * folio data, so recording it costs next to no independence.
 */
#include <pthread.h>
#include <stddef.h>

#include "footprint.h"
#include "world.h"

#define W_OFF(field)	offsetof(struct fl_world, field)
#define W_SIZE(field)	sizeof(((struct fl_world *)0)->field)
#define EXCL(l, base, type, field) \
	fl_fp_layout_exclude(l, (base) + offsetof(type, field), sizeof(((type *)0)->field))

static struct fl_fp_layout fl_world_layout;
static int fl_world_layout_ok;
static pthread_once_t fl_world_layout_once = PTHREAD_ONCE_INIT;

static void fl_world_layout_build(void)
{
	struct fl_fp_layout *l = &fl_world_layout;
	size_t i, b;

	if (fl_fp_layout_init(l, sizeof(struct fl_world)))
		return;

	/* Constant during a run: set by fl_world_init / fl_model_new. */
	fl_fp_layout_exclude(l, W_OFF(s), W_SIZE(s));
	fl_fp_layout_exclude(l, W_OFF(knob), W_SIZE(knob));
	fl_fp_layout_exclude(l, W_OFF(cls_folio), W_OFF(cls_av) + W_SIZE(cls_av) - W_OFF(cls_folio));

	/*
	 * Trace and message strings of the objects (names, lock names, repr
	 * caches): each is a pure function of the object's identity (its id, or
	 * its mm and index, or the scenario's name), written when the object is
	 * created -- by a step that also writes the object's recorded fields --
	 * or filled lazily with that same text.  Model code only hands them to the
	 * trace and to messages, or orders two PTLs by name (double_pt_lock), and
	 * a step that gets hold of an object reads the recorded fields that find
	 * it (the arrays' counts, ids, mm and index), so conflicts with its
	 * creation are recorded there.
	 */
	for (i = 0; i < FL_MAX_MMS; i++) {
		b = W_OFF(mms) + i * sizeof(struct fl_mm);
		EXCL(l, b, struct fl_mm, n_mmap_lock);
		EXCL(l, b, struct fl_mm, n_ptl);
		EXCL(l, b, struct fl_mm, n_mcl);
		EXCL(l, b, struct fl_mm, n_changing);
		EXCL(l, b, struct fl_mm, n_mm);
		fl_fp_layout_lock(l, b + offsetof(struct fl_mm, mmap_lock));
		fl_fp_layout_lock(l, b + offsetof(struct fl_mm, page_table_lock));
		fl_fp_layout_lock(l, b + offsetof(struct fl_mm, map_changing_lock));
	}
	for (i = 0; i < FL_MAX_VMAS; i++) {
		b = W_OFF(vmas) + i * sizeof(struct fl_vma);
		EXCL(l, b, struct fl_vma, name);
		EXCL(l, b, struct fl_vma, lock_name);
		fl_fp_layout_lock(l, b + offsetof(struct fl_vma, lock));
	}
	for (i = 0; i < FL_MAX_TABLES; i++) {
		b = W_OFF(tables) + i * sizeof(struct fl_table);
		EXCL(l, b, struct fl_table, ptl_name);
		/*
		 * seq: the insertion order of a table's PTEs, kept so that the
		 * invariant checks and walk records iterate like a Python dict.  It
		 * only orders those iterations (which of several simultaneous
		 * problems a message names first), never a model decision.
		 */
		EXCL(l, b, struct fl_table, seq);
		fl_fp_layout_lock(l, b + offsetof(struct fl_table, ptl));
	}
	fl_fp_layout_exclude(l, W_OFF(pte_seq), W_SIZE(pte_seq));	/* the seq counter */
	for (i = 0; i < FL_MAX_FOLIOS; i++) {
		b = W_OFF(folios) + i * sizeof(struct fl_folio);
		EXCL(l, b, struct fl_folio, name);
		EXCL(l, b, struct fl_folio, n_refcount);
		EXCL(l, b, struct fl_folio, n_mapping);
		EXCL(l, b, struct fl_folio, n_index);
		EXCL(l, b, struct fl_folio, n_mapcount);
		EXCL(l, b, struct fl_folio, n_pincount);
		EXCL(l, b, struct fl_folio, n_data);
		EXCL(l, b, struct fl_folio, n_lru);
		EXCL(l, b, struct fl_folio, repr);
		EXCL(l, b, struct fl_folio, have_repr);	/* which repr strings are cached */
		EXCL(l, b, struct fl_folio, mrepr);
#ifdef FL_MAX_SWAP
		EXCL(l, b, struct fl_folio, n_swap);
#endif
		fl_fp_layout_lock(l, b + offsetof(struct fl_folio, lock));
	}
#ifdef FL_MAX_SWAP
	/* the swap device's trace strings: written by fl_world_init, constant since */
	for (i = 0; i < FL_MAX_SWAP; i++) {
		b = W_OFF(swap.e) + i * sizeof(struct fl_swap_slot);
		EXCL(l, b, struct fl_swap_slot, name);
		EXCL(l, b, struct fl_swap_slot, n_cache);
		EXCL(l, b, struct fl_swap_slot, n_swapin);
		EXCL(l, b, struct fl_swap_slot, repr);
	}
#endif
	for (i = 0; i < FL_MAX_AV_SLOTS; i++) {
		b = W_OFF(slots) + i * sizeof(struct fl_av_slot);
		EXCL(l, b, struct fl_av_slot, name);
		EXCL(l, b, struct fl_av_slot, n_rwsem);
		EXCL(l, b, struct fl_av_slot, n_root);
		fl_fp_layout_lock(l, b + offsetof(struct fl_av_slot, lock));
	}
	for (i = 0; i < FL_MAX_AV_OBJS; i++) {
		b = W_OFF(avs) + i * sizeof(struct fl_anon_vma);
		EXCL(l, b, struct fl_anon_vma, repr);
		EXCL(l, b, struct fl_anon_vma, n_refcount);
	}

	/*
	 * next_mid: the ghost mapping-id counter.  Mapping ids are unique tags of
	 * PTEs for the walk.complete ground truth, which only compares them for
	 * equality (and sorts a message by them): two steps that take ids in the
	 * other order give the same behaviour up to renaming.  The ids themselves
	 * live in the PTEs, which are recorded (and always written whole).
	 */
	fl_fp_layout_exclude(l, W_OFF(next_mid), W_SIZE(next_mid));

	/*
	 * Per thread slot, touched only by the thread of that slot during the
	 * concurrent phase (w->x[fl_me(w)]), so never a conflict between two
	 * threads' steps: temporary folio references, pte_moves, pins, the
	 * in-flight walk record.  (check_end reads refs with recording off.)
	 */
	fl_fp_layout_exclude(l, W_OFF(refs), W_SIZE(refs));
	fl_fp_layout_exclude(l, W_OFF(pte_moves), W_SIZE(pte_moves));
	fl_fp_layout_exclude(l, W_OFF(pins), W_SIZE(pins));
	fl_fp_layout_exclude(l, W_OFF(npins), W_SIZE(npins));
	fl_fp_layout_exclude(l, W_OFF(walks), W_SIZE(walks));

	/*
	 * The PTE-name cache (fl_pte_name): "pte:mmM:0xA" is a pure function of
	 * (mm, addr); a step only gets the string back, for the trace.
	 */
	fl_fp_layout_exclude(l, W_OFF(nnames), W_SIZE(nnames));
	fl_fp_layout_exclude(l, W_OFF(names), W_SIZE(names));

	/* Scratch fully written before it is read, within one call (walkrec_check). */
	fl_fp_layout_exclude(l, W_OFF(walk_end), W_SIZE(walk_end));

	/*
	 * Written only when a violation or a capacity error ends the run (the
	 * violation's objects, the full flag); read after the run.
	 */
	fl_fp_layout_exclude(l, W_OFF(viol_objs), W_SIZE(viol_objs));
	fl_fp_layout_exclude(l, W_OFF(has_viol_objs), W_SIZE(has_viol_objs));
	fl_fp_layout_exclude(l, W_OFF(full), W_SIZE(full));

	/* Scratch of the invariant checks, which run with recording off anyway. */
	fl_fp_layout_exclude(l, W_OFF(chk_present), W_SIZE(chk_present));
	fl_fp_layout_exclude(l, W_OFF(chk_has_pae), W_SIZE(chk_has_pae));
	fl_fp_layout_exclude(l, W_OFF(chk_seen), W_SIZE(chk_seen));

	fl_world_layout_ok = 1;
}

const struct fl_fp_layout *fl_fp_world_layout(void)
{
	pthread_once(&fl_world_layout_once, fl_world_layout_build);
	return fl_world_layout_ok ? &fl_world_layout : NULL;
}
