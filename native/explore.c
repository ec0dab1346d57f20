// SPDX-License-Identifier: GPL-2.0-only
/*
 * More ways to run the C model, for the strategies and the explorer
 * (fuzzlock/native/): decisions from a callback (Hypothesis's lazy draws),
 * from the C PCT chooser (native/choosers.c), many PCT schedules in one call, and,
 * in libfuzzlock_native_fp.so only, runs that record every step's footprint
 * (footprint.h).  Not instrumented in the _fp library: nothing here is model
 * code.
 */
#include <stdio.h>
#include <string.h>

#include "footprint.h"
#include "model.h"
#include "world.h"

typedef long long (*fl_choose_fn)(void *, const int *, int, int);

/* 1 in libfuzzlock_native_fp.so (model code instrumented), 0 in the normal library */
int fl_fp_instrumented(void)
{
#ifdef FL_FOOTPRINT
	return 1;
#else
	return 0;
#endif
}

/* fl_model_run with decisions from @choose (choosers.Chooser, called back) */
int fl_model_run_cb(struct fl_model *m, fl_choose_fn choose, void *ctx, int max_steps,
		    struct fl_result *res)
{
	struct fl_chooser ch = { .choose = choose, .ctx = ctx };

	if (!m || !res || !choose)
		return FL_MODEL_ERROR;
	return fl_model_run_chooser(m, &ch, max_steps, 0, res);
}

/*
 * fl_model_run_pct - fl_model_run with choosers.PCTChooser(seed, n_threads,
 * depth, k), seed_abs = |seed|.  FL_MODEL_ERROR for bad PCT parameters.
 */
int fl_model_run_pct(struct fl_model *m, unsigned long long seed_abs, int depth, int k,
		     int max_steps, struct fl_result *res)
{
	struct fl_chooser ch;
	struct fl_pct p;

	if (!m || !res || fl_pct_init(&ch, &p, seed_abs, fl_model_nthreads(m), depth, k))
		return FL_MODEL_ERROR;
	return fl_model_run_chooser(m, &ch, max_steps, 0, res);
}

/*
 * fl_model_bench_pct - @runs runs with PCT choosers seeded seed, seed + 1, ...
 * (no trace text).  Returns the total number of scheduling steps, or -1.
 */
long long fl_model_bench_pct(struct fl_model *m, long long runs, unsigned long long seed,
			     int depth, int k, int max_steps)
{
	long long total = 0, i;

	if (!m)
		return -1;
	for (i = 0; i < runs; i++) {
		struct fl_chooser ch;
		struct fl_pct p;

		if (fl_pct_init(&ch, &p, seed + (unsigned long long)i, fl_model_nthreads(m), depth,
				k) ||
		    fl_model_run_chooser(m, &ch, max_steps, 0, NULL))
			return -1;
		total += fl_model_sched(m)->step;
	}
	return total;
}

/* --- a digest of the model's state (tests) ---------------------------------------- */

static uint64_t fl_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}

#define FL_W_IN(f)	(off >= offsetof(struct fl_world, f) && \
			 off < offsetof(struct fl_world, f) + sizeof(w->f))
#define FL_W_IDX(f)	((off - offsetof(struct fl_world, f)) / sizeof(w->f[0]))
#define FL_W_INNER(f)	((off - offsetof(struct fl_world, f)) % sizeof(w->f[0]))
#define FL_IN(type, f)	(in >= offsetof(type, f) && in < offsetof(type, f) + sizeof(((type *)0)->f))
#define FL_SUB(type, f)	((in - offsetof(type, f)) / sizeof(((type *)0)->f[0]))

/*
 * Whether the unit at @off holds state of this run: the arrays of objects and
 * their lists are only reset to their counts between runs (fl_world_reset), so
 * what lies past a count is whatever an earlier run of the session left there.
 */
static bool fl_unit_live(const struct fl_world *w, size_t off)
{
	size_t i, in;

	if (FL_W_IN(mms)) {
		i = FL_W_IDX(mms);
		in = FL_W_INNER(mms);
		return (int)i < w->nmms &&
		       (!FL_IN(struct fl_mm, vmas) || (int)FL_SUB(struct fl_mm, vmas) < w->mms[i].nvmas);
	}
	if (FL_W_IN(vmas)) {
		i = FL_W_IDX(vmas);
		in = FL_W_INNER(vmas);
		return (int)i < w->nvmas &&
		       (!FL_IN(struct fl_vma, chain) || (int)FL_SUB(struct fl_vma, chain) < w->vmas[i].nchain);
	}
	if (FL_W_IN(tables))
		return (int)FL_W_IDX(tables) < w->ntables;
	if (FL_W_IN(folios))
		return (int)FL_W_IDX(folios) < w->nfolios;
	if (FL_W_IN(slots))
		return (int)FL_W_IDX(slots) < w->nslots;
	if (FL_W_IN(avs)) {
		i = FL_W_IDX(avs);
		in = FL_W_INNER(avs);
		return (int)i < w->navs &&
		       (!FL_IN(struct fl_anon_vma, tree) ||
			(int)FL_SUB(struct fl_anon_vma, tree) < w->avs[i].ntree);
	}
#ifdef FL_MAX_SWAP
	if (FL_W_IN(swap.e)) {
		const struct fl_swap_slot *e;

		i = FL_W_IDX(swap.e);
		in = FL_W_INNER(swap.e);
		if ((int)i >= w->swap.next_entry)
			return false;
		e = &w->swap.e[i];
		if (FL_IN(struct fl_swap_slot, count))
			return e->has_count;
		if (FL_IN(struct fl_swap_slot, content))
			return e->has_content;
	}
#endif
	return true;
}

/*
 * fl_model_state_digest - a hash of the world after the last run, for the tests
 * that swapping two steps with disjoint footprints changes nothing and that an
 * exploration reaches the end states of naive enumeration: every unit a
 * footprint records (cells.c) that holds state of this run
 * (fl_unit_live), the per-thread state (references, pins, pte_moves), but the
 * PTEs' ghost mapping ids only up to renaming (left out) and anon_vma free
 * clocks only as freed or not (the clock counts steps).  Locks are left out: the
 * end state of a finished run has them all free.
 */
unsigned long long fl_model_state_digest(struct fl_model *m)
{
	const struct fl_fp_layout *l = fl_fp_world_layout();
	const struct fl_world *w;
	const unsigned char *base;
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t u;
	int i, k;

	if (!m || !l)
		return 0;
	w = fl_model_world(m);
	base = (const unsigned char *)w;
	for (u = 0; u < l->nunits; u++) {
		size_t off = u * FL_FP_UNIT;
		uint32_t v = 0;

		if (l->canon[u] < 0 || l->canon[u] != (int32_t)u || !fl_unit_live(w, off))
			continue;	/* excluded, a lock's state, or left by an earlier run */
		if (off >= offsetof(struct fl_world, tables) &&
		    off < offsetof(struct fl_world, tables) + sizeof(w->tables)) {
			size_t in = (off - offsetof(struct fl_world, tables)) % sizeof(struct fl_table);

			if (in >= offsetof(struct fl_table, ptes) &&
			    in < offsetof(struct fl_table, ptes) + sizeof(w->tables[0].ptes) &&
			    (in - offsetof(struct fl_table, ptes)) % sizeof(struct fl_pte) ==
				    offsetof(struct fl_pte, mid))
				continue;
		}
		if (off >= offsetof(struct fl_world, avs) &&
		    off < offsetof(struct fl_world, avs) + sizeof(w->avs)) {
			size_t in = (off - offsetof(struct fl_world, avs)) % sizeof(struct fl_anon_vma);

			if (in >= offsetof(struct fl_anon_vma, free_clock) &&
			    in < offsetof(struct fl_anon_vma, free_clock) + sizeof(long long)) {
				const struct fl_anon_vma *a = &w->avs[(off - offsetof(struct fl_world, avs)) /
								      sizeof(struct fl_anon_vma)];

				v = a->free_clock >= 0;
				h = fl_fnv(h, &v, sizeof(v));
				continue;
			}
		}
		if (off + FL_FP_UNIT <= sizeof(*w))
			memcpy(&v, base + off, FL_FP_UNIT);
		h = fl_fnv(h, &v, sizeof(v));
	}
	for (i = 0; i <= FL_MAX_THREADS; i++) {
		for (k = 0; k < w->nfolios; k++)
			h = fl_fnv(h, &w->refs[i][k], sizeof(w->refs[i][k]));
		h = fl_fnv(h, &w->pte_moves[i], sizeof(w->pte_moves[i]));
		h = fl_fnv(h, &w->npins[i], sizeof(w->npins[i]));
		h = fl_fnv(h, w->pins[i], sizeof(w->pins[i][0]) * (size_t)w->npins[i]);
	}
	return h;
}

/* --- footprints -------------------------------------------------------------------- */

#ifdef FL_FOOTPRINT
/* A footprint recorder for @m's world; free it with fl_fp_free(). */
struct fl_fp *fl_model_fp_new(struct fl_model *m)
{
	const struct fl_fp_layout *l = fl_fp_world_layout();
	struct fl_fp *fp;

	if (!m || !l)
		return NULL;
	fp = fl_fp_new();
	if (fp && fl_fp_add_region(fp, fl_model_world(m), sizeof(struct fl_world), l,
				   FL_FP_TAG_WORLD)) {
		fl_fp_free(fp);
		fp = NULL;
	}
	return fp;
}

/*
 * fl_model_footprints - one run of @m recording every step's footprint into
 * @fp (from fl_model_fp_new(@m)); decisions from @choose if it is not NULL,
 * else replayed from @decisions (0 once exhausted).  @flags: fl_model_run_chooser's.
 * Returns like fl_model_run; the arrays of @res and @fpres stay valid until the
 * next run or until @m / @fp is freed.
 */
int fl_model_footprints(struct fl_model *m, struct fl_fp *fp, const long long *decisions,
			size_t n, fl_choose_fn choose, void *ctx, int max_steps, int flags,
			struct fl_result *res, struct fl_fp_result *fpres)
{
	struct fl_chooser ch = { .choose = choose, .ctx = ctx };
	struct fl_sched *s;
	struct fl_replay r;
	size_t i;
	int rc;

	if (!m || !fp || !res || !fpres || fp->nreg != 1 ||
	    fp->reg[0].base != (uintptr_t)fl_model_world(m))
		return FL_MODEL_ERROR;
	memset(fpres, 0, sizeof(*fpres));
	for (i = 0; !choose && decisions && i < n; i++)
		if (decisions[i] < 0)
			return FL_MODEL_ERROR;
	if (!choose)
		fl_replay_init(&ch, &r, decisions, n);
	s = fl_model_sched(m);
	fl_fp_reset(fp);
	s->fp = fp;
	rc = fl_model_run_chooser(m, &ch, max_steps, flags, res);
	s->fp = NULL;
	fl_fp_pause(fp);
	if (fp->oom) {
		res->outcome = FL_ERROR;
		res->outcome_id = "error";
		res->message = "out of memory (footprints)";
		return FL_MODEL_ERROR;
	}
	fl_fp_result(fp, fpres);
	return rc;
}

/*
 * fl_model_fp_bench - @runs runs with seeded random choosers (seed, seed + 1,
 * ...) recording footprints into @fp (no trace text, nothing handed back):
 * the cost of recording.  Returns the total number of steps, or -1.
 */
long long fl_model_fp_bench(struct fl_model *m, struct fl_fp *fp, long long runs,
			    unsigned long long seed, int max_steps)
{
	struct fl_sched *s;
	long long total = 0, i;

	if (!m || !fp || fp->nreg != 1 || fp->reg[0].base != (uintptr_t)fl_model_world(m))
		return -1;
	s = fl_model_sched(m);
	for (i = 0; i < runs; i++) {
		struct fl_chooser ch;
		struct fl_random r;
		int rc;

		fl_random_init(&ch, &r, seed + (unsigned long long)i, 1.0);
		fl_fp_reset(fp);
		s->fp = fp;
		rc = fl_model_run_chooser(m, &ch, max_steps, 0, NULL);
		s->fp = NULL;
		fl_fp_pause(fp);
		if (rc || fp->oom)
			return -1;
		total += s->step;
	}
	return total;
}
#endif /* FL_FOOTPRINT */
