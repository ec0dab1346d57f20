/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The model's state (fuzzlock/model/world.py): mm, VMA, anon_vma (in a
 * typesafe-by-RCU pool, fuzzlock/sched/rcu.py), AVC, folio, PTEs and their
 * split PTLs.  One page is one address unit; a page table covers PTRS_PER_PTE
 * pages.  Everything lives in fixed arrays inside struct fl_world, so lock
 * and string pointers stay valid for a whole run; running out of room is an
 * internal error (outcome "error"), never a crash.
 *
 * Python dicts iterate in insertion order and the invariant checks report the
 * first problem they meet, so the tables and the PTEs of a table carry
 * insertion sequence numbers that reproduce that order.
 */
#ifndef FUZZLOCK_WORLD_H
#define FUZZLOCK_WORLD_H

#include <stdbool.h>
#include <stddef.h>

#include "sched.h"

#define PTRS_PER_PTE	8

#define FL_MAX_MMS	8
#define FL_MAX_VMAS	32
#define FL_MAX_TABLES	64
#define FL_MAX_FOLIOS	256
#define FL_MAX_AV_SLOTS	16
#define FL_MAX_AV_OBJS	64
#define FL_MAX_CHAIN	8
#define FL_MAX_NAMES	512
#define FL_NAME_LEN	48
#define FL_MAX_PINS	16
/* swap entries are numbered from 1; each add_to_swap takes a new one for a folio */
#define FL_MAX_SWAP	(FL_MAX_FOLIOS + 1)

/* errnos (prim.py) */
#define EPERM	1
#define ENOENT	2
#define ESRCH	3
#define EINTR	4
#define EAGAIN	11
#define ENOMEM	12
#define EFAULT	14
#define EBUSY	16
#define EEXIST	17
#define EINVAL	22

/* non-errno results of a user access (memory.SEGV, memory.UFFD_MISSING) */
#define FL_SEGV		1000
#define FL_UFFD_MISSING	1001

/* enum fl_knob (the knob slots) and their FL_WALK_LOCK_* codes: fuzzlock_schema.h */

/* most present mappings one walk record tracks */
#define FL_MAX_WALK_MAPS	64

enum fl_pte_kind {
	PTE_NONE = 0,
	PTE_PRESENT = 1,
	PTE_ZERO = 2,
	PTE_MIGRATION = 3,
	PTE_SWAP = 4,
};

/* world.Pte; pte_same() compares all but mid */
struct fl_pte {
	unsigned char kind;
	bool writable, young, dirty, soft_dirty;
	bool exclusive;		/* a swap or migration entry's exclusive marker */
	int folio;		/* -1 for none */
	int entry;		/* a swap entry's slot, 0 otherwise */
	int mid;		/* ghost mapping id */
};

struct fl_table {
	int mm;
	int index;
	struct fl_lock ptl;
	char ptl_name[FL_NAME_LEN];
	struct fl_pte ptes[PTRS_PER_PTE];
	long long seq[PTRS_PER_PTE];	/* dict insertion order of present entries */
	long long ghost[PTRS_PER_PTE];	/* user.data: sequential value, 0 = never written */
};

struct fl_folio {
	int id;
	struct fl_lock lock;
	int mapping;		/* anon_vma object, -1 = None */
	long long index;
	int refcount;
	int mapcount;
	bool pae, lru, isolated, dirty, freed;
	int swap;		/* swap entry when in the swap cache, else 0 */
	int pincount;
	long long value;
	char name[24];
	char n_refcount[40], n_mapping[40], n_index[40], n_mapcount[40], n_pincount[40],
	     n_data[40], n_lru[40], n_swap[40];
	char repr[16][32];	/* "P(folio:N,flags)" by flag bits, built lazily */
	unsigned short have_repr;
	char mrepr[2][32];	/* "M(folio:N)", "M(folio:N,x)" */
};

/* one anon_vma generation (world.AnonVma) */
struct fl_anon_vma {
	int slot, gen;
	int root;		/* object index */
	int refcount;
	int num_active_vmas;
	int num_children;
	int parent;		/* object index (itself for a root) */
	int ntree;
	int tree[FL_MAX_VMAS];	/* AVCs in the interval tree: the VMA of each */
	long long free_clock;	/* clock at which this generation was freed, -1 */
	char repr[32];		/* anon_vma:S#G */
	char n_refcount[40];	/* anon_vma:S.refcount */
};

struct fl_av_slot {
	struct fl_lock lock;	/* survives reuse */
	char name[24];		/* anon_vma:S */
	char n_rwsem[40];	/* anon_vma:S.rwsem */
	char n_root[40];	/* anon_vma:S.root */
	int gen;
	bool live;
	int obj;		/* the object the slot holds now */
};

struct fl_vma {
	int id;
	int mm;
	char name[FL_NAME_LEN];
	char lock_name[FL_NAME_LEN + 8];
	long long start, end, pgoff;
	bool write, shared, locked, uffd, detached, dontfork, wipeonfork;
	int anon_vma;		/* object, -1 */
	int nchain;
	int chain[FL_MAX_CHAIN];	/* anon_vma objects */
	struct fl_lock lock;
};

struct fl_mm {
	int id;
	bool alive;
	struct fl_lock mmap_lock;
	struct fl_lock page_table_lock;
	struct fl_lock map_changing_lock;
	int mmap_changing;
	bool pinned;		/* MMF_HAS_PINNED (world.pinned_mms) */
	char n_mmap_lock[40], n_ptl[48], n_mcl[48], n_changing[48], n_mm[24];
	int nvmas;
	int vmas[FL_MAX_VMAS];	/* sorted by start */
};

/* one present mapping of a folio (walkrecord.mapping_ids) */
struct fl_walk_map {
	int mid;
	int vma;
	long long addr;
};

/* walkrecord.WalkRecord of an in-flight rmap walk */
struct fl_walkrec {
	int folio;
	int nstart;
	struct fl_walk_map start[FL_MAX_WALK_MAPS];
	int nfound;
	int found[FL_MAX_WALK_MAPS];
};

/*
 * One slot of world.SwapDevice: the three dicts count, cache and content keyed
 * by entry (has_* says whether the key is present), and its trace strings.
 */
struct fl_swap_slot {
	bool has_count, has_content;
	int count;		/* swap_map count: PTEs holding the entry */
	int cache;		/* the swap-cache folio, -1 */
	long long content;	/* what was written out */
	char name[24];		/* swap:E */
	char n_cache[32];	/* swap:E.cache */
	char n_swapin[32];	/* swapin:E */
	char repr[2][24];	/* S(E), S(E,x) */
};

/* world.SwapDevice */
struct fl_swap {
	bool present;
	int next_entry;
	struct fl_swap_slot e[FL_MAX_SWAP];
};

struct fl_name {
	int mm;
	long long addr;
	char s[40];
};

struct fl_world {
	struct fl_sched *s;
	long long knob[K_NR];
	int cls_folio, cls_ptl, cls_ptl_mm, cls_vma, cls_mcl, cls_mmap, cls_av;

	int nmms;
	struct fl_mm mms[FL_MAX_MMS];	/* creation order */
	int nvmas;
	struct fl_vma vmas[FL_MAX_VMAS];
	int ntables;
	struct fl_table tables[FL_MAX_TABLES];	/* creation order */
	long long pte_seq;
	int nfolios;
	struct fl_folio folios[FL_MAX_FOLIOS];
	int nslots;
	struct fl_av_slot slots[FL_MAX_AV_SLOTS];
	int navs;
	struct fl_anon_vma avs[FL_MAX_AV_OBJS];
	int next_mid;
	struct fl_swap swap;
	/* per thread slot (FL_MAX_THREADS = the setup thread) */
	int refs[FL_MAX_THREADS + 1][FL_MAX_FOLIOS];
	long long pte_moves[FL_MAX_THREADS + 1];
	int pins[FL_MAX_THREADS + 1][FL_MAX_PINS];	/* world.pins: folios pinned, oldest first */
	int npins[FL_MAX_THREADS + 1];
	int nnames;
	struct fl_name names[FL_MAX_NAMES];
	struct fl_walkrec walks[FL_MAX_THREADS + 1];
	struct fl_walk_map walk_end[FL_MAX_WALK_MAPS];
	/* Violation.objects of the violation being raised, '\n'-separated ("" = none) */
	char viol_objs[FL_MSG_LEN];
	bool has_viol_objs;
	bool full;		/* a capacity ran out: the run ends in an error */
	/* scratch of the invariant checks */
	int chk_present[FL_MAX_FOLIOS];
	bool chk_has_pae[FL_MAX_FOLIOS];
	char chk_seen[FL_MAX_FOLIOS][FL_NAME_LEN + 24];
};

void fl_world_init(struct fl_world *w, struct fl_sched *s);

/*
 * rmap.walks_hold_folio_lock (mm/rmap.c, v6.19): does this protocol promise that
 * every anon rmap walk holds the folio lock (v6.19, patch 1)?
 */
static inline bool fl_walks_hold_folio_lock(const struct fl_world *w)
{
	return w->knob[K_REF_ACTIVE_LOCK] != FL_WALK_LOCK_NONE && w->knob[K_PAGE_IDLE_LOCK] &&
	       w->knob[K_DAMON_LOCK] && w->knob[K_MF_LOCK];
}
void fl_world_reset(struct fl_world *w);

/* the running thread's slot (lock owner ids), and its tid (-1 for the setup) */
int fl_me(struct fl_world *w);
int fl_tid(struct fl_world *w);

struct fl_mm *fl_mm_get(struct fl_world *w, int id);	/* NULL if absent */
struct fl_mm *fl_new_mm(struct fl_world *w, int id);
struct fl_vma *fl_new_vma(struct fl_world *w, struct fl_mm *mm, long long start,
			  long long end, const char *name);
struct fl_vma *fl_find_vma(struct fl_world *w, struct fl_mm *mm, long long addr);
struct fl_folio *fl_new_folio(struct fl_world *w, long long value);
int fl_alloc_anon_vma(struct fl_world *w);
int fl_mapping_id(struct fl_world *w);

/* page tables: lookup (NULL if absent) and MM.table() (creates) */
struct fl_table *fl_table_find(struct fl_world *w, const struct fl_mm *mm, long long addr);
struct fl_table *fl_table(struct fl_world *w, const struct fl_mm *mm, long long addr);
struct fl_lock *fl_ptl(struct fl_world *w, const struct fl_mm *mm, long long addr);
/* MM.pte(): a copy, kind PTE_NONE if none */
struct fl_pte fl_pte_get(struct fl_world *w, const struct fl_mm *mm, long long addr);
void fl_set_pte(struct fl_world *w, const struct fl_mm *mm, long long addr,
		const struct fl_pte *pte);
bool fl_pte_same(const struct fl_pte *a, const struct fl_pte *b);
long long fl_ghost_get(struct fl_world *w, const struct fl_mm *mm, long long addr);
void fl_ghost_set(struct fl_world *w, const struct fl_mm *mm, long long addr, long long v);

/* trace strings, valid until the next reset */
const char *fl_pte_name(struct fl_world *w, const struct fl_mm *mm, long long addr);
const char *fl_pte_repr(struct fl_world *w, const struct fl_pte *p);	/* NULL for none */
struct fl_value fl_pte_value(struct fl_world *w, const struct fl_pte *p);

static inline long long fl_linear_page_index(const struct fl_vma *v, long long addr)
{
	return addr - v->start + v->pgoff;
}

static inline struct fl_lock *fl_av_root_lock(struct fl_world *w, int av)
{
	return &w->slots[w->avs[w->avs[av].root].slot].lock;
}

bool fl_av_is_live(struct fl_world *w, int av);

/* the swap slot of @entry (entries are < FL_MAX_SWAP) */
static inline struct fl_swap_slot *fl_swap_slot(struct fl_world *w, int entry)
{
	return &w->swap.e[entry];
}

/* dict.get(entry, dflt) on SwapDevice.count */
static inline int fl_swap_count(struct fl_world *w, int entry, int dflt)
{
	const struct fl_swap_slot *e = fl_swap_slot(w, entry);

	return e->has_count ? e->count : dflt;
}

static inline void fl_swap_set_count(struct fl_world *w, int entry, int count)
{
	struct fl_swap_slot *e = fl_swap_slot(w, entry);

	e->has_count = true;
	e->count = count;
}

/* SwapDevice.cache.pop / content.pop / count.pop of one entry */
static inline void fl_swap_drop(struct fl_world *w, int entry, bool cache, bool content,
				bool count)
{
	struct fl_swap_slot *e = fl_swap_slot(w, entry);

	if (cache)
		e->cache = -1;
	if (content)
		e->has_content = false;
	if (count)
		e->has_count = false;
}

/* walkrecord.mapping_ids: the present PTEs mapping @folio, in all_mappings() order */
int fl_mapping_ids(struct fl_world *w, int folio, struct fl_walk_map *out);

/* record the objects of the violation about to be raised (NULL-terminated list) */
void fl_viol_objects(struct fl_world *w, ...);
void fl_viol_object_add(struct fl_world *w, const char *o);

/* fl_sched_error() with a message that names the capacity */
void fl_world_full(struct fl_world *w, const char *what);

#endif /* FUZZLOCK_WORLD_H */
