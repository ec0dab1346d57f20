// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/gup.c (fuzzlock/model/gup.py): GUP-fast pins and unpin_user_page.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

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
