/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel primitives as scheduling points (fuzzlock/model/prim.py and the op
 * builders of fuzzlock/sched/ops.py).  Each call is one fl_yield_op() (or a
 * short sequence of them) made from a thread body; @fn is the calling kernel
 * function, as in the trace.
 */
#ifndef FUZZLOCK_PRIM_H
#define FUZZLOCK_PRIM_H

#include "world.h"

/* ops.py */
struct fl_value fl_yield_lock(enum fl_op_kind kind, enum fl_mode mode, int subclass,
			      const char *fn, const char *label, struct fl_lock *lk);
struct fl_value fl_yield_mem(const char *fn, const char *label, const char *obj,
			     fl_thunk_fn thunk, void *arg);

static inline void fl_lock_op(const char *fn, struct fl_lock *lk, int subclass)
{
	fl_yield_lock(FL_OP_LOCK, FL_EXCL, subclass, fn, "lock", lk);
}

static inline bool fl_trylock_op(const char *fn, struct fl_lock *lk)
{
	return fl_yield_lock(FL_OP_TRYLOCK, FL_EXCL, 0, fn, "trylock", lk).i != 0;
}

static inline void fl_unlock_op(const char *fn, struct fl_lock *lk)
{
	fl_yield_lock(FL_OP_UNLOCK, FL_EXCL, 0, fn, "unlock", lk);
}

static inline void fl_down_read(const char *fn, struct fl_lock *lk, int subclass)
{
	fl_yield_lock(FL_OP_LOCK, FL_READ, subclass, fn, "down_read", lk);
}

static inline void fl_down_write(const char *fn, struct fl_lock *lk)
{
	fl_yield_lock(FL_OP_LOCK, FL_WRITE, 0, fn, "down_write", lk);
}

static inline bool fl_down_read_trylock(const char *fn, struct fl_lock *lk)
{
	return fl_yield_lock(FL_OP_TRYLOCK, FL_READ, 0, fn, "down_read_trylock", lk).i != 0;
}

static inline bool fl_down_write_trylock(const char *fn, struct fl_lock *lk)
{
	return fl_yield_lock(FL_OP_TRYLOCK, FL_WRITE, 0, fn, "down_write_trylock", lk).i != 0;
}

static inline void fl_up_read(const char *fn, struct fl_lock *lk)
{
	fl_yield_lock(FL_OP_UNLOCK, FL_READ, 0, fn, "up_read", lk);
}

/*
 * up_read whose step first runs @check (ops.up_read(fn, sem, check)): the
 * liveness check of the object the rwsem lives in, when the step executes.
 */
static inline void fl_up_read_check(const char *fn, struct fl_lock *lk, fl_thunk_fn check,
				    void *arg)
{
	struct fl_op op = {
		.kind = FL_OP_UNLOCK, .mode = FL_READ, .fn = fn, .label = "up_read",
		.obj = lk->name, .lock = lk, .thunk = check, .thunk_arg = arg,
	};

	fl_yield_op(&op);
}

static inline void fl_up_write(const char *fn, struct fl_lock *lk)
{
	fl_yield_lock(FL_OP_UNLOCK, FL_WRITE, 0, fn, "up_write", lk);
}

void fl_rcu_read_lock(const char *fn);
void fl_rcu_read_unlock(const char *fn);
void fl_might_sleep(const char *fn, const char *obj);

/* prim.py */
static inline void folio_lock(const char *fn, struct fl_folio *f)
{
	fl_lock_op(fn, &f->lock, 0);
}

static inline bool folio_trylock(const char *fn, struct fl_folio *f)
{
	return fl_trylock_op(fn, &f->lock);
}

static inline void folio_unlock(const char *fn, struct fl_folio *f)
{
	fl_unlock_op(fn, &f->lock);
}

void fl_ref(struct fl_world *w, struct fl_folio *f, int delta);
int folio_get(struct fl_world *w, const char *fn, struct fl_folio *f);
int folio_put(struct fl_world *w, const char *fn, struct fl_folio *f, bool owned);
/* free_folio from a thunk: returns nonzero after a violation */
int free_folio(struct fl_world *w, const char *fn, struct fl_folio *f);
void free_folio_body(struct fl_world *w, const char *fn, struct fl_folio *f);
bool folio_mapped(struct fl_world *w, const char *fn, struct fl_folio *f);
bool folio_maybe_dma_pinned(struct fl_world *w, const char *fn, struct fl_folio *f);

struct fl_pte ptep_get(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr);
struct fl_pte pte_offset_map(struct fl_world *w, const char *fn, struct fl_mm *mm,
			     long long addr);
void pte_unmap(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr);
struct fl_pte pte_offset_map_lock(struct fl_world *w, const char *fn, struct fl_mm *mm,
				  long long addr);
void pte_unmap_unlock(struct fl_world *w, const char *fn, struct fl_mm *mm, long long addr);
void double_pt_lock(const char *fn, struct fl_lock *ptl1, struct fl_lock *ptl2);
void double_pt_unlock(const char *fn, struct fl_lock *ptl1, struct fl_lock *ptl2);

static inline void anon_vma_lock_write(struct fl_world *w, const char *fn, int av)
{
	fl_down_write(fn, fl_av_root_lock(w, av));
}

static inline void anon_vma_unlock_write(struct fl_world *w, const char *fn, int av)
{
	fl_up_write(fn, fl_av_root_lock(w, av));
}

static inline bool anon_vma_trylock_write(struct fl_world *w, const char *fn, int av)
{
	return fl_down_write_trylock(fn, fl_av_root_lock(w, av));
}

/* anon_vma_unlock_read (prim.c): up_read(&anon_vma->root->rwsem), checked */
/* the check of an up_read of the root rwsem (ops.up_read's check) */
struct fl_unlock_arg {
	struct fl_world *w;
	const char *fn;
	int av;
	bool root_only;
};

struct fl_value anon_vma_unlock_check(void *arg);
void anon_vma_unlock_read(struct fl_world *w, const char *fn, int av);

const char *fl_errname(struct fl_world *w, long long rc);

/* the world of the running model (one per OS thread at a time) */
struct fl_world *fl_cur_world(void);
void fl_set_cur_world(struct fl_world *w);

/* anon_vma.c */
/* the argument of the anon_vma thunks (anon_vma.c, rmap.c) */
struct fl_av_arg {
	struct fl_world *w;
	const char *fn;
	int av;
	struct fl_folio *folio;
	struct fl_vma *vma;
	long long index;
};

int anon_vma_prepare(struct fl_world *w, struct fl_vma *vma);
void put_anon_vma(struct fl_world *w, const char *fn, int av);
void __put_anon_vma(struct fl_world *w, int av);
struct fl_value av_dec_thunk(void *arg);
int anon_vma_fork(struct fl_world *w, struct fl_vma *vma, struct fl_vma *pvma);
void unlink_anon_vmas(struct fl_world *w, struct fl_vma *vma);

/* rcu.c: the anon_vma slab as a typesafe-by-RCU pool */
int fl_av_free(struct fl_world *w, int av, const char *fn);
int fl_av_deref(struct fl_world *w, int av, const char *fn, const char *field);
int fl_av_deref_thunk(struct fl_world *w, int av, const char *fn, const char *field);

/* rmap.c */
int folio_get_anon_vma(struct fl_world *w, struct fl_folio *folio);
bool fl_inc_not_zero(struct fl_world *w, int av);
int fl_read_mapping(struct fl_world *w, const char *fn, struct fl_folio *folio);
bool fl_av_inc_not_zero_op(struct fl_world *w, const char *fn, int mapping, int target);
void folio_move_anon_rmap(struct fl_world *w, const char *fn, struct fl_folio *folio,
			  struct fl_vma *vma);
void set_folio_index(struct fl_world *w, const char *fn, struct fl_folio *folio,
		     long long index);
void folio_add_new_anon_rmap(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive);
void folio_add_anon_rmap_pte(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			     long long addr, bool exclusive);
void folio_remove_rmap_pte(struct fl_folio *folio);

/* the rmap walk (rmap.c) */
struct fl_rwc;
typedef bool (*fl_rmap_one_fn)(struct fl_world *w, struct fl_folio *folio, struct fl_vma *vma,
			       long long addr, struct fl_rwc *rwc, struct fl_walkrec *rec);

/* struct rmap_walk_control plus the walker's private results (rmap.RmapWalkControl) */
struct fl_rwc {
	const char *caller;
	fl_rmap_one_fn rmap_one;
	bool try_lock;
	bool contended;
	bool stopped_early;
	int referenced;
	int mapcount;
	bool accessed;
	bool no_anon_lock;	/* !rwc.anon_lock: rmap_walk_anon_lock on the pinned anon_vma */
	bool done_unmapped;	/* rwc.done: stop once the folio is unmapped */
	int src;		/* rwc.arg["src"] of remove_migration_ptes */
};

void assert_walk_folio_locked(struct fl_world *w, const char *fn, struct fl_folio *folio);
int folio_lock_anon_vma_read(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc);
void rmap_walk_anon(struct fl_world *w, struct fl_folio *folio, struct fl_rwc *rwc);
void check_tree_locked(struct fl_world *w, const char *fn, int av);
/* walkrecord.c */
void walkrec_start(struct fl_world *w, struct fl_walkrec *rec, struct fl_folio *folio);
void walkrec_visit(struct fl_walkrec *rec, int mid);
void walkrec_check(struct fl_world *w, struct fl_walkrec *rec, const char *caller, int av,
		   long long pgoff, const char *tail);
bool rmap_one_pte(struct fl_world *w, const char *fn, struct fl_folio *folio,
		  struct fl_vma *vma, long long addr, struct fl_walkrec *rec, struct fl_pte *out);
long long folio_referenced(struct fl_world *w, struct fl_folio *folio, bool is_locked);
long long fl_read_pgoff(const char *fn, struct fl_folio *folio);
void try_to_unmap(struct fl_world *w, struct fl_folio *folio);

/* walkers.c, vmscan.c */
bool folio_try_get(struct fl_world *w, const char *fn, struct fl_folio *folio);
bool shrink_active_list(struct fl_world *w, struct fl_folio *folio, long long *referenced);
long long page_idle_clear_pte_refs(struct fl_world *w, struct fl_folio *folio);
long long damon_folio_mkold(struct fl_world *w, struct fl_folio *folio);
bool damon_folio_young(struct fl_world *w, struct fl_folio *folio);
/* -1: None; else the number of mm ids (sorted) stored in @ids */
int kill_procs_now(struct fl_world *w, struct fl_folio *folio, int *ids);

/* fork.c; memory.c: zap_pte_range; vmscan.c: munmap, exit, madvise */
long long dup_mmap(struct fl_world *w, struct fl_mm *oldmm, int child_id);
void zap_pte_range(struct fl_world *w, struct fl_vma *vma, long long start, long long end);

long long do_munmap(struct fl_world *w, struct fl_mm *mm, long long start, long long npages);
long long madvise_dontneed(struct fl_world *w, struct fl_mm *mm, long long start,
			   long long npages);
long long exit_mmap(struct fl_world *w, struct fl_mm *mm);
const char *shrink_folio_list(struct fl_world *w, struct fl_folio *folio,
			      bool ignore_references);
long long madvise_pageout(struct fl_world *w, struct fl_mm *mm, long long start,
			  long long npages, bool cold);

/* vmscan.c, migrate.c, memory.c */
bool isolate_lru_folio(struct fl_world *w, const char *fn, struct fl_folio *folio);
void putback_lru_folio(struct fl_world *w, const char *fn, struct fl_folio *folio);
const char *migrate_folio(struct fl_world *w, struct fl_folio *src);
int gup_fast_pin(struct fl_world *w, struct fl_mm *mm, long long addr);
long long unpin_last(struct fl_world *w);
long long user_write(struct fl_world *w, struct fl_mm *mm, long long addr, long long value);
long long user_read(struct fl_world *w, struct fl_mm *mm, long long addr);
struct fl_folio *swap_cache_get_folio_op(struct fl_world *w, const char *fn, int entry);
void free_swap_and_cache(struct fl_world *w, const char *fn, int entry);

/* userfaultfd.c */
struct fl_move_result {
	long long ret;
	long long move;
	bool has_move;
};

struct fl_move_result userfaultfd_move(struct fl_world *w, struct fl_mm *mm, long long dst,
				       long long src, long long len, long long mode);

#define UFFDIO_MOVE_MODE_DONTWAKE	  (1 << 0)
#define UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES (1 << 1)

#endif /* FUZZLOCK_PRIM_H */
