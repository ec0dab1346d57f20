// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/rmap.c (fuzzlock/model/rmap.py): the anon_vma life cycle, the folio
 * rmap updates of the slice (no fork), and the anon rmap walk
 * (folio_lock_anon_vma_read, rmap_walk_anon, folio_referenced) with its
 * walk.complete ground truth (fuzzlock/model/walkrecord.py).
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/* --- the typesafe pool (fuzzlock/sched/rcu.py) ------------------------------ */

/* TypesafePool.free, in a thunk: nonzero after a violation */
static int fl_av_free(struct fl_world *w, int av, const char *fn)
{
	struct fl_anon_vma *a = &w->avs[av];
	struct fl_av_slot *sl = &w->slots[a->slot];

	if (!sl->live || sl->gen != a->gen) {
		fl_sched_violation(w->s, "uaf", fn, "double free of anon_vma:%d gen %d", a->slot,
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
		fl_thread_violation("uaf", fn, "%s", msg);
	return mem;
}

/* TypesafePool.deref from a thunk: the object, or -1 after a uaf violation */
static int fl_av_deref_thunk(struct fl_world *w, int av, const char *fn, const char *field)
{
	char msg[FL_MSG_LEN];
	int mem = fl_av_touch(w, av, field, msg, sizeof(msg));

	if (mem < 0)
		fl_sched_violation(w->s, "uaf", fn, "%s", msg);
	return mem;
}

/* --- anon_vma life cycle ------------------------------------------------------ */

static int anon_vma_alloc(struct fl_world *w, const char *fn)
{
	int av;

	fl_might_sleep(fn, "anon_vma");
	av = fl_alloc_anon_vma(w);
	if (av < 0)
		fl_thread_violation("error", fn, "capacity");
	return av;
}

struct fl_av_arg {
	struct fl_world *w;
	const char *fn;
	int av;
	struct fl_folio *folio;
	struct fl_vma *vma;
	long long index;
};

static struct fl_value av_dec_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	v.i = --a->w->avs[a->av].refcount;
	return v;
}

static struct fl_value av_locked_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	const struct fl_lock *lk = fl_av_root_lock(a->w, a->av);
	struct fl_value v = { .kind = FL_VAL_BOOL };

	v.i = !(lk->writer < 0 && !lk->readers);
	return v;
}

static struct fl_value av_free_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };

	fl_av_free(a->w, a->av, a->fn);
	return v;
}

/* anon_vma_free (v6.18/v6.19): the free handshake, then free to the slab */
static void anon_vma_free(struct fl_world *w, int av)
{
	static const char fn[] = "anon_vma_free";
	struct fl_av_arg a = { .w = w, .fn = fn, .av = av };

	fl_might_sleep(fn, w->slots[w->avs[av].slot].name);
	if (w->knob[K_FREE_HANDSHAKE]) {
		int root = w->avs[av].root;

		if (fl_yield_mem(fn, "read", w->slots[w->avs[root].slot].n_rwsem,
				 av_locked_thunk, &a).i) {
			anon_vma_lock_write(w, fn, av);
			anon_vma_unlock_write(w, fn, av);
		}
	}
	fl_yield_mem(fn, "write", w->slots[w->avs[av].slot].name, av_free_thunk, &a);
}

static void __put_anon_vma(struct fl_world *w, int av)
{
	static const char fn[] = "__put_anon_vma";
	int root = w->avs[av].root;

	anon_vma_free(w, av);
	if (root != av) {
		struct fl_av_arg a = { .w = w, .fn = fn, .av = root };

		if (fl_yield_mem(fn, "atomic", w->avs[root].n_refcount, av_dec_thunk, &a).i == 0)
			anon_vma_free(w, root);
	}
}

/* put_anon_vma (v6.18/v6.19): drop a reference; the last one frees */
void put_anon_vma(struct fl_world *w, const char *fn, int av)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = av };

	if (fl_yield_mem(fn, "atomic", w->avs[av].n_refcount, av_dec_thunk, &a).i == 0)
		__put_anon_vma(w, av);
}

static void anon_vma_chain_link(struct fl_world *w, struct fl_vma *vma, int av)
{
	struct fl_anon_vma *a = &w->avs[av];

	if (vma->nchain == FL_MAX_CHAIN || a->ntree == FL_MAX_VMAS)
		fl_world_full(w, "anon_vma chains");
	vma->chain[vma->nchain++] = av;
	a->tree[a->ntree++] = vma->id;
}

/* __anon_vma_prepare (v6.18/v6.19); find_mergeable_anon_vma is not modelled */
static int __anon_vma_prepare(struct fl_world *w, struct fl_vma *vma)
{
	static const char fn[] = "__anon_vma_prepare";
	struct fl_mm *mm = &w->mms[vma->mm];
	int av = anon_vma_alloc(w, fn);
	int allocated = av;

	if (av >= 0)
		w->avs[av].num_children++;	/* self-parent link for new root */
	anon_vma_lock_write(w, fn, av);
	fl_lock_op(fn, &mm->page_table_lock, 0);
	if (vma->anon_vma < 0) {
		vma->anon_vma = av;
		anon_vma_chain_link(w, vma, av);
		w->avs[av].num_active_vmas++;
		allocated = -1;
	}
	fl_unlock_op(fn, &mm->page_table_lock);
	anon_vma_unlock_write(w, fn, av);
	if (allocated >= 0)
		put_anon_vma(w, fn, allocated);
	return 0;
}

int anon_vma_prepare(struct fl_world *w, struct fl_vma *vma)
{
	if (vma->anon_vma >= 0)
		return 0;
	return __anon_vma_prepare(w, vma);
}

/* --- folio_get_anon_vma -------------------------------------------------------- */

bool fl_inc_not_zero(struct fl_world *w, int av)
{
	if (w->avs[av].refcount == 0)
		return false;
	w->avs[av].refcount++;
	return true;
}

struct fl_mapping_arg {
	struct fl_world *w;
	struct fl_folio *folio;
	int mapping;
};

static struct fl_value mapping_read_thunk(void *arg)
{
	struct fl_mapping_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };

	a->mapping = a->folio->mapping;
	if (a->mapping >= 0) {
		v.kind = FL_VAL_STR;
		v.s = a->w->avs[a->mapping].repr;
	}
	return v;
}

static struct fl_value inc_not_zero_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_BOOL };

	v.i = fl_inc_not_zero(a->w, a->av);
	return v;
}

/* READ_ONCE(folio->mapping): the anon_vma object or -1 */
int fl_read_mapping(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	struct fl_mapping_arg a = { w, folio, -1 };

	fl_yield_mem(fn, "read", folio->n_mapping, mapping_read_thunk, &a);
	return a.mapping;
}

/* atomic_inc_not_zero(&av->refcount) on the object @deref reached through @mapping */
bool fl_av_inc_not_zero_op(struct fl_world *w, const char *fn, int mapping, int target)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = target };

	return fl_yield_mem(fn, "atomic", w->avs[mapping].n_refcount, inc_not_zero_thunk, &a).i;
}

/* folio_get_anon_vma (v6.18; asserted under the folio lock in v6.19) */
int folio_get_anon_vma(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "folio_get_anon_vma";
	int mapping, av;

	assert_walk_folio_locked(w, fn, folio);
	fl_rcu_read_lock(fn);
	mapping = fl_read_mapping(w, fn, folio);
	if (mapping < 0) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	if (!folio_mapped(w, fn, folio)) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	av = fl_av_deref(w, mapping, fn, "refcount");
	if (!fl_av_inc_not_zero_op(w, fn, mapping, av)) {
		fl_rcu_read_unlock(fn);
		return -1;
	}
	if (!folio_mapped(w, fn, folio)) {
		fl_rcu_read_unlock(fn);
		put_anon_vma(w, fn, mapping);
		return -1;
	}
	fl_rcu_read_unlock(fn);
	return mapping;
}

/* --- folio rmap updates ---------------------------------------------------------- */

/* I8, in a thunk: nonzero after a violation */
static int check_mapping_store(struct fl_world *w, const char *fn, struct fl_folio *folio,
			       int new)
{
	int me = fl_me(w), old;

	if (!(folio->mapcount > 0 || folio->swap))
		return 0;
	if (folio->lock.owner != me) {
		fl_sched_violation(w->s, "lock.write-discipline", fn,
				   "%s.mapping stored without the folio lock", folio->name);
		return -1;
	}
	old = folio->mapping;
	/* the pre-patch root rule protects unlocked walkers, which only trust a mapped folio */
	if (w->knob[K_MOVE_ANON_VMA_LOCK] && folio->mapcount > 0 && old >= 0 &&
	    fl_av_is_live(w, old) &&
	    w->avs[old].root != w->avs[new].root && fl_av_root_lock(w, old)->writer != me) {
		fl_sched_violation(w->s, "lock.write-discipline", fn,
				   "%s.mapping moved from root %s to %s without the old root's "
				   "rwsem held for write", folio->name,
				   w->slots[w->avs[w->avs[old].root].slot].name,
				   w->slots[w->avs[w->avs[new].root].slot].name);
		return -1;
	}
	return 0;
}

static struct fl_value mapping_store_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_STR };

	if (check_mapping_store(a->w, a->fn, a->folio, a->av))
		return v;
	a->folio->mapping = a->av;
	v.s = a->w->avs[a->av].repr;
	return v;
}

/* folio_move_anon_rmap (v6.18/v6.19): WRITE_ONCE(folio->mapping, vma->anon_vma) */
void folio_move_anon_rmap(struct fl_world *w, const char *fn, struct fl_folio *folio,
			  struct fl_vma *vma)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .av = vma->anon_vma, .folio = folio };

	fl_yield_mem(fn, "write", folio->n_mapping, mapping_store_thunk, &a);
}

static struct fl_value index_store_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	if ((a->folio->mapcount > 0 || a->folio->swap) && a->folio->lock.owner != fl_me(a->w)) {
		fl_sched_violation(a->w->s, "lock.write-discipline", a->fn,
				   "%s.index stored without the folio lock", a->folio->name);
		return v;
	}
	a->folio->index = a->index;
	v.i = a->index;
	return v;
}

void set_folio_index(struct fl_world *w, const char *fn, struct fl_folio *folio,
		     long long index)
{
	struct fl_av_arg a = { .w = w, .fn = fn, .folio = folio, .index = index };

	fl_yield_mem(fn, "write", folio->n_index, index_store_thunk, &a);
}

/*
 * folio_add_new_anon_rmap -> __folio_set_anon (v6.18/v6.19) on a folio not yet
 * visible to rmap: a folio not exclusive to this vma gets the oldest anon_vma,
 * the root.  Part of the caller's PTL critical section.
 */
void folio_add_new_anon_rmap(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive)
{
	if (vma->anon_vma < 0)
		fl_thread_violation("error", "folio_add_new_anon_rmap",
				    "%s has no anon_vma (assert in the Python model)", vma->name);
	folio->mapping = exclusive ? vma->anon_vma : w->avs[vma->anon_vma].root;
	folio->index = fl_linear_page_index(vma, addr);
	folio->mapcount = 1;
	folio->pae = exclusive;
}

/*
 * folio_add_anon_rmap_pte (v6.18/v6.19): map an existing anon folio again
 * (swap-in); __page_check_anon_rmap BUGs if the folio's rmap does not cover
 * (vma, addr) (I12).
 */
void folio_add_anon_rmap_pte(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive)
{
	static const char fn[] = "folio_add_anon_rmap_pte";
	int av = folio->mapping;

	if (av < 0 || !fl_av_is_live(w, av) || vma->anon_vma < 0 ||
	    w->avs[av].root != w->avs[vma->anon_vma].root ||
	    folio->index != fl_linear_page_index(vma, addr)) {
		fl_viol_objects(w, folio->name, vma->name, NULL);
		fl_thread_violation("swap.rmap", fn,
				    "__page_check_anon_rmap: %s (mapping %s, index %lld) mapped at "
				    "%s:0x%llx (anon_vma %s, index %lld)", folio->name,
				    av >= 0 ? w->avs[av].repr : "None", folio->index, vma->name,
				    (unsigned long long)addr,
				    vma->anon_vma >= 0 ? w->avs[vma->anon_vma].repr : "None",
				    fl_linear_page_index(vma, addr));
	}
	folio->mapcount++;
	if (exclusive)
		folio->pae = true;
}

/*
 * folio_remove_rmap_pte (v6.18/v6.19): mapcount--; mapping stays stale, and so
 * does PageAnonExclusive (it is reset when the page is freed, not on unmap).
 */
void folio_remove_rmap_pte(struct fl_folio *folio)
{
	folio->mapcount--;
}

/* --- the rmap walk ---------------------------------------------------------------- */

/* I9's post-patch rule, as the kernel's VM_BUG_ON_FOLIO would check it */
void assert_walk_folio_locked(struct fl_world *w, const char *fn, struct fl_folio *folio)
{
	if (fl_walks_hold_folio_lock(w) && folio->lock.owner != fl_me(w)) {
		fl_viol_objects(w, folio->name, NULL);
		fl_thread_violation("lock.walk-discipline", fn,
				    "%s on %s without the folio lock (VM_BUG_ON_FOLIO)", fn,
				    folio->name);
	}
}

struct fl_root_arg {
	struct fl_world *w;
	int av;
	int root;
};

static struct fl_value root_read_thunk(void *arg)
{
	struct fl_root_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_STR };

	a->root = a->w->avs[a->av].root;
	v.s = a->w->avs[a->root].repr;
	return v;
}

static inline struct fl_lock *av_slot_lock(struct fl_world *w, int av)
{
	return &w->slots[w->avs[av].slot].lock;
}

/* the check of an up_read of the root rwsem (ops.up_read's check) */
struct fl_unlock_arg {
	struct fl_world *w;
	const char *fn;
	int av;
	bool root_only;
};

/*
 * up_read(&anon_vma->root->rwsem) reads anon_vma->root and writes the root's
 * rwsem; up_read(&root_anon_vma->rwsem) only the latter.
 */
static struct fl_value anon_vma_unlock_check(void *arg)
{
	struct fl_unlock_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_NONE };
	int mem = a->av;

	if (!a->root_only) {
		mem = fl_av_deref_thunk(a->w, a->av, a->fn, "root");
		if (mem < 0)
			return v;
		mem = a->w->avs[mem].root;
	}
	fl_av_deref_thunk(a->w, mem, a->fn, "rwsem");
	return v;
}

/*
 * anon_vma_unlock_read (v6.18/v6.19): up_read(&anon_vma->root->rwsem).  Both
 * must be there (live, or freed inside this thread's RCU section) when the
 * step executes: a walker holding the rwsem but no reference can see the
 * anon_vma freed under it (R5) between its previous step and this one.
 */
void anon_vma_unlock_read(struct fl_world *w, const char *fn, int av)
{
	struct fl_unlock_arg a = { .w = w, .fn = fn, .av = av };

	fl_up_read_check(fn, fl_av_root_lock(w, av), anon_vma_unlock_check, &a);
}

/* up_read(&root_anon_vma->rwsem) of folio_lock_anon_vma_read's fast path */
static void root_up_read(struct fl_world *w, const char *fn, int root)
{
	struct fl_unlock_arg a = { .w = w, .fn = fn, .av = root, .root_only = true };

	fl_up_read_check(fn, av_slot_lock(w, root), anon_vma_unlock_check, &a);
}

/*
 * folio_lock_anon_vma_read (v6.18 with its retry and mapping rechecks; v6.19
 * without them): the anon_vma with its root read-locked, or -1.
 */
int folio_lock_anon_vma_read(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "folio_lock_anon_vma_read";
	bool recheck = w->knob[K_RECHECK_MAPPING] != 0;
	bool check_mapped = w->knob[K_CHECK_MAPPED] != 0;

	assert_walk_folio_locked(w, fn, folio);
	for (;;) {
		struct fl_root_arg ra = { .w = w };
		struct fl_av_arg da;
		int mapping, av, now;

		fl_rcu_read_lock(fn);
		mapping = fl_read_mapping(w, fn, folio);
		if (mapping < 0) {
			fl_rcu_read_unlock(fn);
			return -1;
		}
		if (!folio_mapped(w, fn, folio)) {
			fl_rcu_read_unlock(fn);
			return -1;
		}
		ra.av = fl_av_deref(w, mapping, fn, "root");
		fl_yield_mem(fn, "read", w->slots[w->avs[mapping].slot].n_root, root_read_thunk,
			     &ra);
		fl_av_deref(w, ra.root, fn, "rwsem");
		if (fl_down_read_trylock(fn, av_slot_lock(w, ra.root))) {
			if (recheck) {
				now = fl_read_mapping(w, fn, folio);
				if (now != mapping) {
					root_up_read(w, fn, ra.root);
					fl_rcu_read_unlock(fn);
					continue;
				}
			}
			if (check_mapped && !folio_mapped(w, fn, folio)) {
				root_up_read(w, fn, ra.root);
				fl_rcu_read_unlock(fn);
				return -1;
			}
			fl_rcu_read_unlock(fn);
			return mapping;
		}
		if (rwc && rwc->try_lock) {
			rwc->contended = true;
			fl_rcu_read_unlock(fn);
			return -1;
		}
		/* trylock failed, we got to sleep: pin the anon_vma first */
		av = fl_av_deref(w, mapping, fn, "refcount");
		if (!fl_av_inc_not_zero_op(w, fn, mapping, av)) {
			fl_rcu_read_unlock(fn);
			return -1;
		}
		if (!folio_mapped(w, fn, folio)) {
			fl_rcu_read_unlock(fn);
			put_anon_vma(w, fn, mapping);
			return -1;
		}
		fl_rcu_read_unlock(fn);
		fl_down_read(fn, fl_av_root_lock(w, mapping), 0);
		if (recheck) {
			now = fl_read_mapping(w, fn, folio);
			if (now != mapping) {
				anon_vma_unlock_read(w, fn, mapping);
				put_anon_vma(w, fn, mapping);
				continue;
			}
		}
		da = (struct fl_av_arg){ .w = w, .fn = fn, .av = mapping };
		if (fl_yield_mem(fn, "atomic", w->avs[mapping].n_refcount, av_dec_thunk, &da).i ==
		    0) {
			/* we held the last reference: unlock and bail */
			anon_vma_unlock_read(w, fn, mapping);
			__put_anon_vma(w, mapping);
			return -1;
		}
		return mapping;
	}
}

/* I9: the interval tree is traversed with the root rwsem held */
void check_tree_locked(struct fl_world *w, const char *fn, int av)
{
	const struct fl_lock *lk = fl_av_root_lock(w, av);
	int me = fl_me(w);

	if (!(lk->readers & (1u << me)) && lk->writer != me) {
		fl_viol_objects(w, w->slots[w->avs[av].slot].name, lk->name, NULL);
		fl_thread_violation("lock.walk-discipline", fn,
				    "traversing %s's interval tree without %s held",
				    w->avs[av].repr, lk->name);
	}
}

/* WalkRecord.__init__: the mappings that exist when the traversal starts */
void walkrec_start(struct fl_world *w, struct fl_walkrec *rec, struct fl_folio *folio)
{
	rec->folio = folio->id;
	rec->nstart = fl_mapping_ids(w, folio->id, rec->start);
	rec->nfound = 0;
}

/* WalkRecord.visit: rmap_one found mapping @mid (0: nothing mapped the folio there) */
void walkrec_visit(struct fl_walkrec *rec, int mid)
{
	int i;

	if (!mid)
		return;
	for (i = 0; i < rec->nfound; i++)
		if (rec->found[i] == mid)
			return;
	if (rec->nfound < FL_MAX_WALK_MAPS)
		rec->found[rec->nfound++] = mid;
}

/*
 * WalkRecord.missed and the walk.complete violation: mappings present at both
 * ends of the walk that no rmap_one found.  @tail ends the message.
 */
void walkrec_check(struct fl_world *w, struct fl_walkrec *rec, const char *caller, int av,
		   long long pgoff, const char *tail)
{
	struct fl_walk_map *end = w->walk_end;
	int nend = fl_mapping_ids(w, rec->folio, end);
	int missed[FL_MAX_WALK_MAPS], nmissed = 0, i, j;
	char where[FL_MSG_LEN];
	size_t len = 0;

	for (i = 0; i < nend; i++) {
		bool in_start = false, found = false;

		for (j = 0; j < rec->nstart; j++)
			if (rec->start[j].mid == end[i].mid)
				in_start = true;
		for (j = 0; j < rec->nfound; j++)
			if (rec->found[j] == end[i].mid)
				found = true;
		if (!in_start || found)
			continue;
		for (j = nmissed; j > 0 && end[missed[j - 1]].mid > end[i].mid; j--)
			missed[j] = missed[j - 1];
		missed[j] = i;
		nmissed++;
	}
	if (!nmissed)
		return;
	fl_viol_objects(w, w->folios[rec->folio].name, NULL);
	where[0] = '\0';
	for (i = 0; i < nmissed; i++) {
		const struct fl_walk_map *m = &end[missed[i]];
		const struct fl_vma *v = &w->vmas[m->vma];
		int k;

		fl_viol_object_add(w, fl_pte_name(w, &w->mms[v->mm], m->addr));
		fl_viol_object_add(w, v->lock_name);
		k = snprintf(where + len, sizeof(where) - len, "%s%s:0x%llx", i ? ", " : "",
				 w->vmas[m->vma].name, (unsigned long long)m->addr);

		if (k > 0 && (size_t)k < sizeof(where) - len)
			len += (size_t)k;
	}
	fl_thread_violation("walk.complete", caller,
			    "%s walked %s at pgoff %lld and missed %s mapped at %s%s", caller,
			    w->avs[av].repr, pgoff, w->folios[rec->folio].name, where, tail);
}

/*
 * page_vma_mapped_walk for one small folio: take the PTL and see whether the
 * PTE at @addr maps @folio.  True with the PTE in @out and the PTL held.
 */
bool rmap_one_pte(struct fl_world *w, const char *fn, struct fl_folio *folio,
		  struct fl_vma *vma, long long addr, struct fl_walkrec *rec, struct fl_pte *out)
{
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;

	if (!fl_table_find(w, mm, addr)) {	/* pmd none: nothing mapped there */
		walkrec_visit(rec, 0);
		return false;
	}
	pte = pte_offset_map_lock(w, fn, mm, addr);
	if (pte.kind == PTE_PRESENT && pte.folio == folio->id) {
		walkrec_visit(rec, pte.mid);
		*out = pte;
		return true;
	}
	/*
	 * A migration entry of this folio (a migration racing a walker without the
	 * folio lock): page_vma_mapped_walk skips it, but the walk reached that
	 * mapping at its exact address, which is what I10 asks; the restored PTE
	 * keeps the mapping id.
	 */
	if (pte.kind == PTE_MIGRATION && pte.folio == folio->id)
		walkrec_visit(rec, pte.mid);
	pte_unmap_unlock(w, fn, mm, addr);
	return false;
}

struct fl_folio_read_arg {
	struct fl_folio *f;
};

static struct fl_value index_read_thunk(void *arg)
{
	struct fl_folio_read_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->f->index };

	return v;
}

static struct fl_value mapcount_read_thunk(void *arg)
{
	struct fl_folio_read_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT, .i = a->f->mapcount };

	return v;
}

static long long fl_read_index(const char *fn, struct fl_folio *folio)
{
	struct fl_folio_read_arg a = { folio };

	return fl_yield_mem(fn, "read", folio->n_index, index_read_thunk, &a).i;
}

static bool vma_covers(const struct fl_vma *v, long long pgoff)
{
	return v->pgoff <= pgoff && pgoff < v->pgoff + (v->end - v->start);
}

/*
 * rmap_walk_anon_lock (v6.18/v6.19): the anon_vma the caller pinned, read-locked
 * (trylock first; try_lock callers give up).
 */
static int rmap_walk_anon_lock(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "rmap_walk_anon_lock";
	int av = fl_read_mapping(w, fn, folio), mem;

	if (av < 0)
		return -1;
	mem = fl_av_deref(w, av, fn, "root");
	if (fl_down_read_trylock(fn, fl_av_root_lock(w, mem)))
		return av;
	if (rwc->try_lock) {
		rwc->contended = true;
		return -1;
	}
	fl_down_read(fn, fl_av_root_lock(w, av), 0);
	return av;
}

/*
 * rmap_walk_anon (v6.18/v6.19): lock the anon_vma, then rmap_one on every VMA
 * of its interval tree that covers the folio's pgoff; walk.complete (I10) at
 * the end, I9 on each step of the traversal.
 */
void rmap_walk_anon(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc)
{
	static const char fn[] = "rmap_walk_anon";
	struct fl_walkrec *rec = &w->walks[fl_me(w)];
	int av, mem, tree[FL_MAX_VMAS], ntree, i;
	long long pgoff;

	assert_walk_folio_locked(w, fn, folio);
	if (rwc->no_anon_lock)
		av = rmap_walk_anon_lock(w, folio, rwc);
	else
		av = folio_lock_anon_vma_read(w, folio, rwc);
	if (av < 0)
		return;
	pgoff = fl_read_index(fn, folio);
	walkrec_start(w, rec, folio);
	mem = fl_av_deref(w, av, fn, "rb_root");
	ntree = w->avs[mem].ntree;
	memcpy(tree, w->avs[mem].tree, sizeof(int) * (size_t)ntree);
	for (i = 0; i < ntree; i++) {
		struct fl_vma *v = &w->vmas[tree[i]];

		check_tree_locked(w, fn, mem);
		if (!vma_covers(v, pgoff))
			continue;
		if (!rwc->rmap_one(w, folio, v, pgoff - v->pgoff + v->start, rwc, rec)) {
			rwc->stopped_early = true;
			break;
		}
		if (rwc->done_unmapped && folio->mapcount == 0) {
			rwc->stopped_early = true;
			break;
		}
	}
	if (!rwc->stopped_early)
		walkrec_check(w, rec, rwc->caller, av, pgoff, " during the whole walk");
	anon_vma_unlock_read(w, fn, av);
}

/* --- folio_referenced ------------------------------------------------------------------ */

static bool folio_referenced_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
				 long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "folio_referenced_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte;

	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	if (pte.young) {	/* ptep_clear_flush_young */
		pte.young = false;
		fl_set_pte(w, mm, addr, &pte);
		rwc->referenced++;
	}
	rwc->mapcount--;
	pte_unmap_unlock(w, fn, mm, addr);
	return rwc->mapcount > 0;
}

/*
 * folio_referenced (v6.18: no folio lock for anon non-KSM folios; v6.19: a
 * trylock): referenced PTEs, trylock_fail_result on a failed trylock, -1 on
 * anon_vma contention.
 */
long long folio_referenced(struct fl_world *w, struct fl_folio *folio, bool is_locked)
{
	static const char fn[] = "folio_referenced";
	struct fl_folio_read_arg ra = { folio };
	struct fl_rwc rwc = { .caller = "folio_referenced", .rmap_one = folio_referenced_one,
			      .try_lock = true };
	bool we_locked = false;
	long long mapcount;

	mapcount = fl_yield_mem(fn, "read", folio->n_mapcount, mapcount_read_thunk, &ra).i;
	if (!mapcount)
		return 0;
	if (fl_read_mapping(w, fn, folio) < 0)
		return 0;
	if (!is_locked) {
		long long mode = w->knob[K_REF_ACTIVE_LOCK];

		if (mode == FL_WALK_LOCK_TRYLOCK) {
			we_locked = folio_trylock(fn, folio);
			if (!we_locked)
				return w->knob[K_TRYLOCK_FAIL_RESULT];
		} else if (mode == FL_WALK_LOCK_LOCK) {
			folio_lock(fn, folio);
			we_locked = true;
		}
	}
	rwc.mapcount = (int)mapcount;
	rmap_walk_anon(w, folio, &rwc);
	if (we_locked)
		folio_unlock(fn, folio);
	return rwc.contended ? -1 : rwc.referenced;
}

/* --- try_to_unmap -------------------------------------------------------------------- */

/*
 * try_to_unmap_one (v6.18/v6.19) for a small anon folio in the swap cache: the
 * PTE becomes a swap entry (exclusive marker if the page was PAE); a pinned PAE
 * page cannot be shared and aborts the walk.
 */
static bool try_to_unmap_one(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec)
{
	static const char fn[] = "try_to_unmap_one";
	struct fl_mm *mm = &w->mms[vma->mm];
	struct fl_pte pte, sp;
	bool anon_exclusive;
	int entry;

	(void)rwc;
	if (!rmap_one_pte(w, fn, folio, vma, addr, rec, &pte))
		return true;
	entry = folio->swap;
	anon_exclusive = folio->pae;
	if (entry == 0 || (anon_exclusive && folio->pincount > 0)) {
		/* no swap entry, or folio_try_share_anon_rmap_pte() -> -EBUSY: restore, abort */
		pte_unmap_unlock(w, fn, mm, addr);
		return false;
	}
	fl_swap_set_count(w, entry, fl_swap_count(w, entry, 0) + 1);	/* swap_duplicate */
	if (anon_exclusive)
		folio->pae = false;	/* folio_try_share_anon_rmap_pte */
	memset(&sp, 0, sizeof(sp));
	sp.kind = PTE_SWAP;
	sp.folio = -1;
	sp.entry = entry;
	sp.exclusive = anon_exclusive;
	sp.soft_dirty = pte.soft_dirty;
	sp.mid = fl_mapping_id(w);
	fl_set_pte(w, mm, addr, &sp);
	if (pte.dirty)
		folio->dirty = true;
	folio_remove_rmap_pte(folio);
	folio->refcount--;	/* the mapping's reference (freed after the TLB flush) */
	pte_unmap_unlock(w, fn, mm, addr);
	return true;
}

/*
 * try_to_unmap (v6.18/v6.19): requires the folio lock (I9), walks with
 * folio_lock_anon_vma_read (blocking) and stops once the folio is unmapped.
 */
void try_to_unmap(struct fl_world *w, struct fl_folio *folio)
{
	static const char fn[] = "try_to_unmap";
	struct fl_rwc rwc = { .caller = "try_to_unmap", .rmap_one = try_to_unmap_one,
			      .done_unmapped = true };

	if (folio->lock.owner != fl_me(w)) {
		fl_viol_objects(w, folio->name, NULL);
		fl_thread_violation("lock.walk-discipline", fn, "try_to_unmap on unlocked %s",
				    folio->name);
	}
	rmap_walk_anon(w, folio, &rwc);
}

/* READ_ONCE(folio->index) */
long long fl_read_pgoff(const char *fn, struct fl_folio *folio)
{
	return fl_read_index(fn, folio);
}

/* --- fork ---------------------------------------------------------------------------- */

/*
 * anon_vma_clone (v6.18): link @dst into every anon_vma @src is linked into, oldest
 * first (the kernel's list_for_each_entry_reverse over a list_add()ed chain; our
 * chain arrays are oldest first), each under its root's write lock, and reuse an
 * anon_vma with no VMAs and fewer than two children as @dst's own (never a root: it
 * counts its self-parent link).
 */
static int anon_vma_clone(struct fl_world *w, struct fl_vma *dst, struct fl_vma *src)
{
	static const char fn[] = "anon_vma_clone";
	int chain[FL_MAX_CHAIN], nchain = src->nchain, root = -1, i;

	memcpy(chain, src->chain, sizeof(int) * (size_t)nchain);
	for (i = 0; i < nchain; i++) {
		int av = chain[i];
		struct fl_anon_vma *a = &w->avs[av];

		if (root != a->root) {	/* lock_anon_vma_root: once per root */
			if (root >= 0)
				anon_vma_unlock_write(w, fn, root);
			root = a->root;
			anon_vma_lock_write(w, fn, root);
		}
		anon_vma_chain_link(w, dst, av);
		if (dst->anon_vma < 0 && src->anon_vma >= 0 && a->num_children < 2 &&
		    a->num_active_vmas == 0)
			dst->anon_vma = av;
	}
	if (dst->anon_vma >= 0)
		w->avs[dst->anon_vma].num_active_vmas++;
	if (root >= 0)
		anon_vma_unlock_write(w, fn, root);
	return 0;
}

static struct fl_value av_inc_thunk(void *arg)
{
	struct fl_av_arg *a = arg;
	struct fl_value v = { .kind = FL_VAL_INT };

	v.i = ++a->w->avs[a->av].refcount;
	return v;
}

/*
 * anon_vma_fork (v6.18): clone the parent's chain, then (unless an anon_vma was
 * reused) a new anon_vma whose root is the parent's root, linked under it.
 */
int anon_vma_fork(struct fl_world *w, struct fl_vma *vma, struct fl_vma *pvma)
{
	static const char fn[] = "anon_vma_fork";
	struct fl_av_arg arg = { .w = w, .fn = fn };
	int av, root;

	if (pvma->anon_vma < 0)
		return 0;
	vma->anon_vma = -1;
	anon_vma_clone(w, vma, pvma);
	if (vma->anon_vma >= 0)
		return 0;
	av = anon_vma_alloc(w, fn);
	if (av < 0)
		return 0;
	w->avs[av].num_active_vmas++;
	w->avs[av].root = w->avs[pvma->anon_vma].root;
	w->avs[av].parent = pvma->anon_vma;
	root = w->avs[av].root;
	arg.av = root;
	fl_yield_mem(fn, "atomic", w->avs[root].n_refcount, av_inc_thunk, &arg);	/* get_anon_vma */
	vma->anon_vma = av;
	anon_vma_lock_write(w, fn, av);
	anon_vma_chain_link(w, vma, av);
	w->avs[w->avs[av].parent].num_children++;
	anon_vma_unlock_write(w, fn, av);
	return 0;
}
