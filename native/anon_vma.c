// SPDX-License-Identifier: GPL-2.0-only
/*
 * mm/rmap.c, first part (fuzzlock/model/anon_vma.py): the anon_vma life cycle
 * (allocation, the chain, prepare, clone, fork, unlink, the last put and the
 * free to the typesafe-by-RCU slab).  The rest of mm/rmap.c is in rmap.c.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

/* anon_vma_alloc (v6.18/v6.19) */
static int anon_vma_alloc(struct fl_world *w, const char *fn)
{
	int av;

	fl_might_sleep(fn, "anon_vma");
	av = fl_alloc_anon_vma(w);
	if (av < 0)
		fl_thread_violation("error", fn, "capacity");
	return av;
}

struct fl_value av_dec_thunk(void *arg)
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

/* __put_anon_vma (v6.18/v6.19) */
void __put_anon_vma(struct fl_world *w, int av)
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

/* anon_vma_chain_link (v6.18/v6.19) */
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

/* anon_vma_prepare (v6.18/v6.19) */
int anon_vma_prepare(struct fl_world *w, struct fl_vma *vma)
{
	if (vma->anon_vma >= 0)
		return 0;
	return __anon_vma_prepare(w, vma);
}


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
 * write lock, newest first (the kernel's chain order, so the root goes last); anon_vmas
 * left empty are put after the lock is dropped, in the same order */
void unlink_anon_vmas(struct fl_world *w, struct fl_vma *vma)
{
	static const char fn[] = "unlink_anon_vmas";
	int chain[FL_MAX_CHAIN], nchain = vma->nchain, emptied[FL_MAX_CHAIN], nemptied = 0;
	int root = -1, i, k;

	memcpy(chain, vma->chain, sizeof(int) * (size_t)nchain);
	for (i = nchain - 1; i >= 0; i--) {
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
