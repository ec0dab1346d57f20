// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lock-class graph (fuzzlock/sched/lockdep.py) and the wait-for cycle of a
 * deadlock (lockdep.find_cycle).
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "footprint.h"
#include "sched_int.h"

/* ------------------------------------------------------------------------ */
/* lockdep (fuzzlock/sched/lockdep.py)                                       */

static inline bool fl_node_live(const struct fl_sched *s, int node)
{
	return s->node_gen[node] == s->graph_gen;
}

/* LockGraph._path: depth-first from @frm; the edge into @to, or -1 */
static int fl_graph_path(struct fl_sched *s, int frm, int to)
{
	int stack[FL_LOCKDEP_NODES];
	int sp = 0, e;

	if (++s->seen_gen == 0) {
		memset(s->node_seen, 0, sizeof(s->node_seen));
		s->seen_gen = 1;
	}
	s->node_seen[frm] = s->seen_gen;
	s->node_parent[frm] = -1;
	stack[sp++] = frm;
	while (sp) {
		int node = stack[--sp];

		if (!fl_node_live(s, node))
			continue;
		for (e = s->node_first[node]; e >= 0; e = s->edges[e].next) {
			int nxt = s->edges[e].dst;

			if (nxt == to)
				return e;
			if (s->node_seen[nxt] != s->seen_gen) {
				s->node_seen[nxt] = s->seen_gen;
				s->node_parent[nxt] = e;
				stack[sp++] = nxt;
			}
		}
	}
	return -1;
}

/*
 * LockGraph.add: 0 = no cycle (or a known edge), 1 = the edge closes a cycle
 * (the chain written to @sb), -1 = out of memory.
 */
static int fl_graph_add(struct fl_sched *s, const struct fl_lockdep_edge *edge, struct fl_sb *sb)
{
	int src = edge->src, dst = edge->dst;
	int e, last, idx;
	int chain[FL_LOCKDEP_NODES + 1];
	int n = 0, i;
	size_t cap = (size_t)s->edges_cap;
	bool known = false;

	if (fl_node_live(s, src))
		for (e = s->node_first[src]; e >= 0 && !known; e = s->edges[e].next)
			known = s->edges[e].dst == dst;
	if (s->fp && !s->fp->no_lockdep) {
		/*
		 * Footprint: an acquisition that finds its edge depends only on that
		 * edge; one that adds an edge searches the whole graph and changes it.
		 */
		fl_fp_cell(((int64_t)FL_FP_TAG_LOCKDEP_EDGE << 32) |
			   ((int64_t)src * FL_LOCKDEP_NODES + dst), known ? FL_FP_READ : FL_FP_WRITE);
		if (!known)
			fl_fp_cell(FL_FP_CELL_LOCKDEP, FL_FP_WRITE);
	}
	if (known)
		return 0;
	last = src == dst ? -1 : fl_graph_path(s, dst, src);
	if (fl_grow((void **)&s->edges, &cap, (size_t)s->nedges + 1, sizeof(*s->edges)) ||
	    cap > INT_MAX)
		return -1;
	s->edges_cap = (int)cap;
	idx = s->nedges++;
	s->edges[idx] = *edge;
	s->edges[idx].next = -1;
	if (!fl_node_live(s, src)) {
		s->node_gen[src] = s->graph_gen;
		s->node_first[src] = idx;
	} else {
		s->edges[s->node_last[src]].next = idx;
	}
	s->node_last[src] = idx;
	if (last < 0)
		return 0;
	/* the path dst ->* src, then the new edge */
	for (e = last; e >= 0; e = s->node_parent[s->edges[e].src])
		chain[n++] = e;
	for (i = n - 1; i >= 0; i--)
		fl_sb_printf(sb, "%s -> ",
			     s->class_names[s->edges[chain[i]].src / FL_MAX_SUBCLASSES]);
	fl_sb_printf(sb, "%s -> %s", s->class_names[src / FL_MAX_SUBCLASSES],
		     s->class_names[s->edges[chain[n - 1]].src / FL_MAX_SUBCLASSES]);
	return 1;
}

/* Scheduler._lockdep: edges held -> taken on a blocking acquisition */
int fl_lockdep(struct fl_sched *s, struct fl_thread *t, const struct fl_op *op)
{
	struct fl_lock *lk = op->lock;
	int dst = lk->cls * FL_MAX_SUBCLASSES + op->subclass;
	int i;

	for (i = 0; i < t->nheld; i++) {
		const struct fl_held *h = &t->held[i];
		int src = h->lock->cls * FL_MAX_SUBCLASSES + h->subclass;
		struct fl_lockdep_edge e = {
			.src = src, .dst = dst, .next = -1, .tid = t->tid, .step = s->step,
			.fn = op->fn, .held_name = h->lock->name, .taken_name = lk->name,
		};
		char chain[FL_MSG_LEN];
		struct fl_sb sb = { chain, sizeof(chain), 0 };
		int r;

		if (src == dst)
			continue;
		chain[0] = '\0';
		r = fl_graph_add(s, &e, &sb);
		if (r < 0) {
			fl_sched_error(s, "out of memory (lockdep)");
			return -1;
		}
		if (r > 0) {
			fl_sched_violation(s, FL_INV_LOCK_ORDER, op->fn,
					   "taking %s while holding %s closes a lock-order cycle %s",
					   lk->name, h->lock->name, chain);
			return -1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Deadlock: the wait-for cycle (Scheduler._deadlock, _find_cycle)           */

struct fl_waits {
	uint32_t keys;			/* tids with an entry (unfinished threads) */
	const char *name[FL_MAX_THREADS];
	int holders[FL_MAX_THREADS][FL_MAX_THREADS + 1];
	int nholders[FL_MAX_THREADS];
};

static inline bool fl_waits_has(const struct fl_waits *w, int tid)
{
	return tid >= 0 && tid < FL_MAX_THREADS && (w->keys & fl_bit(tid));
}

static int fl_dfs(const struct fl_waits *w, int node, int *path, int plen, uint32_t on_path,
		  int *out)
{
	int i, j, k;

	for (i = 0; i < w->nholders[node]; i++) {
		int nxt = w->holders[node][i];

		if (nxt >= 0 && nxt < FL_MAX_THREADS && (on_path & fl_bit(nxt))) {
			for (j = 0; path[j] != nxt; j++)
				;
			for (k = j; k < plen; k++)
				out[k - j] = path[k];
			return plen - j;
		}
		if (fl_waits_has(w, nxt)) {
			int found;

			path[plen] = nxt;
			found = fl_dfs(w, nxt, path, plen + 1, on_path | fl_bit(nxt), out);
			if (found)
				return found;
		}
	}
	return 0;
}

/* Collect the holders of lock slots in @mask as sorted tids. */
static int fl_mask_tids(const struct fl_sched *s, uint32_t mask, int skip, int *out)
{
	int n = 0, slot;

	/* the solo thread (tid -1) sorts first */
	if ((mask & fl_bit(FL_SOLO_SLOT)) && skip != -1)
		out[n++] = -1;
	for (slot = 0; slot < FL_MAX_THREADS; slot++)
		if ((mask & fl_bit(slot)) && fl_slot_tid(s, slot) != skip)
			out[n++] = fl_slot_tid(s, slot);
	return n;
}

void fl_deadlock(struct fl_sched *s)
{
	struct fl_waits w;
	int path[FL_MAX_THREADS + 1], cycle[FL_MAX_THREADS + 1];
	int ncycle = 0, first = -1, who, i;
	char buf[FL_MSG_LEN];
	struct fl_sb sb = { buf, sizeof(buf), 0 };
	const char *sep = "";

	memset(&w, 0, sizeof(w));
	for (i = 0; i < s->nthreads; i++) {
		const struct fl_thread *t = &s->threads[i];
		const struct fl_lock *lk;

		if (t->done)
			continue;
		lk = t->pending.lock;
		w.keys |= fl_bit(t->tid);
		w.name[t->tid] = lk->name;
		if (lk->type != FL_RWSEM) {
			if (lk->owner >= 0)
				w.holders[t->tid][w.nholders[t->tid]++] = fl_slot_tid(s, lk->owner);
		} else if (lk->writer >= 0) {
			w.holders[t->tid][w.nholders[t->tid]++] = fl_slot_tid(s, lk->writer);
		} else if (t->pending.mode == FL_WRITE || t->pending.kind == FL_OP_WAIT) {
			w.nholders[t->tid] = fl_mask_tids(s, lk->readers, INT_MIN,
							  w.holders[t->tid]);
		} else {	/* a reader held back by a waiting writer */
			w.nholders[t->tid] = fl_mask_tids(s, lk->waiting_writers, t->tid,
							  w.holders[t->tid]);
		}
		if (first < 0)
			first = t->tid;
	}
	for (i = 0; i < FL_MAX_THREADS && !ncycle; i++) {
		if (!fl_waits_has(&w, i))
			continue;
		path[0] = i;
		ncycle = fl_dfs(&w, i, path, 1, fl_bit(i), cycle);
	}
	buf[0] = '\0';
	if (ncycle) {
		for (i = 0; i < ncycle; i++) {
			fl_sb_printf(&sb, "%sT%d waits for %s held by T%d", sep, cycle[i],
				     w.name[cycle[i]], cycle[(i + 1) % ncycle]);
			sep = "; ";
		}
	} else {
		for (i = 0; i < FL_MAX_THREADS; i++) {
			if (!fl_waits_has(&w, i))
				continue;
			fl_sb_printf(&sb, "%sT%d waits for %s", sep, i, w.name[i]);
			sep = "; ";
		}
	}
	who = ncycle ? cycle[0] : first;
	fl_violation_at(s, FL_INV_DEADLOCK, s->threads[who].pending.fn, s->step, who,
			"no thread can run: %s", buf);
}
