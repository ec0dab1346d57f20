// SPDX-License-Identifier: GPL-2.0-only
/*
 * The model's state: allocation, lookups and trace strings
 * (fuzzlock/model/world.py, the anon_vma pool of fuzzlock/sched/rcu.py).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "world.h"

void fl_world_full(struct fl_world *w, const char *what)
{
	w->full = true;
	fl_sched_error(w->s, "model capacity exceeded: %s", what);
	if (w->s->in_thread)
		fl_thread_violation("error", "model", "capacity");
}

/*
 * Every world's swap slots start as this: zeroed, with their trace strings.
 * Formatting them (5 x FL_MAX_SWAP snprintf calls) cost more than the rest of
 * building a model, which the hunt does once per generated scenario; they
 * depend only on the slot number, so they are formatted once, when the
 * library is loaded.
 */
static struct fl_swap_slot fl_swap_template[FL_MAX_SWAP];

__attribute__((constructor)) static void fl_swap_template_init(void)
{
	int i;

	for (i = 0; i < FL_MAX_SWAP; i++) {
		struct fl_swap_slot *e = &fl_swap_template[i];

		snprintf(e->name, sizeof(e->name), "swap:%d", i);
		snprintf(e->n_cache, sizeof(e->n_cache), "swap:%d.cache", i);
		snprintf(e->n_swapin, sizeof(e->n_swapin), "swapin:%d", i);
		snprintf(e->repr[0], sizeof(e->repr[0]), "S(%d)", i);
		snprintf(e->repr[1], sizeof(e->repr[1]), "S(%d,x)", i);
	}
}

void fl_world_init(struct fl_world *w, struct fl_sched *s)
{
	memset(w, 0, sizeof(*w));
	w->s = s;
	w->cls_folio = fl_sched_class(s, "folio_lock");
	w->cls_ptl = fl_sched_class(s, "ptl");
	w->cls_ptl_mm = fl_sched_class(s, "page_table_lock");
	w->cls_vma = fl_sched_class(s, "vma_lock");
	w->cls_mcl = fl_sched_class(s, "map_changing_lock");
	w->cls_mmap = fl_sched_class(s, "mmap_lock");
	w->cls_av = fl_sched_class(s, "anon_vma->rwsem");
	/* the swap slots' trace strings, formatted once per process (see below) */
	memcpy(w->swap.e, fl_swap_template, sizeof(w->swap.e));
	w->swap.next_entry = FL_MAX_SWAP;	/* every slot is reset by the first reset */
}

/* world.SwapDevice(): no entries (only the slots a run used need clearing) */
static void fl_swap_reset(struct fl_swap *sw)
{
	int i;

	for (i = 0; i < sw->next_entry && i < FL_MAX_SWAP; i++) {
		sw->e[i].has_count = false;
		sw->e[i].has_content = false;
		sw->e[i].cache = -1;
	}
	sw->present = true;
	sw->next_entry = 1;
}

/* A fresh world for the next run (the knobs and classes stay). */
void fl_world_reset(struct fl_world *w)
{
	int i;

	/* only the last run's folios can have references (the rest stayed 0) */
	for (i = 0; i <= FL_MAX_THREADS; i++)
		memset(w->refs[i], 0, sizeof(w->refs[i][0]) * (size_t)w->nfolios);
	w->nmms = 0;
	w->nvmas = 0;
	w->ntables = 0;
	w->pte_seq = 0;
	w->nfolios = 0;
	w->nslots = 0;
	w->navs = 0;
	w->next_mid = 1;
	fl_swap_reset(&w->swap);
	memset(w->pte_moves, 0, sizeof(w->pte_moves));
	memset(w->npins, 0, sizeof(w->npins));
	w->nnames = 0;
	w->full = false;
	w->viol_objs[0] = '\0';
	w->has_viol_objs = false;
}

void fl_viol_object_add(struct fl_world *w, const char *o)
{
	size_t len = strlen(w->viol_objs);

	snprintf(w->viol_objs + len, sizeof(w->viol_objs) - len, "%s%s",
		 w->has_viol_objs && len ? "\n" : "", o);
	w->has_viol_objs = true;
}

void fl_viol_objects(struct fl_world *w, ...)
{
	size_t len = 0;
	const char *o;
	va_list ap;

	w->viol_objs[0] = '\0';
	w->has_viol_objs = true;
	va_start(ap, w);
	while ((o = va_arg(ap, const char *)) != NULL) {
		int k = snprintf(w->viol_objs + len, sizeof(w->viol_objs) - len, "%s%s",
				 len ? "\n" : "", o);

		if (k > 0 && (size_t)k < sizeof(w->viol_objs) - len)
			len += (size_t)k;
	}
	va_end(ap);
}

int fl_me(struct fl_world *w)
{
	return w->s->current ? w->s->current->slot : -1;
}

int fl_tid(struct fl_world *w)
{
	return w->s->current ? w->s->current->tid : -1;
}

struct fl_mm *fl_mm_get(struct fl_world *w, int id)
{
	int i;

	for (i = 0; i < w->nmms; i++)
		if (w->mms[i].id == id)
			return &w->mms[i];
	return NULL;
}

struct fl_mm *fl_new_mm(struct fl_world *w, int id)
{
	struct fl_mm *mm;

	if (w->nmms == FL_MAX_MMS) {
		fl_world_full(w, "mms");
		return NULL;
	}
	mm = &w->mms[w->nmms++];
	memset(mm, 0, sizeof(*mm));
	mm->id = id;
	mm->alive = true;
	snprintf(mm->n_mmap_lock, sizeof(mm->n_mmap_lock), "mm%d.mmap_lock", id);
	snprintf(mm->n_ptl, sizeof(mm->n_ptl), "mm%d.page_table_lock", id);
	snprintf(mm->n_mcl, sizeof(mm->n_mcl), "uffd:mm%d.map_changing_lock", id);
	snprintf(mm->n_changing, sizeof(mm->n_changing), "uffd:mm%d.mmap_changing", id);
	snprintf(mm->n_mm, sizeof(mm->n_mm), "mm%d", id);
	fl_lock_init(&mm->mmap_lock, mm->n_mmap_lock, w->cls_mmap, FL_RWSEM);
	fl_lock_init(&mm->page_table_lock, mm->n_ptl, w->cls_ptl_mm, FL_SPINLOCK);
	fl_lock_init(&mm->map_changing_lock, mm->n_mcl, w->cls_mcl, FL_RWSEM);
	return mm;
}

struct fl_vma *fl_new_vma(struct fl_world *w, struct fl_mm *mm, long long start,
			  long long end, const char *name)
{
	struct fl_vma *v;

	if (w->nvmas == FL_MAX_VMAS || mm->nvmas == FL_MAX_VMAS) {
		fl_world_full(w, "vmas");
		return NULL;
	}
	v = &w->vmas[w->nvmas];
	memset(v, 0, sizeof(*v));
	v->id = w->nvmas++;
	v->mm = (int)(mm - w->mms);
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->lock_name, sizeof(v->lock_name), "vma:%s", name);
	v->start = start;
	v->end = end;
	v->pgoff = start;
	v->write = true;
	v->anon_vma = -1;
	fl_lock_init(&v->lock, v->lock_name, w->cls_vma, FL_RWSEM);
	return v;
}

struct fl_vma *fl_find_vma(struct fl_world *w, struct fl_mm *mm, long long addr)
{
	int i;

	for (i = 0; i < mm->nvmas; i++) {
		struct fl_vma *v = &w->vmas[mm->vmas[i]];

		if (v->start <= addr && addr < v->end && !v->detached)
			return v;
	}
	return NULL;
}

struct fl_folio *fl_new_folio(struct fl_world *w, long long value)
{
	struct fl_folio *f;
	int id;

	if (w->nfolios == FL_MAX_FOLIOS) {
		fl_world_full(w, "folios");
		return NULL;
	}
	id = w->nfolios++;
	f = &w->folios[id];
	f->id = id;
	f->mapping = -1;
	f->index = 0;
	f->refcount = 1;
	f->mapcount = 0;
	f->pae = f->lru = f->isolated = f->dirty = f->freed = false;
	f->swap = 0;
	f->pincount = 0;
	f->value = value;
	f->have_repr = 0;
	if (!f->name[0]) {
		/* the names depend only on the id: formatted once per world, kept by resets */
		snprintf(f->name, sizeof(f->name), "folio:%d", id);
		snprintf(f->mrepr[0], sizeof(f->mrepr[0]), "M(folio:%d)", id);
		snprintf(f->mrepr[1], sizeof(f->mrepr[1]), "M(folio:%d,x)", id);
		snprintf(f->n_refcount, sizeof(f->n_refcount), "folio:%d.refcount", id);
		snprintf(f->n_mapping, sizeof(f->n_mapping), "folio:%d.mapping", id);
		snprintf(f->n_index, sizeof(f->n_index), "folio:%d.index", id);
		snprintf(f->n_mapcount, sizeof(f->n_mapcount), "folio:%d.mapcount", id);
		snprintf(f->n_pincount, sizeof(f->n_pincount), "folio:%d.pincount", id);
		snprintf(f->n_data, sizeof(f->n_data), "folio:%d.data", id);
		snprintf(f->n_lru, sizeof(f->n_lru), "folio:%d.lru", id);
		snprintf(f->n_swap, sizeof(f->n_swap), "folio:%d.swap", id);
	}
	fl_lock_init(&f->lock, f->name, w->cls_folio, FL_MUTEX);
	return f;
}

/* TypesafePool.alloc: the lowest free slot, a new generation */
int fl_alloc_anon_vma(struct fl_world *w)
{
	struct fl_anon_vma *av;
	struct fl_av_slot *sl;
	int i, obj;

	for (i = 0; i < w->nslots; i++)
		if (!w->slots[i].live)
			break;
	if (i == w->nslots) {
		if (w->nslots == FL_MAX_AV_SLOTS) {
			fl_world_full(w, "anon_vma slots");
			return -1;
		}
		sl = &w->slots[w->nslots++];
		memset(sl, 0, sizeof(*sl));
		snprintf(sl->name, sizeof(sl->name), "anon_vma:%d", i);
		snprintf(sl->n_rwsem, sizeof(sl->n_rwsem), "anon_vma:%d.rwsem", i);
		snprintf(sl->n_root, sizeof(sl->n_root), "anon_vma:%d.root", i);
		fl_lock_init(&sl->lock, sl->name, w->cls_av, FL_RWSEM);
	}
	if (w->navs == FL_MAX_AV_OBJS) {
		fl_world_full(w, "anon_vmas");
		return -1;
	}
	sl = &w->slots[i];
	obj = w->navs++;
	av = &w->avs[obj];
	memset(av, 0, sizeof(*av));
	sl->gen++;
	sl->live = true;
	sl->obj = obj;
	av->slot = i;
	av->gen = sl->gen;
	av->root = obj;
	av->parent = obj;
	av->refcount = 1;
	av->free_clock = -1;
	snprintf(av->repr, sizeof(av->repr), "anon_vma:%d#%d", i, sl->gen);
	snprintf(av->n_refcount, sizeof(av->n_refcount), "anon_vma:%d.refcount", i);
	return obj;
}

bool fl_av_is_live(struct fl_world *w, int av)
{
	const struct fl_av_slot *sl = &w->slots[w->avs[av].slot];

	return sl->live && sl->gen == w->avs[av].gen;
}

int fl_mapping_id(struct fl_world *w)
{
	return w->next_mid++;
}

static long long fl_div_floor(long long a, long long b)
{
	long long q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

#ifdef FL_FOOTPRINT
#include "footprint.h"

/*
 * Footprints: whether @mm has a page table at @idx is one cell per (mm, index),
 * which a lookup reads and the table's creation writes (as the Python model's
 * mm.tables dict has a cell per key).  The lookup's scan of the table array is
 * not recorded: it would read ntables, which every new table writes, so every
 * lookup would conflict with the creation of any other table of any mm.  What
 * the scan reads besides is written only when a table is created (its mm and
 * index), and creations are ordered by ntables, so a table's slot in the array
 * is the same in every order of independent steps.  A key that does not fit
 * shares its cell with another one: coarser, still sound.
 */
static void fl_table_key(int mmi, long long idx, unsigned int rw)
{
	fl_fp_cell(((int64_t)FL_FP_TAG_TABLE << 32) |
		   (int64_t)(((uint32_t)mmi & 0xfu) << 28 | ((uint64_t)idx & 0x0fffffffu)), rw);
}

/* gcc does not inline a function into one with other sanitizer attributes */
#define FL_NOT_RECORDED	__attribute__((no_sanitize_thread, noinline))
#else
#define fl_table_key(mmi, idx, rw) do { } while (0)
#define FL_NOT_RECORDED
#endif

static FL_NOT_RECORDED struct fl_table *fl_table_scan(struct fl_world *w, int mmi, long long idx)
{
	int i;

	for (i = 0; i < w->ntables; i++)
		if (w->tables[i].mm == mmi && w->tables[i].index == idx)
			return &w->tables[i];
	return NULL;
}

struct fl_table *fl_table_find(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	int mmi = (int)(mm - w->mms);
	long long idx = fl_div_floor(addr, PTRS_PER_PTE);

	fl_table_key(mmi, idx, FL_FP_READ);
	return fl_table_scan(w, mmi, idx);
}

struct fl_table *fl_table(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	struct fl_table *t = fl_table_find(w, mm, addr);
	long long idx = fl_div_floor(addr, PTRS_PER_PTE);

	if (t)
		return t;
	if (w->ntables == FL_MAX_TABLES) {
		fl_world_full(w, "page tables");
		return NULL;
	}
	fl_table_key((int)(mm - w->mms), idx, FL_FP_WRITE);
	t = &w->tables[w->ntables++];
	memset(t, 0, sizeof(*t));
	t->mm = (int)(mm - w->mms);
	t->index = (int)idx;
	snprintf(t->ptl_name, sizeof(t->ptl_name), "ptl:mm%d:%lld", mm->id, idx);
	fl_lock_init(&t->ptl, t->ptl_name, w->cls_ptl, FL_SPINLOCK);
	return t;
}

struct fl_lock *fl_ptl(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	struct fl_table *t = fl_table(w, mm, addr);

	return t ? &t->ptl : NULL;
}

static inline int fl_pte_off(long long addr)
{
	return (int)(addr - fl_div_floor(addr, PTRS_PER_PTE) * PTRS_PER_PTE);
}

struct fl_pte fl_pte_get(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	struct fl_table *t = fl_table_find(w, mm, addr);
	struct fl_pte none = { .kind = PTE_NONE, .folio = -1 };

	return t ? t->ptes[fl_pte_off(addr)] : none;
}

void fl_set_pte(struct fl_world *w, const struct fl_mm *mm, long long addr,
		const struct fl_pte *pte)
{
	struct fl_table *t = fl_table(w, mm, addr);
	int o = fl_pte_off(addr);

	if (!t)
		return;
	if (!pte || pte->kind == PTE_NONE) {
		t->ptes[o].kind = PTE_NONE;
		t->ptes[o].folio = -1;
		return;
	}
	if (t->ptes[o].kind == PTE_NONE)	/* a new dict key goes last */
		t->seq[o] = ++w->pte_seq;
	t->ptes[o] = *pte;
}

bool fl_pte_same(const struct fl_pte *a, const struct fl_pte *b)
{
	if (a->kind == PTE_NONE || b->kind == PTE_NONE)
		return a->kind == b->kind;
	return a->kind == b->kind && a->folio == b->folio && a->writable == b->writable &&
	       a->young == b->young && a->dirty == b->dirty && a->soft_dirty == b->soft_dirty &&
	       a->exclusive == b->exclusive && a->entry == b->entry;
}

long long fl_ghost_get(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	struct fl_table *t = fl_table_find(w, mm, addr);

	return t ? t->ghost[fl_pte_off(addr)] : 0;
}

void fl_ghost_set(struct fl_world *w, const struct fl_mm *mm, long long addr, long long v)
{
	struct fl_table *t = fl_table_find(w, mm, addr);	/* the PTE's table exists */

	if (t)
		t->ghost[fl_pte_off(addr)] = v;
}

const char *fl_pte_name(struct fl_world *w, const struct fl_mm *mm, long long addr)
{
	struct fl_name *n;
	int i;

	for (i = w->nnames - 1; i >= 0; i--)
		if (w->names[i].mm == mm->id && w->names[i].addr == addr)
			return w->names[i].s;
	if (w->nnames == FL_MAX_NAMES) {
		fl_world_full(w, "names");
		return "pte:?";
	}
	n = &w->names[w->nnames++];
	n->mm = mm->id;
	n->addr = addr;
	snprintf(n->s, sizeof(n->s), "pte:mm%d:%s0x%llx", mm->id, addr < 0 ? "-" : "",
		 (unsigned long long)(addr < 0 ? -addr : addr));
	return n->s;
}

const char *fl_pte_repr(struct fl_world *w, const struct fl_pte *p)
{
	struct fl_folio *f;
	unsigned int bits;
	char flags[8];
	int k = 0;

	if (p->kind == PTE_NONE)
		return NULL;
	if (p->kind == PTE_ZERO)
		return "Z";
	if (p->kind == PTE_SWAP)
		return w->swap.e[p->entry].repr[p->exclusive ? 1 : 0];
	if (p->folio < 0)
		return p->kind == PTE_MIGRATION ? "M(folio:?)" : "P(folio:?)";
	f = &w->folios[p->folio];
	if (p->kind == PTE_MIGRATION)
		return f->mrepr[p->exclusive ? 1 : 0];
	bits = (p->writable ? 1u : 0) | (p->young ? 2u : 0) | (p->dirty ? 4u : 0) |
	       (p->soft_dirty ? 8u : 0);
	if (!(f->have_repr & (1u << bits))) {
		if (p->writable)
			flags[k++] = 'w';
		if (p->young)
			flags[k++] = 'y';
		if (p->dirty)
			flags[k++] = 'd';
		if (p->soft_dirty)
			flags[k++] = 's';
		flags[k] = '\0';
		snprintf(f->repr[bits], sizeof(f->repr[bits]), "P(folio:%d%s%s)", f->id,
			 k ? "," : "", flags);
		f->have_repr |= (unsigned short)(1u << bits);
	}
	return f->repr[bits];
}

struct fl_value fl_pte_value(struct fl_world *w, const struct fl_pte *p)
{
	struct fl_value v = { .kind = FL_VAL_NONE };

	if (p->kind != PTE_NONE) {
		v.kind = FL_VAL_STR;
		v.s = fl_pte_repr(w, p);
	}
	return v;
}
