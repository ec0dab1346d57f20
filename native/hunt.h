/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The batched hunt loop (native/hunt.c): many seeded random schedules of one
 * scenario in one call, for fuzzlock/campaign.py _hunt_native through
 * fuzzlock/native_hunt.py.  Only the violating run's trace text is built; every
 * run's trace is identified by a 64-bit hash of its canonical text
 * (fl_trace_hash, fuzzlock.trace.hash64 on the Python side).
 */
#ifndef FUZZLOCK_HUNT_H
#define FUZZLOCK_HUNT_H

#include <stddef.h>

#include "model.h"

/* How a run's decisions are drawn (fuzzlock/campaign.py's pre-drawn rules, drawn on demand). */
enum fl_hunt_strategy {
	/*
	 * campaign.predraw_random: each decision is 0 ("stay") with probability
	 * 1 - preempt, else uniform among the enabled threads; preempt is drawn per
	 * run from args.preempt[].
	 */
	FL_HUNT_RANDOM = 0,
	/*
	 * campaign.predraw_pct: a preemption-bounded schedule of PCT's depth (drawn
	 * per run from args.depth[]): a uniform first decision, then depth - 1
	 * preemptions (a decision in 1..nthreads-1) at distinct random decision
	 * points among 1..max(k, depth), 0 elsewhere.
	 */
	FL_HUNT_PCT_BOUNDED = 1,
	/*
	 * choosers.PCTChooser itself (native/choosers.c, bit for bit): per run a seed
	 * drawn from the batch's stream, a depth from args.depth[], k = args.pct_k.
	 */
	FL_HUNT_PCT = 2,
	FL_HUNT_NR_STRATEGIES
};

#define FL_HUNT_MAX_CHOICES	8
#define FL_HUNT_MAX_DEPTH	16
#define FL_HUNT_MAX_K		(1 << 24)

/* Input of fl_model_hunt() (mirror: fuzzlock/native_hunt.py _HuntArgs). */
struct fl_hunt_args {
	unsigned long long seed;	/* the whole batch's decisions derive from it */
	double deadline;		/* CLOCK_MONOTONIC seconds: start no run after it; 0 = none */
	int strategy;			/* enum fl_hunt_strategy */
	int runs;			/* at most this many schedules (>= 1) */
	int max_steps;			/* per run, >= 0 */
	int pct_k;			/* PCT_*: 1..FL_HUNT_MAX_K */
	int npreempt;			/* RANDOM: 1..FL_HUNT_MAX_CHOICES values in [0, 1] */
	int ndepth;			/* PCT_*: 1..FL_HUNT_MAX_CHOICES depths in 1..FL_HUNT_MAX_DEPTH */
	double preempt[FL_HUNT_MAX_CHOICES];
	int depth[FL_HUNT_MAX_CHOICES];
};

/* Output of fl_model_hunt() (mirror: fuzzlock/native_hunt.py _HuntOut). */
struct fl_hunt_out {
	long long runs;			/* schedules run (the violating one included) */
	long long steps;		/* their trace events, summed */
	int violation;			/* 1: the last run broke an invariant, @res has it */
	double preempt;			/* the last run's preempt (RANDOM) */
	int depth;			/* the last run's depth (PCT_*) */
	unsigned long long pct_seed;	/* the last run's PCTChooser seed (PCT) */
	char message[FL_MSG_LEN + 64];	/* why, for a return value other than FL_MODEL_OK */
};

/* Bit (1 << s) set for every enum fl_hunt_strategy s this build runs. */
unsigned int fl_hunt_strategies(void);

/*
 * fl_model_hunt - run up to args->runs schedules of @m, stopping after the
 * first violation (@res then describes that run, with its trace text and
 * decisions, valid until the next run or fl_model_free()) or once
 * args->deadline has passed (at least one run is made).  hashes[i] and
 * ndecisions[i] (@cap entries each, cap >= args->runs) get run i's
 * fl_trace_hash and number of decisions.
 *
 * Returns FL_MODEL_OK; FL_MODEL_SETUP_ERROR (the setup failed: no run made) or
 * FL_MODEL_ERROR (bad arguments, or an internal error in a run, e.g. a C
 * capacity exceeded; out->runs counts the runs before it) with out->message.
 * Never crashes on bad arguments.
 */
int fl_model_hunt(struct fl_model *m, const struct fl_hunt_args *args,
		  unsigned long long *hashes, int *ndecisions, size_t cap,
		  struct fl_hunt_out *out, struct fl_result *res);

/*
 * The 64-bit hash of a canonical trace text (fuzzlock.trace.hash64): 8-byte
 * little-endian words (the last one zero-padded), each mixed in with a
 * multiply and an xor-shift, then a final avalanche.  Not cryptographic.
 */
unsigned long long fl_trace_hash(const char *text, size_t len);

#endif /* FUZZLOCK_HUNT_H */
