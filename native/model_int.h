// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to the C model's run glue (model.c, scenario.c, invariants.c): the
 * decoded scenario and the model object.  The op table (names, ranges, runners)
 * is generated: fuzzlock_ops.h.
 */
#ifndef FUZZLOCK_MODEL_INT_H
#define FUZZLOCK_MODEL_INT_H

#include "model.h"
#include "prim.h"

#define FL_MODEL_HIDDEN __attribute__((visibility("hidden")))


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

/* model.c */
void model_unpoison(struct fl_thread *t) FL_MODEL_HIDDEN;
void setup_body(void *arg) FL_MODEL_HIDDEN;
void thread_body(void *arg) FL_MODEL_HIDDEN;
/* an op's result into its FL_RES_LEN buffer, as model._fmt formats it (fuzzlock_ops.h) */
void fl_res_int(char *out, long long v) FL_MODEL_HIDDEN;
void fl_res_bool(char *out, bool v) FL_MODEL_HIDDEN;
void fl_res_str(char *out, const char *s) FL_MODEL_HIDDEN;
void fl_res_access(char *out, long long r) FL_MODEL_HIDDEN;
void fl_res_folio(struct fl_world *w, char *out, int folio, const char *none) FL_MODEL_HIDDEN;
void fl_res_ids(char *out, const int *ids, int n) FL_MODEL_HIDDEN;

/* invariants.c: the per-step and end-of-run state invariants */
int model_check_step(struct fl_sched *s, struct fl_thread *t, void *ctx) FL_MODEL_HIDDEN;
int model_check_end(struct fl_sched *s, void *ctx) FL_MODEL_HIDDEN;

/* scenario.c: the decoded scenario */
struct fl_model *model_build(struct fl_model *reuse, const long long *enc, size_t len,
			     const char *names, char *err, size_t errlen) FL_MODEL_HIDDEN;

#endif /* FUZZLOCK_MODEL_INT_H */
