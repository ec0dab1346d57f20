/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-step footprints of a run (for the source-DPOR explorer): which thread ran
 * each step, the enabled threads in the order the chooser saw them, whether a
 * decision was consumed, and the sets of shared-state "cells" the step read and
 * wrote -- everything from executing the step's op up to the thread's next
 * scheduling point.
 *
 * How accesses are seen (the KCSAN way): libfuzzlock_native_fp.so is built from
 * the same sources, the model files compiled with gcc's -fsanitize=thread
 * instrumentation but without libtsan; fp_hooks.c provides the __tsan_* entry
 * points (and wraps the libc functions that touch memory), which hand every
 * load and store to fl_fp_mem().  While a step is being recorded, an access is
 * kept iff it falls inside a registered *region* (the model's struct fl_world,
 * a toy program's locks and variables) and its unit is not excluded by the
 * region's canonical map (see cells.c for what is excluded and why).
 * The scheduler (scheduler.c and its other C files, not instrumented) adds explicit cells: every lock op
 * and the writer-waiting rule touch the lock's cell, RCU section boundaries read
 * the RCU cell that anon_vma frees write, and lockdep's graph has cells of its
 * own.  The normal library has none of the instrumentation and no footprint
 * runners: there no step is ever recorded and the explicit calls return at once.
 *
 * Cells are opaque int64 values, stable across runs of the same scenario (they
 * are offsets into a region, not addresses):
 *
 *	tag << 32 | canonical unit index	a region's 4-byte unit
 *	FL_FP_CELL_RCU, FL_FP_CELL_LOCKDEP	explicit scheduler cells
 *	FL_FP_TAG_LOCKDEP_EDGE << 32 | edge	one lockdep edge (src node * nodes + dst)
 *	FL_FP_TAG_TABLE << 32 | mm << 28 | index	whether mm has a page table there
 *
 * A step whose footprint does not fit FL_FP_STEP_CELLS, or that touches a lock
 * outside every region, is marked "all": it conflicts with every step.
 */
#ifndef FUZZLOCK_FOOTPRINT_H
#define FUZZLOCK_FOOTPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sched.h"

#define FL_FP_UNIT		4	/* bytes per cell of a region */
#define FL_FP_MAX_REGIONS	2
#define FL_FP_STEP_SPECIAL	64	/* explicit cells (rcu, lockdep) per step */

#define FL_FP_TAG_WORLD		1
#define FL_FP_TAG_TOY		2
#define FL_FP_TAG_SCHED		3
#define FL_FP_TAG_LOCKDEP_EDGE	4
#define FL_FP_TAG_TABLE		5	/* a page table's (mm, index) key: world.c */

#define FL_FP_CELL_RCU		(((int64_t)FL_FP_TAG_SCHED << 32) | 0)
#define FL_FP_CELL_LOCKDEP	(((int64_t)FL_FP_TAG_SCHED << 32) | 1)

/*
 * The canonical map of a region's layout: canon[u] for each 4-byte unit u is
 * -1 (not recorded) or the unit index that names its cell (a lock's mutable
 * units all name one cell).  Built once per layout.
 */
struct fl_fp_layout {
	size_t nunits;
	int32_t *canon;
	uint8_t *excl;		/* while building: per unit, a bit per byte left out */
};

int fl_fp_layout_init(struct fl_fp_layout *l, size_t size);
void fl_fp_layout_free(struct fl_fp_layout *l);
/*
 * The bytes of [off, off + len) are not recorded: a unit is left out once every one
 * of its bytes is (so two excluded fields that share a unit leave it out, and a
 * unit shared with a recorded field stays recorded).
 */
void fl_fp_layout_exclude(struct fl_fp_layout *l, size_t off, size_t len);
/* the units of [off, off + len) are one cell */
void fl_fp_layout_merge(struct fl_fp_layout *l, size_t off, size_t len);
/* the struct fl_lock at @off: constant part not recorded, mutable part one cell */
void fl_fp_layout_lock(struct fl_fp_layout *l, size_t off);

/* The layout of struct fl_world (cells.c); NULL if out of memory. */
const struct fl_fp_layout *fl_fp_world_layout(void);

struct fl_fp_region {
	uintptr_t base;
	size_t size;
	const int32_t *canon;
	uint32_t *seen;		/* per unit: step stamp << 2 | FL_FP_READ | FL_FP_WRITE */
	int64_t tag;		/* already shifted */
};

/* struct fl_fp_step, struct fl_fp_result, FL_FP_STEP_CELLS: fuzzlock_schema.h */

struct fl_fp {
	struct fl_fp_region reg[FL_FP_MAX_REGIONS];
	int nreg;
	uint32_t gen;		/* stamp of the open step */
	bool open;
	bool overflow;
	/* the open step's cells, reads and writes apart */
	int64_t *cur_r, *cur_w;
	size_t ncur_r, ncur_w;
	size_t cap;		/* cells a step may record (FL_FP_STEP_CELLS; lower in tests) */
	bool no_lockdep;	/* leave out the lockdep cells (fl_fp_set_lockdep) */
	int64_t special[FL_FP_STEP_SPECIAL];
	uint8_t special_rw[FL_FP_STEP_SPECIAL];
	int nspecial;
	/* finished steps */
	struct fl_fp_step *steps;
	size_t nsteps, steps_cap;
	int64_t *cells;
	size_t ncells, cells_cap;
	bool oom;
};

/* A recorder with no regions; NULL if out of memory. */
struct fl_fp *fl_fp_new(void);
void fl_fp_free(struct fl_fp *fp);
/* Register [base, base + size) with @layout's map (layout->nunits covers size). */
int fl_fp_add_region(struct fl_fp *fp, const void *base, size_t size,
		     const struct fl_fp_layout *layout, int tag);
/* Forget the steps of the previous run (regions stay). */
void fl_fp_reset(struct fl_fp *fp);
void fl_fp_result(struct fl_fp *fp, struct fl_fp_result *res);
/*
 * Whether lockdep's graph gets cells (default yes).  Without them, steps that
 * differ only in which of them first adds a lockdep edge count as independent:
 * the edge set of a whole run, and so whether it has a cycle, does not depend
 * on their order, but the step at which lockdep reports the cycle (and so
 * where the run stops) does.
 */
void fl_fp_set_lockdep(struct fl_fp *fp, int on);
/* Test aid: a step recording more than @cap cells becomes "all" (2 <= cap <= FL_FP_STEP_CELLS). */
void fl_fp_set_capacity(struct fl_fp *fp, size_t cap);

/* Called by the scheduler around each step (scheduler.c). */
void fl_fp_step_begin(struct fl_fp *fp, int tid, const int *order, int norder, bool decided);
void fl_fp_pause(struct fl_fp *fp);	/* invariant checks: stop recording */
void fl_fp_step_end(struct fl_fp *fp);

#ifdef FL_FOOTPRINT
/* The recorder of the step running on this OS thread, NULL when none is. */
extern __thread struct fl_fp *fl_fp_active __attribute__((tls_model("initial-exec")));
#endif

/* From the hooks: an access of @n bytes at @addr. */
void fl_fp_mem(struct fl_fp *fp, const void *addr, size_t n, unsigned int rw);

#endif /* FUZZLOCK_FOOTPRINT_H */
