/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The C port of fuzzlock/model/__init__.py: every scenario op of
 * fuzzlock/scenario.py (setup and thread ops), with the invariants of
 * fuzzlock/invariants.py.
 *
 * A scenario arrives from fuzzlock/native/encoding.py as a flat array of long long
 * plus a string of names separated by '\n':
 *
 *	K_NR knob values (enum fl_knob),
 *	n_setup, then per op FL_OP_WORDS words,
 *	n_threads, then per thread: name index, n_ops, then per op FL_OP_WORDS words
 *
 * An op is (code, mm, a, b, c, d, e): mm is 0 for an op without one, a .. e
 * its slots as fuzzlock.schema.OPS says (Op.slots: which field, its range, how
 * it is encoded; the rest 0), checked against the generated op table
 * (fuzzlock_ops.h).  A bind slot of a setup read or write is the folio slot + 1
 * (0 = none).
 *
 * mmap and bind are setup-only; every other op may also run in the setup (its
 * result is dropped), as fuzzlock.model.setup_op runs it.
 *
 * A folio slot (< FL_MAX_FOLIO_NAMES) stands for one setup "folio" name.
 *
 * fl_model_new() returns NULL with a one-line message for a malformed
 * encoding; it never crashes.
 */
#ifndef FUZZLOCK_MODEL_H
#define FUZZLOCK_MODEL_H

#include <stddef.h>

#include "sched.h"

/* FL_OP_WORDS, FL_MAX_FOLIO_NAMES, enum fl_sc_code, FL_MMAP_*: fuzzlock_schema.h */

/* fl_model_run() return values FL_MODEL_OK, _ERROR, _SETUP_ERROR: fuzzlock_schema.h */

struct fl_model;

struct fl_model *fl_model_new(const long long *enc, size_t len, const char *names, char *err,
			      size_t errlen);
int fl_model_run(struct fl_model *m, const long long *decisions, size_t n, int max_steps,
		 struct fl_result *res);
long long fl_model_bench(struct fl_model *m, long long runs, unsigned long long seed,
			 int max_steps);
void fl_model_free(struct fl_model *m);
/*
 * Give @m another scenario (the encoding of fl_model_new), keeping its
 * scheduler (thread stacks, lockdep classes) and its world's constant strings:
 * what building a model costs, once per generated scenario of a hunt
 * (native/hunt.c).  Returns @m, or NULL with a one-line message in @err (then
 * @m keeps its old scenario).
 */
struct fl_model *fl_model_reload(struct fl_model *m, const long long *enc, size_t len,
				 const char *names, char *err, size_t errlen);
/*
 * The thread results of the last fl_model_run() (model.ModelRun.results): one
 * line per thread, "n" then a tab before each of its n results.
 */
const char *fl_model_results(struct fl_model *m);
/* Violation.objects of the last run's violation ('\n'-separated), NULL if not recorded */
const char *fl_model_violation_objects(struct fl_model *m);

/* fl_model_run_chooser() flags: FL_MODEL_NO_STEP_CHECKS (fuzzlock_schema.h) */

struct fl_world;
int fl_model_run_chooser(struct fl_model *m, const struct fl_chooser *ch, int max_steps,
			 int flags, struct fl_result *res);
struct fl_sched *fl_model_sched(struct fl_model *m);
struct fl_world *fl_model_world(struct fl_model *m);
int fl_model_nthreads(const struct fl_model *m);

#endif /* FUZZLOCK_MODEL_H */
