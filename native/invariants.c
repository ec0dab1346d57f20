// SPDX-License-Identifier: GPL-2.0-only
/*
 * The state invariants of fuzzlock/invariants.py, run after every step in which
 * the locks protecting them are free and all of them at the end of a run.
 */
#include <stdio.h>
#include <string.h>

#include "model_int.h"

#define FAIL(id, ...) do { fl_sched_violation(w->s, id, "invariant", __VA_ARGS__); \
			   return 1; } while (0)

static void where_of(char *buf, size_t n, const struct fl_vma *v, long long addr)
{
	snprintf(buf, n, "%s:0x%llx", v->name, (unsigned long long)addr);
}

/*
 * invariants._check_rmap: I1/I2 for a present PTE (@kind NULL), I12 for a swap
 * PTE (@kind FL_INV_SWAP_RMAP), I13 for a migration entry (FL_INV_MIGRATION_REACHABLE).
 * The "vma:0xaddr" location is formatted only for a failure: this runs for
 * every mapped PTE after every step.
 */
static int check_rmap(struct fl_world *w, struct fl_folio *f, struct fl_vma *v,
		      long long addr, const char *kind)
{
	const char *reach = kind ? kind : FL_INV_RMAP_REACHABLE;
	const char *life = kind ? reach : FL_INV_ANON_VMA_LIFETIME;
	const char *idx = kind ? reach : FL_INV_RMAP_INDEX;
	char where[FL_NAME_LEN + 24];
	int av = f->mapping, i;
	long long want;

	if (av < 0) {
		where_of(where, sizeof(where), v, addr);
		FAIL(reach, "%s mapped at %s has no anon_vma", f->name, where);
	}
	if (!fl_av_is_live(w, av)) {
		where_of(where, sizeof(where), v, addr);
		FAIL(life, "%s mapped at %s: its anon_vma %s is freed", f->name,
		     where, w->avs[av].repr);
	}
	for (i = 0; i < w->avs[av].ntree; i++)
		if (w->avs[av].tree[i] == v->id)
			break;
	if (i == w->avs[av].ntree) {
		where_of(where, sizeof(where), v, addr);
		FAIL(reach,
		     "%s mapped at %s but %s is not in the interval tree of its anon_vma %s: rmap "
		     "walks cannot find this mapping", f->name, where, v->name, w->avs[av].repr);
	}
	if (v->anon_vma >= 0 && w->avs[v->anon_vma].root != w->avs[av].root) {
		where_of(where, sizeof(where), v, addr);
		FAIL(reach, "%s mapped at %s: root %s differs from the VMA's root %s",
		     f->name, where, w->avs[w->avs[av].root].repr,
		     w->avs[w->avs[v->anon_vma].root].repr);
	}
	want = fl_linear_page_index(v, addr);
	if (f->index != want) {
		where_of(where, sizeof(where), v, addr);
		FAIL(idx, "%s index %lld but it is mapped at %s, linear index %lld",
		     f->name, f->index, where, want);
	}
	return 0;
}

static int check_mappings(struct fl_world *w)
{
	int *present = w->chk_present;
	char (*seen_pae)[FL_NAME_LEN + 24] = w->chk_seen;
	bool *has_pae = w->chk_has_pae;
	/* where each PageAnonExclusive folio was seen mapped (formatted on a failure) */
	const struct fl_vma *seen_vma[FL_MAX_FOLIOS];
	long long seen_addr[FL_MAX_FOLIOS];
	int mi, ti, i;

	memset(present, 0, sizeof(int) * (size_t)w->nfolios);
	memset(has_pae, 0, sizeof(bool) * (size_t)w->nfolios);
	for (mi = 0; mi < w->nmms; mi++) {
		struct fl_mm *mm = &w->mms[mi];

		for (ti = 0; ti < w->ntables; ti++) {
			struct fl_table *t = &w->tables[ti];
			int order[PTRS_PER_PTE], n = 0, k, j;

			if (t->mm != mi)
				continue;
			for (k = 0; k < PTRS_PER_PTE; k++) {
				if (t->ptes[k].kind == PTE_NONE)
					continue;
				for (j = n; j > 0 && t->seq[order[j - 1]] > t->seq[k]; j--)
					order[j] = order[j - 1];
				order[j] = k;
				n++;
			}
			for (k = 0; k < n; k++) {
				struct fl_pte *p = &t->ptes[order[k]];
				long long addr = (long long)t->index * PTRS_PER_PTE + order[k];
				struct fl_vma *v = NULL;
				struct fl_folio *f;
				char where[FL_NAME_LEN + 24];

				for (j = 0; j < mm->nvmas; j++) {
					struct fl_vma *c = &w->vmas[mm->vmas[j]];

					if (c->start <= addr && addr < c->end) {
						v = c;
						break;
					}
				}
				if (!v)
					continue;
				if (p->kind == PTE_SWAP) {
					int cached = fl_swap_slot(w, p->entry)->cache;

					/* a folio read in from swap and not mapped yet is not
					 * anon: do_swap_page gives it its rmap with
					 * folio_add_new_anon_rmap, so there is nothing to check */
					if (cached < 0 || w->folios[cached].mapping < 0)
						continue;
					if (check_rmap(w, &w->folios[cached], v, addr, FL_INV_SWAP_RMAP))
						return 1;
					continue;
				}
				if (p->folio < 0)
					continue;
				f = &w->folios[p->folio];
				if (p->kind == PTE_MIGRATION) {
					if (f->freed) {
						where_of(where, sizeof(where), v, addr);
						FAIL(FL_INV_MIGRATION_REACHABLE,
						     "migration entry at %s still points at %s, which "
						     "was freed: remove_migration_ptes did not reach it "
						     "(a later fault would wait on it forever)", where,
						     f->name);
					}
					if (check_rmap(w, f, v, addr, FL_INV_MIGRATION_REACHABLE))
						return 1;
					continue;
				}
				if (p->kind != PTE_PRESENT)
					continue;
				present[f->id]++;
				if (f->freed) {
					where_of(where, sizeof(where), v, addr);
					FAIL(FL_INV_FOLIO_REFCOUNT, "%s is mapped at %s but was freed",
					     f->name, where);
				}
				if (check_rmap(w, f, v, addr, NULL))
					return 1;
				if (p->writable && !f->pae) {
					where_of(where, sizeof(where), v, addr);
					FAIL(FL_INV_FOLIO_EXCLUSIVE,
					     "writable PTE %s maps %s, which is not "
					     "PageAnonExclusive",
					     where, f->name);
				}
				if (f->pae) {
					if (has_pae[f->id]) {
						where_of(where, sizeof(where), v, addr);
						where_of(seen_pae[f->id], sizeof(seen_pae[f->id]),
							 seen_vma[f->id], seen_addr[f->id]);
						FAIL(FL_INV_FOLIO_EXCLUSIVE,
						     "%s is PageAnonExclusive but mapped at "
						     "%s and %s",
						     f->name, seen_pae[f->id], where);
					}
					has_pae[f->id] = true;
					seen_vma[f->id] = v;
					seen_addr[f->id] = addr;
				}
			}
		}
	}
	for (i = 0; i < w->nfolios; i++) {
		struct fl_folio *f = &w->folios[i];
		int n = present[i];

		if (f->mapcount != n)
			FAIL(FL_INV_FOLIO_MAPCOUNT, "%s mapcount %d but %d PTE(s) map it", f->name,
			     f->mapcount, n);
		if (f->mapcount > 0 && f->mapping >= 0) {
			if (!fl_av_is_live(w, f->mapping))
				FAIL(FL_INV_ANON_VMA_LIFETIME,
				     "%s is mapped but its anon_vma %s was freed", f->name,
				     w->avs[f->mapping].repr);
			else if (!fl_av_is_live(w, w->avs[f->mapping].root))
				FAIL(FL_INV_ANON_VMA_LIFETIME,
				     "%s is mapped but its root anon_vma %s was freed", f->name,
				     w->avs[w->avs[f->mapping].root].repr);
		}
		if (f->pae && n > 1)
			FAIL(FL_INV_FOLIO_EXCLUSIVE, "%s is PageAnonExclusive with %d mappings", f->name,
			     n);
	}
	return 0;
}

static bool vma_chain_has(const struct fl_vma *v, int av)
{
	int i;

	for (i = 0; i < v->nchain; i++)
		if (v->chain[i] == av)
			return true;
	return false;
}

static bool av_tree_has(const struct fl_anon_vma *a, int vma)
{
	int i;

	for (i = 0; i < a->ntree; i++)
		if (a->tree[i] == vma)
			return true;
	return false;
}

static int check_anon_vmas(struct fl_world *w, bool final)
{
	int children[FL_MAX_AV_SLOTS] = { 0 };
	int si, i, mi;

	for (si = 0; si < w->nslots; si++) {
		int av = w->slots[si].obj;
		struct fl_anon_vma *a = &w->avs[av];

		if (!w->slots[si].live)
			continue;
		if (a->root != av) {
			if (!fl_av_is_live(w, a->root))
				FAIL(FL_INV_ANON_VMA_LIFETIME, "%s's root %s was freed", a->repr,
				     w->avs[a->root].repr);
			children[w->avs[a->root].slot]++;
		}
		for (i = 0; i < a->ntree; i++)
			if (!vma_chain_has(&w->vmas[a->tree[i]], av))
				FAIL(FL_INV_ANON_VMA_TREE,
				     "AVC(%s, %s) is in the tree but not on the VMA's chain",
				     w->vmas[a->tree[i]].name, a->repr);
	}
	for (si = 0; final && si < w->nslots; si++) {
		int av = w->slots[si].obj;
		struct fl_anon_vma *a = &w->avs[av];

		if (w->slots[si].live && a->root == av && a->refcount < 1 + children[si])
			FAIL(FL_INV_ANON_VMA_LIFETIME, "root %s refcount %d < 1 + %d children", a->repr,
			     a->refcount, children[si]);
	}
	for (mi = 0; mi < w->nmms; mi++) {
		struct fl_mm *mm = &w->mms[mi];

		for (i = 0; i < mm->nvmas; i++) {
			struct fl_vma *v = &w->vmas[mm->vmas[i]];
			int roots[FL_MAX_CHAIN], nroots = 0, k, r;

			for (k = 0; k < v->nchain; k++) {
				struct fl_anon_vma *a = &w->avs[v->chain[k]];

				if (!fl_av_is_live(w, v->chain[k]))
					FAIL(FL_INV_ANON_VMA_TREE, "%s's chain references freed %s",
					     v->name, a->repr);
				if (!av_tree_has(a, v->id) && a->ntree)
					FAIL(FL_INV_ANON_VMA_TREE, "%s's AVC for %s is not in its tree",
					     v->name, a->repr);
				for (r = 0; r < nroots; r++)
					if (roots[r] == a->root)
						break;
				if (r == nroots)
					roots[nroots++] = a->root;
			}
			if (nroots > 1)
				FAIL(FL_INV_ANON_VMA_TREE, "%s's AVCs have %d different roots", v->name,
				     nroots);
			if (v->anon_vma >= 0 && !vma_chain_has(v, v->anon_vma))
				FAIL(FL_INV_ANON_VMA_TREE, "%s.anon_vma is not in its chain", v->name);
		}
	}
	return 0;
}

int model_check_step(struct fl_sched *s, struct fl_thread *t, void *ctx)
{
	struct fl_world *w = ctx;
	int i;

	(void)t;
	for (i = 0; i < s->nthreads; i++)
		if (!s->threads[i].done && s->threads[i].spins)
			return 0;
	if (check_mappings(w))
		return 1;
	for (i = 0; i < w->nslots; i++) {
		int av = w->slots[i].obj;

		if (w->slots[i].live && fl_av_root_lock(w, av)->writer >= 0)
			return 0;
	}
	return check_anon_vmas(w, false);
}

int model_check_end(struct fl_sched *s, void *ctx)
{
	struct fl_world *w = ctx;
	int i, k;

	if (check_mappings(w) || check_anon_vmas(w, true))
		return 1;
	for (i = 0; i < w->nfolios; i++) {
		struct fl_folio *f = &w->folios[i];

		int want = f->mapcount + (f->swap ? 1 : 0) + f->pincount + (f->isolated ? 1 : 0);

		if (!f->freed && f->refcount != want)
			FAIL(FL_INV_FOLIO_REFCOUNT,
			     "%s refcount %d at quiescence, expected %d (mapcount %d, swapcache %d, "
			     "pins %d)", f->name, f->refcount, want, f->mapcount, f->swap ? 1 : 0,
			     f->pincount);
	}
	/* sorted by tid: the setup (-1) first */
	for (k = -1; k < s->nthreads; k++) {
		int slot = k < 0 ? FL_MAX_THREADS : k;

		for (i = 0; i < w->nfolios; i++)
			if (w->refs[slot][i])
				FAIL(FL_INV_THREAD_END,
				     "T%d ends holding %d temporary reference(s) on folio:%d", k,
				     w->refs[slot][i], i);
	}
	return 0;
}

#undef FAIL
