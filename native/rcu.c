// SPDX-License-Identifier: GPL-2.0-only
/*
 * The anon_vma slab as a typesafe-by-RCU pool (fuzzlock/sched/rcu.py,
 * TypesafePool): freeing a slot, and following a pointer into it (deref).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/* TypesafePool.free, in a thunk: nonzero after a violation */
int fl_av_free(struct fl_world *w, int av, const char *fn)
{
	struct fl_anon_vma *a = &w->avs[av];
	struct fl_av_slot *sl = &w->slots[a->slot];

	if (!sl->live || sl->gen != a->gen) {
		fl_sched_violation(w->s, FL_INV_UAF, fn, "double free of anon_vma:%d gen %d", a->slot,
				   a->gen);
		return -1;
	}
	sl->live = false;
	a->free_clock = w->s->clock;
	fl_fp_rcu_free();	/* footprints: ordered against RCU section starts */
	return 0;
}

/*
 * TypesafePool.deref: the object @av's memory holds now (@av itself while it is
 * live, the slot's object if it was freed inside the current thread's RCU
 * section), or -1 after recording the uaf message in @msg and its object.
 */
static int fl_av_touch(struct fl_world *w, int av, const char *field, char *msg, size_t len)
{
	struct fl_anon_vma *a = &w->avs[av];
	struct fl_av_slot *sl = &w->slots[a->slot];
	struct fl_thread *t = w->s->current;
	const char *dot = field[0] ? "." : "";
	char what[64];

	if (sl->gen == a->gen && sl->live)
		return av;
	if (a->free_clock >= 0 && t && t->rcu_since >= 0 && t->rcu_since < a->free_clock)
		return sl->obj;
	snprintf(what, sizeof(what), "anon_vma:%d%s%s", a->slot, dot, field);
	fl_viol_objects(w, what, NULL);
	snprintf(msg, len,
		 "anon_vma:%d%s%s touched after it was freed (gen %d, slot now gen %d%s) "
		 "outside an RCU section that covers the free",
		 a->slot, dot, field, a->gen, sl->gen, sl->live ? " live" : " free");
	return -1;
}

/* TypesafePool.deref from a thread body: the object the memory holds now, or uaf */
int fl_av_deref(struct fl_world *w, int av, const char *fn, const char *field)
{
	char msg[FL_MSG_LEN];
	int mem = fl_av_touch(w, av, field, msg, sizeof(msg));

	if (mem < 0)
		fl_thread_violation(FL_INV_UAF, fn, "%s", msg);
	return mem;
}

/* TypesafePool.deref from a thunk: the object, or -1 after a uaf violation */
int fl_av_deref_thunk(struct fl_world *w, int av, const char *fn, const char *field)
{
	char msg[FL_MSG_LEN];
	int mem = fl_av_touch(w, av, field, msg, sizeof(msg));

	if (mem < 0)
		fl_sched_violation(w->s, FL_INV_UAF, fn, "%s", msg);
	return mem;
}
