// SPDX-License-Identifier: GPL-2.0-only
/*
 * The batched hunt loop of fuzzlock/campaign.py _hunt_native: one call runs
 * many schedules of one scenario with seeded random decisions and stops at the
 * first violation.
 *
 * Why: a hunt that made one ctypes call per schedule spent most of its time
 * outside the model (building and freeing the C model, the decision list, the
 * trace text and its parsing, sha256).  Here a non-violating run costs the run
 * itself plus one pass over its events: the canonical trace text is written
 * into the scheduler's buffer (fl_sched_trace) and hashed (fl_trace_hash) so
 * that the campaign can still count distinct traces.
 *
 * The decision rules: FL_HUNT_RANDOM and FL_HUNT_PCT_BOUNDED are
 * campaign.predraw_random and campaign.predraw_pct (the pre-drawn lists of the
 * one-call-per-schedule hunt) drawn on demand, at each decision point: the
 * same distribution, without the pre-drawn list's cut-off (decisions past it
 * were 0), and each decision is drawn directly among the enabled threads
 * (uniform in 0..n-1 rather than uniform in 0..720719, the same pick).
 * FL_HUNT_PCT is choosers.PCTChooser (native/choosers.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hunt.h"

unsigned int fl_hunt_strategies(void)
{
	return 1u << FL_HUNT_RANDOM | 1u << FL_HUNT_PCT_BOUNDED | 1u << FL_HUNT_PCT;
}

/* ------------------------------------------------------------------------ */
/* Random numbers: splitmix64, one stream per batch                          */

static uint64_t hunt_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [0, n), n >= 1, unbiased */
static uint64_t hunt_below(uint64_t *state, uint64_t n)
{
	uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;

	do {
		x = hunt_next(state);
	} while (x >= lim);
	return x % n;
}

/* uniform in [0, 1) */
static double hunt_unit(uint64_t *state)
{
	return (double)(hunt_next(state) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------------------ */
/* The chooser of one run                                                    */

struct hunt_chooser {
	uint64_t *rng;
	int strategy;
	double preempt;
	int nthreads;
	long long seen;			/* decisions drawn so far in this run */
	int npoints;
	long long point[FL_HUNT_MAX_DEPTH];	/* PCT_BOUNDED: preemption points */
};

static long long hunt_choose(void *ctx, const int *order, int n, int current)
{
	struct hunt_chooser *c = ctx;
	long long i = c->seen++;
	int k;

	(void)order;
	(void)current;
	if (c->strategy == FL_HUNT_RANDOM) {
		if (c->preempt < 1.0 && !(hunt_unit(c->rng) < c->preempt))
			return 0;
		return (long long)hunt_below(c->rng, (uint64_t)n);
	}
	/* FL_HUNT_PCT_BOUNDED */
	if (i == 0)
		return (long long)hunt_below(c->rng, (uint64_t)n);
	for (k = 0; k < c->npoints; k++)
		if (c->point[k] == i)
			return 1 + (long long)hunt_below(c->rng, (uint64_t)(c->nthreads > 2 ?
									    c->nthreads - 1 : 1));
	return 0;
}

/* random.sample(range(1, max(k, depth) + 1), depth - 1) */
static void hunt_pct_points(struct hunt_chooser *c, int depth, int k)
{
	long long hi = k > depth ? k : depth;
	int j;

	c->npoints = 0;
	while (c->npoints < depth - 1) {
		long long p = 1 + (long long)hunt_below(c->rng, (uint64_t)hi);

		for (j = 0; j < c->npoints; j++)
			if (c->point[j] == p)
				break;
		if (j == c->npoints)
			c->point[c->npoints++] = p;
	}
}

/* ------------------------------------------------------------------------ */
/* The trace hash                                                            */

static inline uint64_t hunt_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

unsigned long long fl_trace_hash(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len, w;
	size_t i = 0;
	int b;

	if (!text)
		len = 0;
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		h = hunt_mix(h, w);
	}
	if (i < len) {
		w = 0;
		for (b = 0; i + (size_t)b < len; b++)
			w |= (uint64_t)p[i + (size_t)b] << (8 * b);
		h = hunt_mix(h, w);
	}
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                  */

static double hunt_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int hunt_bad(struct fl_hunt_out *out, const char *why)
{
	snprintf(out->message, sizeof(out->message), "%s", why);
	return FL_MODEL_ERROR;
}

static int hunt_check_args(const struct fl_hunt_args *a, size_t cap, struct fl_hunt_out *out)
{
	int i;

	if (a->strategy < 0 || a->strategy >= FL_HUNT_NR_STRATEGIES ||
	    !(fl_hunt_strategies() & 1u << a->strategy))
		return hunt_bad(out, "strategy not built into this library");
	if (a->runs < 1)
		return hunt_bad(out, "runs must be >= 1");
	if ((size_t)a->runs > cap)
		return hunt_bad(out, "runs exceeds the capacity of the output arrays");
	if (a->max_steps < 0)
		return hunt_bad(out, "max_steps must be >= 0");
	if (isnan(a->deadline))
		return hunt_bad(out, "deadline is NaN");
	if (a->strategy == FL_HUNT_RANDOM) {
		if (a->npreempt < 1 || a->npreempt > FL_HUNT_MAX_CHOICES)
			return hunt_bad(out, "npreempt must be in 1..8");
		for (i = 0; i < a->npreempt; i++)
			if (!(a->preempt[i] >= 0.0 && a->preempt[i] <= 1.0))
				return hunt_bad(out, "a preempt value is not in [0, 1]");
	} else {
		if (a->ndepth < 1 || a->ndepth > FL_HUNT_MAX_CHOICES)
			return hunt_bad(out, "ndepth must be in 1..8");
		for (i = 0; i < a->ndepth; i++)
			if (a->depth[i] < 1 || a->depth[i] > FL_HUNT_MAX_DEPTH)
				return hunt_bad(out, "a depth is not in 1..16");
		if (a->pct_k < 1 || a->pct_k > FL_HUNT_MAX_K)
			return hunt_bad(out, "pct_k must be in 1..2^24");
	}
	return FL_MODEL_OK;
}

int fl_model_hunt(struct fl_model *m, const struct fl_hunt_args *args,
		  unsigned long long *hashes, int *ndecisions, size_t cap,
		  struct fl_hunt_out *out, struct fl_result *res)
{
	struct fl_sched *s;
	uint64_t rng;
	int rc, i;

	if (!out)
		return FL_MODEL_ERROR;
	memset(out, 0, sizeof(*out));
	if (!m || !args || !hashes || !ndecisions || !res)
		return hunt_bad(out, "a NULL argument");
	memset(res, 0, sizeof(*res));
	res->violation_step = -1;
	res->violation_thread = -1;
	res->violation_fn = "";
	res->message = out->message;
	rc = hunt_check_args(args, cap, out);
	if (rc)
		return rc;
	s = fl_model_sched(m);
	rng = args->seed;
	for (i = 0; i < args->runs; i++) {
		struct hunt_chooser c = { .rng = &rng, .strategy = args->strategy,
					  .nthreads = fl_model_nthreads(m) };
		struct fl_chooser ch = { .choose = hunt_choose, .ctx = &c };
		struct fl_pct pct;

		if (i > 0 && args->deadline > 0 && hunt_now() >= args->deadline)
			break;
		if (args->strategy == FL_HUNT_RANDOM) {
			c.preempt = args->preempt[hunt_below(&rng, (uint64_t)args->npreempt)];
			out->preempt = c.preempt;
		} else {
			int depth = args->depth[hunt_below(&rng, (uint64_t)args->ndepth)];

			out->depth = depth;
			if (args->strategy == FL_HUNT_PCT_BOUNDED) {
				hunt_pct_points(&c, depth, args->pct_k);
			} else {
				/* a seed Python's random.Random takes as is: 0..2^63-1 */
				out->pct_seed = hunt_next(&rng) >> 1;
				if (fl_pct_init(&ch, &pct, out->pct_seed, c.nthreads, depth,
						args->pct_k))
					return hunt_bad(out, "fl_pct_init refused the arguments");
			}
		}
		/* the result (trace text included) of every run: its text is hashed */
		rc = fl_model_run_chooser(m, &ch, args->max_steps, 0, res);
		if (rc == FL_MODEL_SETUP_ERROR) {
			snprintf(out->message, sizeof(out->message), "%s",
				 res->message ? res->message : "setup error");
			res->message = out->message;
			return rc;
		}
		if (rc || s->outcome == FL_ABORTED) {
			snprintf(out->message, sizeof(out->message), "C model error: %s",
				 res->message ? res->message : "?");
			res->message = out->message;
			return FL_MODEL_ERROR;
		}
		hashes[i] = fl_trace_hash(res->trace, res->trace_len);
		ndecisions[i] = (int)s->ndecisions;
		out->runs++;
		out->steps += (long long)s->nevents;
		if (s->has_viol) {
			out->violation = 1;
			break;
		}
	}
	return FL_MODEL_OK;
}
