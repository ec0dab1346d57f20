// SPDX-License-Identifier: GPL-2.0-only
/*
 * Private to the C model's run glue (model.c, scenario.c, invariants.c): the
 * decoded scenario and the model object.
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

static const char *const fl_sc_names[FL_SC_NR_CODES] __attribute__((unused)) = {
	"mmap", "write", "read", "move", "bind", "shrink_active_list", "page_idle",
	"damon_mkold", "damon_young", "memory_failure", "munmap", "exit", "fork", "pin", "unpin",
	"migrate", "madvise_dontneed", "shrink_folio_list", "madvise_cold", "madvise_pageout",
};

/* ops with an "mm" field (model.do_op answers "no-mm" if it does not exist) */
static inline bool op_has_mm(int code)
{
	switch (code) {
	case FL_SC_SHRINK_ACTIVE:
	case FL_SC_PAGE_IDLE:
	case FL_SC_DAMON_MKOLD:
	case FL_SC_DAMON_YOUNG:
	case FL_SC_MEMORY_FAILURE:
	case FL_SC_UNPIN:
	case FL_SC_MIGRATE:
	case FL_SC_SHRINK_FOLIO:
		return false;
	default:
		return true;
	}
}


/* model.c */
void model_unpoison(struct fl_thread *t) FL_MODEL_HIDDEN;
void setup_body(void *arg) FL_MODEL_HIDDEN;
void thread_body(void *arg) FL_MODEL_HIDDEN;

/* invariants.c: the per-step and end-of-run state invariants */
int model_check_step(struct fl_sched *s, struct fl_thread *t, void *ctx) FL_MODEL_HIDDEN;
int model_check_end(struct fl_sched *s, void *ctx) FL_MODEL_HIDDEN;

/* scenario.c: the decoded scenario */
struct fl_model *model_build(struct fl_model *reuse, const long long *enc, size_t len,
			     const char *names, char *err, size_t errlen) FL_MODEL_HIDDEN;

#endif /* FUZZLOCK_MODEL_INT_H */
