// SPDX-License-Identifier: GPL-2.0-only
/*
 * The walk.complete ground truth (fuzzlock/model/walkrecord.py): the mappings
 * that exist when an rmap traversal starts, those it visits, and what it missed.
 */
#include <stdio.h>
#include <string.h>

#include "prim.h"

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
	fl_thread_violation(FL_INV_WALK_COMPLETE, caller,
			    "%s walked %s at pgoff %lld and missed %s mapped at %s%s", caller,
			    w->avs[av].repr, pgoff, w->folios[rec->folio].name, where, tail);
}

/*
 * walkrecord.mapping_ids: mid -> (VMA, address) of every present PTE mapping
 * @folio, in World.all_mappings() order (a repeated mid keeps its first
 * position and its last place, as a dict would).  Returns the count.
 */
int fl_mapping_ids(struct fl_world *w, int folio, struct fl_walk_map *out)
{
	int n = 0, mi, ti;

	for (mi = 0; mi < w->nmms; mi++) {
		struct fl_mm *mm = &w->mms[mi];

		for (ti = 0; ti < w->ntables; ti++) {
			struct fl_table *t = &w->tables[ti];
			int order[PTRS_PER_PTE], no = 0, k, j;

			if (t->mm != mi)
				continue;
			for (k = 0; k < PTRS_PER_PTE; k++) {
				if (t->ptes[k].kind == PTE_NONE)
					continue;
				for (j = no; j > 0 && t->seq[order[j - 1]] > t->seq[k]; j--)
					order[j] = order[j - 1];
				order[j] = k;
				no++;
			}
			for (k = 0; k < no; k++) {
				const struct fl_pte *p = &t->ptes[order[k]];
				long long addr = (long long)t->index * PTRS_PER_PTE + order[k];
				int v = -1;

				if (p->kind != PTE_PRESENT || p->folio != folio)
					continue;
				for (j = 0; j < mm->nvmas; j++) {
					const struct fl_vma *c = &w->vmas[mm->vmas[j]];

					if (c->start <= addr && addr < c->end) {
						v = c->id;
						break;
					}
				}
				if (v < 0)
					continue;
				for (j = 0; j < n; j++)
					if (out[j].mid == p->mid)
						break;
				if (j == n) {
					if (n == FL_MAX_WALK_MAPS) {
						fl_world_full(w, "walk record mappings");
						return n;
					}
					n++;
				}
				out[j].mid = p->mid;
				out[j].vma = v;
				out[j].addr = addr;
			}
		}
	}
	return n;
}
