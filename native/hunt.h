/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The batched hunt loop (native/hunt.c): many seeded random schedules of one
 * scenario in one call, for fuzzlock/campaign.py _hunt_native through
 * fuzzlock/native/hunt.py.  Only the violating run's trace text is built; every
 * run's trace is identified by a 64-bit hash of its canonical text
 * (fl_trace_hash, fuzzlock.trace.hash64 on the Python side).
 */
#ifndef FUZZLOCK_HUNT_H
#define FUZZLOCK_HUNT_H

#include <stddef.h>

#include "model.h"

/*
 * How a run's decisions are drawn (enum fl_hunt_strategy, fuzzlock_schema.h:
 * fuzzlock/campaign.py's pre-drawn rules, drawn on demand):
 *
 * FL_HUNT_RANDOM: campaign.predraw_random: each decision is 0 ("stay") with
 * probability 1 - preempt, else uniform among the enabled threads; preempt is
 * drawn per run from args.preempt[].
 *
 * FL_HUNT_PCT_BOUNDED: campaign.predraw_pct: a preemption-bounded schedule of
 * PCT's depth (drawn per run from args.depth[]): a uniform first decision, then
 * depth - 1 preemptions (a decision in 1..nthreads-1) at distinct random
 * decision points among 1..max(k, depth), 0 elsewhere.
 *
 * FL_HUNT_PCT: choosers.PCTChooser itself (native/choosers.c, bit for bit): per run
 * a seed drawn from the batch's stream, a depth from args.depth[], k =
 * args.pct_k.
 *
 * struct fl_hunt_args (the input) and struct fl_hunt_out (the output) and the
 * FL_HUNT_MAX_* limits are in fuzzlock_schema.h too.
 */

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
