// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzzlock/model/__init__.py and the invariant checks of fuzzlock/invariants.py:
 * setup ops (model.setup_op), thread bodies (model.do_op for every scenario op,
 * results formatted like model._fmt), check_move_result (I16), the per-step and
 * end-of-run state invariants, and the exported run functions.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "prim.h"

#if defined(__SANITIZE_ADDRESS__)
#define FL_MODEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_MODEL_ASAN 1
#endif
#endif

#ifdef FL_MODEL_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);

/*
 * A run that stops on a violation abandons its threads mid-body: their frames'
 * redzones stay poisoned in the stacks, which the next run reuses (and which a
 * later scheduler's mmap may get again after fl_sched_destroy()).  Clear them
 * before the stacks run again or are unmapped (sched.c does not, yet).
 */
static void model_unpoison(struct fl_thread *t)
{
	if (t->stack)
		__asan_unpoison_memory_region(t->stack, t->stack_size);
}
#else
static inline void model_unpoison(struct fl_thread *t)
{
	(void)t;
}
#endif

struct fl_sc_op {
	int code;
	int mm;
	long long a, b, c, d, e;
};

#define FL_RES_LEN	48

struct fl_model_thread {
	struct fl_model *m;
	const char *name;
	struct fl_sc_op *ops;
	size_t nops;
	size_t ndone;		/* results recorded this run */
	char (*res)[FL_RES_LEN];
};

struct fl_setup_arg {
	struct fl_model *m;
	const struct fl_sc_op *op;
};

struct fl_model {
	struct fl_sched s;
	struct fl_world w;
	char *names_buf;
	const char **names;
	size_t nnames;
	struct fl_sc_op *setup;
	size_t nsetup;
	struct fl_model_thread th[FL_MAX_THREADS];
	int nthreads;
	struct fl_sc_op *all_ops;
	char setup_names[64][16];
	char setup_err[FL_MSG_LEN];
	int named[FL_MAX_FOLIO_NAMES];	/* folio slot -> folio id, -1 */
	char (*res_all)[FL_RES_LEN];
	char *res_text;
	size_t res_text_len;
	char res_msg[FL_MSG_LEN + 128];
};

static const char *const fl_sc_names[FL_SC_NR_CODES] = {
	"mmap", "write", "read", "move", "bind", "shrink_active_list", "page_idle",
	"damon_mkold", "damon_young", "memory_failure", "munmap", "exit", "fork", "pin", "unpin",
	"migrate", "madvise_dontneed", "shrink_folio_list", "madvise_cold", "madvise_pageout",
};

/* ops with an "mm" field (model.do_op answers "no-mm" if it does not exist) */
static bool op_has_mm(int code)
{
	switch (code) {
	case FL_SC_SHRINK_ACTIVE:
	case FL_SC_PAGE_IDLE:
	case FL_SC_DAMON_MKOLD:
	case FL_SC_DAMON_YOUNG:
	case FL_SC_MEMORY_FAILURE:
	case FL_SC_UNPIN:
	case FL_SC_MIGRATE:
	case FL_SC_SHRINK_FOLIO:
		return false;
	default:
		return true;
	}
}

static void do_op(struct fl_model *m, const struct fl_sc_op *o, char *out);

/* --- setup ------------------------------------------------------------------------ */

static void setup_body(void *arg)
{
	struct fl_setup_arg *sa = arg;
	struct fl_model *m = sa->m;
	struct fl_world *w = &m->w;
	const struct fl_sc_op *o = sa->op;
	struct fl_mm *mm = fl_mm_get(w, o->mm);

	switch (o->code) {
	case FL_SC_MMAP: {
		struct fl_vma *v;
		int i;

		if (!mm)
			mm = fl_new_mm(w, o->mm);
		if (!mm)
			return;
		v = fl_new_vma(w, mm, o->b, o->b + o->c, m->names[o->a]);
		if (!v)
			return;
		v->uffd = o->d & FL_MMAP_UFFD;
		v->write = o->d & FL_MMAP_WRITE;
		v->locked = o->d & FL_MMAP_LOCKED;
		v->dontfork = o->d & FL_MMAP_DONTFORK;
		v->wipeonfork = o->d & FL_MMAP_WIPEONFORK;
		/* mm.vmas.append(v); mm.vmas.sort(key=start): stable */
		i = mm->nvmas;
		while (i > 0 && w->vmas[mm->vmas[i - 1]].start > v->start) {
			mm->vmas[i] = mm->vmas[i - 1];
			i--;
		}
		mm->vmas[i] = v->id;
		mm->nvmas++;
		return;
	}
	case FL_SC_WRITE:
	case FL_SC_READ: {
		struct fl_vma *vma;
		bool saved = false;

		if (!mm)
			break;	/* "no-mm" */
		vma = fl_find_vma(w, mm, o->a);
		if (vma) {	/* fill a uffd range like UFFDIO_COPY would */
			saved = vma->uffd;
			vma->uffd = false;
		}
		if (o->code == FL_SC_WRITE)
			user_write(w, mm, o->a, o->b);
		else
			user_read(w, mm, o->a);
		if (vma)
			vma->uffd = saved;
		if (!(o->code == FL_SC_WRITE ? o->c : o->b))
			return;
		break;
	}
	case FL_SC_BIND:
		break;
	default: {
		char scratch[FL_RES_LEN];

		do_op(m, o, scratch);
		return;
	}
	}
	/* _bind: the folio a PTE maps, or the swap-cache folio of a swap entry */
	{
		long long slot = o->code == FL_SC_WRITE ? o->c : o->b;
		struct fl_pte p = { .kind = PTE_NONE, .folio = -1 };
		int f;

		if (mm)
			p = fl_pte_get(w, mm, o->a);
		f = p.kind != PTE_NONE ? p.folio : -1;
		if (f < 0 && p.kind == PTE_SWAP)
			f = fl_swap_slot(w, p.entry)->cache;
		if (f < 0) {
			snprintf(m->setup_err, sizeof(m->setup_err),
				 "nothing mapped at mm%d:0x%llx", o->mm,
				 (unsigned long long)o->a);
			return;
		}
		m->named[slot - 1] = f;
	}
}

/* --- thread bodies ---------------------------------------------------------------- */

static void check_move_result(struct fl_world *w, const struct fl_sc_op *o,
			      const struct fl_move_result *r, long long moved)
{
	static const char fn[] = "userfaultfd_move";
	long long reported;
	char mv[32];

	if (r->has_move)
		snprintf(mv, sizeof(mv), "%lld", r->move);
	else
		snprintf(mv, sizeof(mv), "None");
	if (r->ret == 0 && (!r->has_move || r->move != o->c))
		fl_thread_violation("move.result", fn, "returned 0 but move = %s, len %lld", mv,
				    o->c);
	if (r->has_move && r->move == 0)
		fl_thread_violation("move.result", fn, "move = 0: the result is never 0");
	reported = r->has_move && r->move > 0 ? r->move : 0;
	if (moved > reported)
		fl_thread_violation("move.result", fn,
				    "moved %lld page(s) but returned %s with move = %s: "
				    "userspace is told fewer pages moved than did", moved,
				    fl_errname(w, r->ret), mv);
}

/* model._fmt of a memory.user_write/user_read result */
static void fmt_access(char *out, long long r)
{
	if (r == FL_SEGV)
		snprintf(out, FL_RES_LEN, "segv");
	else if (r == FL_UFFD_MISSING)
		snprintf(out, FL_RES_LEN, "uffd-missing");
	else
		snprintf(out, FL_RES_LEN, "%lld", r);
}

/* model.do_op: one op, its result formatted like model._fmt into @out */
static void do_op(struct fl_model *m, const struct fl_sc_op *o, char *out)
{
	struct fl_world *w = &m->w;
	struct fl_mm *mm = NULL;
	struct fl_folio *folio = NULL;

	if (o->code == FL_SC_UNPIN) {
		/* no mm, no folio */
	} else if (op_has_mm(o->code)) {
		mm = fl_mm_get(w, o->mm);
		if (!mm) {
			snprintf(out, FL_RES_LEN, "no-mm");
			return;
		}
	} else {
		if (m->named[o->a] < 0)
			fl_thread_violation("error", "model", "folio slot %lld is not bound", o->a);
		folio = &w->folios[m->named[o->a]];
	}
	switch (o->code) {
	case FL_SC_MOVE: {
		int me = fl_me(w);
		long long before = w->pte_moves[me];
		struct fl_move_result r = userfaultfd_move(w, mm, o->a, o->b, o->c, o->d);

		check_move_result(w, o, &r, w->pte_moves[me] - before);
		if (r.has_move)
			snprintf(out, FL_RES_LEN, "ret=%s,move=%lld", fl_errname(w, r.ret), r.move);
		else
			snprintf(out, FL_RES_LEN, "ret=%s,move=None", fl_errname(w, r.ret));
		break;
	}
	case FL_SC_WRITE:
		fmt_access(out, user_write(w, mm, o->a, o->b));
		break;
	case FL_SC_READ:
		fmt_access(out, user_read(w, mm, o->a));
		break;
	case FL_SC_MUNMAP:
		snprintf(out, FL_RES_LEN, "%lld", do_munmap(w, mm, o->a, o->b));
		break;
	case FL_SC_DONTNEED:
		snprintf(out, FL_RES_LEN, "%lld", madvise_dontneed(w, mm, o->a, o->b));
		break;
	case FL_SC_EXIT:
		snprintf(out, FL_RES_LEN, "%lld", exit_mmap(w, mm));
		break;
	case FL_SC_PIN: {
		int f = gup_fast_pin(w, mm, o->a);

		snprintf(out, FL_RES_LEN, "%s", f < 0 ? "no-pin" : w->folios[f].name);
		break;
	}
	case FL_SC_UNPIN:
		snprintf(out, FL_RES_LEN, "%lld", unpin_last(w));
		break;
	case FL_SC_FORK:
		if (fl_mm_get(w, (int)o->a))
			snprintf(out, FL_RES_LEN, "child-exists");
		else
			snprintf(out, FL_RES_LEN, "%lld", dup_mmap(w, mm, (int)o->a));
		break;
	case FL_SC_SHRINK_ACTIVE: {
		long long referenced = 0;

		if (shrink_active_list(w, folio, &referenced))
			snprintf(out, FL_RES_LEN, "%lld", referenced);
		else
			snprintf(out, FL_RES_LEN, "-");
		break;
	}
	case FL_SC_MIGRATE:
		snprintf(out, FL_RES_LEN, "%s", migrate_folio(w, folio));
		break;
	case FL_SC_SHRINK_FOLIO:
		snprintf(out, FL_RES_LEN, "%s", shrink_folio_list(w, folio, o->b != 0));
		break;
	case FL_SC_COLD:
	case FL_SC_PAGEOUT:
		snprintf(out, FL_RES_LEN, "%lld",
			 madvise_pageout(w, mm, o->a, o->b, o->code == FL_SC_COLD));
		break;
	case FL_SC_PAGE_IDLE:
		snprintf(out, FL_RES_LEN, "%lld", page_idle_clear_pte_refs(w, folio));
		break;
	case FL_SC_DAMON_MKOLD:
		snprintf(out, FL_RES_LEN, "%lld", damon_folio_mkold(w, folio));
		break;
	case FL_SC_DAMON_YOUNG:
		snprintf(out, FL_RES_LEN, "%d", damon_folio_young(w, folio) ? 1 : 0);
		break;
	case FL_SC_MEMORY_FAILURE: {
		int ids[FL_MAX_MMS], n = kill_procs_now(w, folio, ids), i;
		size_t len = 0;

		out[0] = '\0';
		if (n < 0)
			snprintf(out, FL_RES_LEN, "-");
		for (i = 0; i < n; i++) {
			int k = snprintf(out + len, FL_RES_LEN - len, "%s%d", i ? "," : "", ids[i]);

			if (k > 0 && (size_t)k < FL_RES_LEN - len)
				len += (size_t)k;
		}
		break;
	}
	default:
		break;
	}
}

static void thread_body(void *arg)
{
	struct fl_model_thread *mt = arg;
	size_t i;

	for (i = 0; i < mt->nops; i++) {
		do_op(mt->m, &mt->ops[i], mt->res[i]);
		mt->ndone = i + 1;
	}
}

/* --- invariants (fuzzlock/invariants.py) -------------------------------------------- */

#define FAIL(id, ...) do { fl_sched_violation(w->s, id, "invariant", __VA_ARGS__); \
			   return 1; } while (0)

static void where_of(char *buf, size_t n, const struct fl_vma *v, long long addr)
{
	snprintf(buf, n, "%s:0x%llx", v->name, (unsigned long long)addr);
}

/*
 * invariants._check_rmap: I1/I2 for a present PTE (@kind NULL), I12 for a swap
 * PTE (@kind "swap.rmap"), I13 for a migration entry ("migration.reachable").
 * The "vma:0xaddr" location is formatted only for a failure: this runs for
 * every mapped PTE after every step.
 */
static int check_rmap(struct fl_world *w, struct fl_folio *f, struct fl_vma *v,
		      long long addr, const char *kind)
{
	const char *reach = kind ? kind : "rmap.reachable";
	const char *life = kind ? reach : "anon_vma.lifetime";
	const char *idx = kind ? reach : "rmap.index";
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
					if (check_rmap(w, &w->folios[cached], v, addr, "swap.rmap"))
						return 1;
					continue;
				}
				if (p->folio < 0)
					continue;
				f = &w->folios[p->folio];
				if (p->kind == PTE_MIGRATION) {
					if (f->freed) {
						where_of(where, sizeof(where), v, addr);
						FAIL("migration.reachable",
						     "migration entry at %s still points at %s, which "
						     "was freed: remove_migration_ptes did not reach it "
						     "(a later fault would wait on it forever)", where,
						     f->name);
					}
					if (check_rmap(w, f, v, addr, "migration.reachable"))
						return 1;
					continue;
				}
				if (p->kind != PTE_PRESENT)
					continue;
				present[f->id]++;
				if (f->freed) {
					where_of(where, sizeof(where), v, addr);
					FAIL("folio.refcount", "%s is mapped at %s but was freed",
					     f->name, where);
				}
				if (check_rmap(w, f, v, addr, NULL))
					return 1;
				if (p->writable && !f->pae) {
					where_of(where, sizeof(where), v, addr);
					FAIL("folio.exclusive",
					     "writable PTE %s maps %s, which is not "
					     "PageAnonExclusive",
					     where, f->name);
				}
				if (f->pae) {
					if (has_pae[f->id]) {
						where_of(where, sizeof(where), v, addr);
						where_of(seen_pae[f->id], sizeof(seen_pae[f->id]),
							 seen_vma[f->id], seen_addr[f->id]);
						FAIL("folio.exclusive",
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
			FAIL("folio.mapcount", "%s mapcount %d but %d PTE(s) map it", f->name,
			     f->mapcount, n);
		if (f->mapcount > 0 && f->mapping >= 0) {
			if (!fl_av_is_live(w, f->mapping))
				FAIL("anon_vma.lifetime",
				     "%s is mapped but its anon_vma %s was freed", f->name,
				     w->avs[f->mapping].repr);
			else if (!fl_av_is_live(w, w->avs[f->mapping].root))
				FAIL("anon_vma.lifetime",
				     "%s is mapped but its root anon_vma %s was freed", f->name,
				     w->avs[w->avs[f->mapping].root].repr);
		}
		if (f->pae && n > 1)
			FAIL("folio.exclusive", "%s is PageAnonExclusive with %d mappings", f->name,
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
				FAIL("anon_vma.lifetime", "%s's root %s was freed", a->repr,
				     w->avs[a->root].repr);
			children[w->avs[a->root].slot]++;
		}
		for (i = 0; i < a->ntree; i++)
			if (!vma_chain_has(&w->vmas[a->tree[i]], av))
				FAIL("anon_vma.tree",
				     "AVC(%s, %s) is in the tree but not on the VMA's chain",
				     w->vmas[a->tree[i]].name, a->repr);
	}
	for (si = 0; final && si < w->nslots; si++) {
		int av = w->slots[si].obj;
		struct fl_anon_vma *a = &w->avs[av];

		if (w->slots[si].live && a->root == av && a->refcount < 1 + children[si])
			FAIL("anon_vma.lifetime", "root %s refcount %d < 1 + %d children", a->repr,
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
					FAIL("anon_vma.tree", "%s's chain references freed %s",
					     v->name, a->repr);
				if (!av_tree_has(a, v->id) && a->ntree)
					FAIL("anon_vma.tree", "%s's AVC for %s is not in its tree",
					     v->name, a->repr);
				for (r = 0; r < nroots; r++)
					if (roots[r] == a->root)
						break;
				if (r == nroots)
					roots[nroots++] = a->root;
			}
			if (nroots > 1)
				FAIL("anon_vma.tree", "%s's AVCs have %d different roots", v->name,
				     nroots);
			if (v->anon_vma >= 0 && !vma_chain_has(v, v->anon_vma))
				FAIL("anon_vma.tree", "%s.anon_vma is not in its chain", v->name);
		}
	}
	return 0;
}

static int model_check_step(struct fl_sched *s, struct fl_thread *t, void *ctx)
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

static int model_check_end(struct fl_sched *s, void *ctx)
{
	struct fl_world *w = ctx;
	int i, k;

	if (check_mappings(w) || check_anon_vmas(w, true))
		return 1;
	for (i = 0; i < w->nfolios; i++) {
		struct fl_folio *f = &w->folios[i];

		int want = f->mapcount + (f->swap ? 1 : 0) + f->pincount + (f->isolated ? 1 : 0);

		if (!f->freed && f->refcount != want)
			FAIL("folio.refcount",
			     "%s refcount %d at quiescence, expected %d (mapcount %d, swapcache %d, "
			     "pins %d)", f->name, f->refcount, want, f->mapcount, f->swap ? 1 : 0,
			     f->pincount);
	}
	/* sorted by tid: the setup (-1) first */
	for (k = -1; k < s->nthreads; k++) {
		int slot = k < 0 ? FL_MAX_THREADS : k;

		for (i = 0; i < w->nfolios; i++)
			if (w->refs[slot][i])
				FAIL("thread.end",
				     "T%d ends holding %d temporary reference(s) on folio:%d", k,
				     w->refs[slot][i], i);
	}
	return 0;
}

#undef FAIL

/* --- building ---------------------------------------------------------------------- */


static int check_op(const long long *o, bool setup, size_t nnames, const char *who, size_t k,
		    char *err, size_t errlen)
{
	long long code = o[0];
	int i;

	if (code < 0 || code >= FL_SC_NR_CODES) {
		fl_format_err(err, errlen, "%s op %zu: bad op code %lld", who, k, code);
		return -1;
	}
	if (!setup && (code == FL_SC_MMAP || code == FL_SC_BIND)) {
		fl_format_err(err, errlen, "%s op %zu: %s is a setup-only op", who, k,
			  fl_sc_names[code]);
		return -1;
	}
	if (o[1] < 0 || o[1] > 1000000) {
		fl_format_err(err, errlen, "%s op %zu: mm %lld out of range", who, k, o[1]);
		return -1;
	}
	for (i = 2; i < FL_OP_WORDS; i++) {
		if (code == FL_SC_WRITE && i == 3)
			continue;	/* the value: any 64-bit int */
		if (o[i] < 0 || o[i] > (1LL << 20)) {
			fl_format_err(err, errlen, "%s op %zu: argument %d (%lld) out of range", who, k,
				  i - 1, o[i]);
			return -1;
		}
	}
	switch (code) {
	case FL_SC_MMAP:
		if ((size_t)o[2] >= nnames || o[4] < 1 || o[4] > 64 || o[5] > 31 || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed mmap", who, k);
			return -1;
		}
		break;
	case FL_SC_WRITE:
		if (o[4] > FL_MAX_FOLIO_NAMES || (!setup && o[4]) || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed write", who, k);
			return -1;
		}
		break;
	case FL_SC_READ:
		if (o[3] > FL_MAX_FOLIO_NAMES || (!setup && o[3]) || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed read", who, k);
			return -1;
		}
		break;
	case FL_SC_MOVE:
		if (o[4] < 1 || o[4] > 64 || o[5] > 3 || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed move", who, k);
			return -1;
		}
		break;
	case FL_SC_BIND:
		if (o[3] < 1 || o[3] > FL_MAX_FOLIO_NAMES || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed bind", who, k);
			return -1;
		}
		break;
	case FL_SC_MUNMAP:
	case FL_SC_DONTNEED:
	case FL_SC_COLD:
	case FL_SC_PAGEOUT:
		if (o[3] < 1 || o[3] > 64 || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed munmap", who, k);
			return -1;
		}
		break;
	case FL_SC_PIN:
		if (o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed pin", who, k);
			return -1;
		}
		break;
	case FL_SC_UNPIN:
		if (o[1] || o[2] || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed unpin", who, k);
			return -1;
		}
		break;
	case FL_SC_FORK:
		if (o[2] > 1000000 || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed fork", who, k);
			return -1;
		}
		break;
	case FL_SC_EXIT:
		if (o[2] || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed exit", who, k);
			return -1;
		}
		break;
	case FL_SC_SHRINK_FOLIO:
		if (o[1] || o[2] >= FL_MAX_FOLIO_NAMES || o[3] > 1 || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed %s", who, k,
				      fl_sc_names[code]);
			return -1;
		}
		break;
	default:
		if (o[1] || o[2] >= FL_MAX_FOLIO_NAMES || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed %s", who, k,
				  fl_sc_names[code]);
			return -1;
		}
		break;
	}
	return 0;
}

static void fill_op(struct fl_sc_op *d, const long long *o)
{
	d->code = (int)o[0];
	d->mm = (int)o[1];
	d->a = o[2];
	d->b = o[3];
	d->c = o[4];
	d->d = o[5];
	d->e = o[6];
}

/*
 * fl_model_new, or with @reuse, fl_model_reload: @reuse takes the new scenario
 * and keeps its scheduler (thread stacks, lockdep classes) and world (its
 * constant strings); on an error it keeps its old scenario.
 */
static struct fl_model *model_build(struct fl_model *reuse, const long long *enc, size_t len,
				    const char *names, char *err, size_t errlen)
{
	struct fl_model *m;
	size_t pos = 0, i, k, total = 0, nnames = 0, nthreads, nsetup, rtl;
	char *p, *nb, *rt;
	const char **na;
	struct fl_sc_op *ops;
	char (*ra)[FL_RES_LEN];

	if (err && errlen)
		err[0] = '\0';
	if (!enc || !names) {
		fl_format_err(err, errlen, "no encoding");
		return NULL;
	}
	if (len < K_NR + 2) {
		fl_format_err(err, errlen, "encoding too short");
		return NULL;
	}
	for (i = 0; i < K_NR; i++) {
		long long hi = fl_knob_max((int)i);

		if (enc[i] < 0 || enc[i] > hi) {
			fl_format_err(err, errlen, "knob %zu: value %lld is not in 0..%lld", i, enc[i],
				  hi);
			return NULL;
		}
	}
	for (p = (char *)names, nnames = 1; *p; p++)
		if (*p == '\n')
			nnames++;
	/* validate */
	pos = K_NR;
	nsetup = (size_t)enc[pos];
	if (enc[pos] < 0 || enc[pos] > 64 || nsetup > (len - pos - 1) / FL_OP_WORDS) {
		fl_format_err(err, errlen, "setup: %lld ops do not fit", enc[pos]);
		return NULL;
	}
	pos++;
	for (k = 0; k < nsetup; k++, pos += FL_OP_WORDS)
		if (check_op(&enc[pos], true, nnames, "setup", k, err, errlen))
			return NULL;
	total += nsetup;
	if (pos >= len || enc[pos] < 1 || enc[pos] > FL_MAX_THREADS) {
		fl_format_err(err, errlen, "bad thread count");
		return NULL;
	}
	nthreads = (size_t)enc[pos++];
	for (i = 0; i < nthreads; i++) {
		char who[32];
		long long n;

		snprintf(who, sizeof(who), "thread %zu", i);
		if (pos + 2 > len || enc[pos] < 0 || (size_t)enc[pos] >= nnames) {
			fl_format_err(err, errlen, "%s: bad name", who);
			return NULL;
		}
		n = enc[pos + 1];
		pos += 2;
		if (n < 0 || n > 64 || (size_t)n > (len - pos) / FL_OP_WORDS) {
			fl_format_err(err, errlen, "%s: %lld ops do not fit", who, n);
			return NULL;
		}
		for (k = 0; k < (size_t)n; k++, pos += FL_OP_WORDS)
			if (check_op(&enc[pos], false, nnames, who, k, err, errlen))
				return NULL;
		total += (size_t)n;
	}
	if (pos != len) {
		fl_format_err(err, errlen, "%zu trailing integers", len - pos);
		return NULL;
	}
	nb = malloc(strlen(names) + 1);
	na = calloc(nnames, sizeof(*na));
	ops = calloc(total ? total : 1, sizeof(*ops));
	ra = calloc(total ? total : 1, sizeof(*ra));
	rtl = (total + nthreads + 1) * (FL_RES_LEN + 8);
	rt = malloc(rtl);
	m = reuse ? reuse : calloc(1, sizeof(*m));
	if (!nb || !na || !ops || !ra || !rt || !m ||
	    (!reuse && fl_sched_init(&m->s, FL_DEFAULT_MAX_STEPS))) {
		free(nb);
		free(na);
		free(ops);
		free(ra);
		free(rt);
		if (!reuse)
			free(m);
		fl_format_err(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(nb, names, strlen(names) + 1);
	if (reuse) {
		free(m->names_buf);
		free(m->names);
		free(m->all_ops);
		free(m->res_all);
		free(m->res_text);
	}
	m->names_buf = nb;
	m->names = na;
	m->all_ops = ops;
	m->res_all = ra;
	m->res_text = rt;
	m->res_text_len = rtl;
	m->nnames = nnames;
	m->names[0] = m->names_buf;
	for (p = m->names_buf, i = 1; *p; p++) {
		if (*p == '\n') {
			*p = '\0';
			m->names[i++] = p + 1;
		}
	}
	if (!reuse)
		fl_world_init(&m->w, &m->s);
	for (i = 0; i < K_NR; i++)
		m->w.knob[i] = enc[i];
	/* fill */
	pos = K_NR + 1;
	total = 0;
	m->setup = m->all_ops;
	m->nsetup = nsetup;
	for (k = 0; k < nsetup; k++, pos += FL_OP_WORDS)
		fill_op(&m->all_ops[total++], &enc[pos]);
	m->nthreads = (int)nthreads;
	pos++;
	for (i = 0; i < nthreads; i++) {
		struct fl_model_thread *mt = &m->th[i];

		mt->m = m;
		mt->name = m->names[enc[pos]];
		mt->nops = (size_t)enc[pos + 1];
		pos += 2;
		mt->ops = &m->all_ops[total];
		mt->res = &m->res_all[total];
		for (k = 0; k < mt->nops; k++, pos += FL_OP_WORDS)
			fill_op(&m->all_ops[total++], &enc[pos]);
	}
	for (k = 0; !reuse && k < 64; k++)
		snprintf(m->setup_names[k], sizeof(m->setup_names[k]), "setup[%zu]", k);
	return m;
}

struct fl_model *fl_model_new(const long long *enc, size_t len, const char *names, char *err,
			      size_t errlen)
{
	return model_build(NULL, enc, len, names, err, errlen);
}

struct fl_model *fl_model_reload(struct fl_model *m, const long long *enc, size_t len,
				 const char *names, char *err, size_t errlen)
{
	if (!m) {
		fl_format_err(err, errlen, "no model");
		return NULL;
	}
	return model_build(m, enc, len, names, err, errlen);
}

void fl_model_free(struct fl_model *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i <= FL_MAX_THREADS; i++)	/* the next mmap may reuse the stacks */
		model_unpoison(&m->s.threads[i]);
	fl_sched_destroy(&m->s);
	free(m->names_buf);
	free(m->names);
	free(m->all_ops);
	free(m->res_all);
	free(m->res_text);
	free(m);
}

/* Violation.objects of the last run's violation, '\n'-separated; NULL if not recorded */
const char *fl_model_violation_objects(struct fl_model *m)
{
	if (!m || !m->s.has_viol || !m->w.has_viol_objs)
		return NULL;
	return m->w.viol_objs;
}

const char *fl_model_results(struct fl_model *m)
{
	size_t len = 0, i;
	int t;

	if (!m)
		return "";
	m->res_text[0] = '\0';
	for (t = 0; t < m->nthreads; t++) {
		const struct fl_model_thread *mt = &m->th[t];

		len += (size_t)snprintf(m->res_text + len, m->res_text_len - len, "%s%zu",
					t ? "\n" : "", mt->ndone);
		for (i = 0; i < mt->ndone; i++)
			len += (size_t)snprintf(m->res_text + len, m->res_text_len - len, "\t%s",
						mt->res[i]);
	}
	return m->res_text;
}

/* A fresh world, the setup run, the threads spawned: 0, or an FL_MODEL_* error. */
static int model_prepare(struct fl_model *m, int max_steps)
{
	struct fl_sched *s = &m->s;
	size_t i;
	int t;

	fl_sched_reset(s);
	s->max_steps = max_steps < 0 ? 0 : max_steps;
	s->check_step = NULL;
	s->check_end = NULL;
	s->check_ctx = &m->w;
	fl_world_reset(&m->w);
	m->setup_err[0] = '\0';
	for (i = 0; i < FL_MAX_FOLIO_NAMES; i++)
		m->named[i] = -1;
	for (t = 0; t < m->nthreads; t++)
		m->th[t].ndone = 0;
	for (i = 0; i < m->nsetup; i++) {
		struct fl_setup_arg sa = { m, &m->setup[i] };

		model_unpoison(&s->threads[FL_MAX_THREADS]);
		if (fl_sched_run_solo(s, m->setup_names[i], setup_body, &sa)) {
			if (s->outcome != FL_VIOLATION)
				return FL_MODEL_ERROR;
			snprintf(m->res_msg, sizeof(m->res_msg), "scenario.setup[%zu] (%s): %s", i,
				 fl_sc_names[m->setup[i].code], s->viol.message);
			return FL_MODEL_SETUP_ERROR;
		}
		if (m->setup_err[0]) {
			snprintf(m->res_msg, sizeof(m->res_msg), "scenario.setup[%zu] (%s): %s", i,
				 fl_sc_names[m->setup[i].code], m->setup_err);
			return FL_MODEL_SETUP_ERROR;
		}
	}
	for (t = 0; t < m->nthreads; t++) {
		model_unpoison(&s->threads[t]);
		if (fl_sched_spawn(s, m->th[t].name, thread_body, &m->th[t]) < 0)
			return FL_MODEL_ERROR;
	}
	s->check_step = model_check_step;
	s->check_end = model_check_end;
	return FL_MODEL_OK;
}

static void model_error_result(struct fl_model *m, struct fl_result *res, int rc)
{
	memset(res, 0, sizeof(*res));
	res->outcome = FL_ERROR;
	res->outcome_id = rc == FL_MODEL_SETUP_ERROR ? "setup-error" : "error";
	res->violation_step = -1;
	res->violation_thread = -1;
	res->violation_fn = "";
	if (rc != FL_MODEL_SETUP_ERROR)
		snprintf(m->res_msg, sizeof(m->res_msg), "%s", m->s.viol.message);
	res->message = m->res_msg;
}

/*
 * fl_model_run - run the scenario once, replaying @decisions (0 once
 * exhausted).  Returns FL_MODEL_OK (the run's outcome is in @res, arrays valid
 * until the next run or fl_model_free()), FL_MODEL_SETUP_ERROR or
 * FL_MODEL_ERROR (res->message says why).
 */
int fl_model_run(struct fl_model *m, const long long *decisions, size_t n, int max_steps,
		 struct fl_result *res)
{
	struct fl_chooser ch;
	struct fl_replay r;
	size_t i;
	int rc;

	if (!m || !res)
		return FL_MODEL_ERROR;
	for (i = 0; decisions && i < n; i++) {
		if (decisions[i] < 0) {
			snprintf(m->res_msg, sizeof(m->res_msg), "negative decision");
			memset(res, 0, sizeof(*res));
			res->outcome = FL_ERROR;
			res->outcome_id = "error";
			res->message = m->res_msg;
			res->violation_step = -1;
			res->violation_thread = -1;
			res->violation_fn = "";
			return FL_MODEL_ERROR;
		}
	}
	fl_set_cur_world(&m->w);
	rc = model_prepare(m, max_steps);
	if (rc) {
		model_error_result(m, res, rc);
		return rc;
	}
	fl_replay_init(&ch, &r, decisions, n);
	fl_sched_run(&m->s, &ch);
	fl_sched_result(&m->s, res);
	return res->outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
}

/*
 * fl_model_bench - @runs runs with seeded random choosers (seed, seed + 1, ...),
 * no trace text.  Returns the total number of scheduling steps, or -1.
 */
long long fl_model_bench(struct fl_model *m, long long runs, unsigned long long seed,
			 int max_steps)
{
	long long total = 0, i;

	if (!m)
		return -1;
	fl_set_cur_world(&m->w);
	for (i = 0; i < runs; i++) {
		struct fl_chooser ch;
		struct fl_random r;

		if (model_prepare(m, max_steps))
			return -1;
		fl_random_init(&ch, &r, seed + (unsigned long long)i, 1.0);
		fl_sched_run(&m->s, &ch);
		if (m->s.outcome == FL_ERROR)
			return -1;
		total += m->s.step;
	}
	return total;
}

/*
 * fl_model_run_chooser - fl_model_run with decisions from @ch (native/explore.c:
 * callbacks, PCT, footprints).  FL_MODEL_NO_STEP_CHECKS leaves out the per-step
 * invariants.  @res may be NULL: no result, no trace text (benchmarks).
 */
int fl_model_run_chooser(struct fl_model *m, const struct fl_chooser *ch, int max_steps,
			 int flags, struct fl_result *res)
{
	int rc;

	if (!m || !ch)
		return FL_MODEL_ERROR;
	fl_set_cur_world(&m->w);
	rc = model_prepare(m, max_steps);
	if (rc) {
		if (res)
			model_error_result(m, res, rc);
		return rc;
	}
	if (flags & FL_MODEL_NO_STEP_CHECKS)
		m->s.check_step = NULL;
	fl_sched_run(&m->s, ch);
	if (!res)
		return m->s.outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
	fl_sched_result(&m->s, res);
	return res->outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
}

struct fl_sched *fl_model_sched(struct fl_model *m)
{
	return &m->s;
}

struct fl_world *fl_model_world(struct fl_model *m)
{
	return &m->w;
}

int fl_model_nthreads(const struct fl_model *m)
{
	return m->nthreads;
}
