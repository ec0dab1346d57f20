/* SPDX-License-Identifier: GPL-2.0-only */
/* generated from fuzzlock/schema.py by `python -m fuzzlock.schema_gen --write`: do not edit */
/*
 * The scenario ops of fuzzlock.schema.OPS for the C model: each op's handler
 * prototype (derived from its schema entry, so the compiler checks the handler
 * against it), a runner of one uniform signature that decodes the op's words,
 * calls the handler and formats its result (model.c fl_res_*), and the ranges of
 * its encoding words (scenario.c check_op).  Included by model.c and scenario.c.
 */
#ifndef FUZZLOCK_OPS_H
#define FUZZLOCK_OPS_H

#include "model_int.h"

enum fl_op_target { FL_OP_TARGET_NONE, FL_OP_TARGET_MM, FL_OP_TARGET_FOLIO };

#define FL_SLOT_NAME	1	/* an index into the names string */
#define FL_SLOT_SETUP	2	/* nonzero only in the setup */

struct fl_op_slot {
	long long lo, hi;
	unsigned int flags;	/* FL_SLOT_* */
};

/* run one op: @mm or @folio is its target (NULL if it has none), @out its result */
typedef void (*fl_op_run_fn)(struct fl_world *w, struct fl_mm *mm, struct fl_folio *folio,
			     const struct fl_sc_op *o, char *out);

struct fl_op_desc {
	const char *name;
	enum fl_op_target target;
	bool setup_only;
	struct fl_op_slot slot[FL_OP_WORDS - 1];	/* mm, a .. e */
	fl_op_run_fn run;	/* NULL: a special case (fuzzlock.schema Op.special) */
};

/* the handlers */
long long user_write(struct fl_world *w, struct fl_mm *mm, long long addr, long long value);
long long user_read(struct fl_world *w, struct fl_mm *mm, long long addr);
long long dup_mmap(struct fl_world *w, struct fl_mm *mm, int child);
long long do_munmap(struct fl_world *w, struct fl_mm *mm, long long addr, long long pages);
long long exit_mmap(struct fl_world *w, struct fl_mm *mm);
long long madvise_dontneed(struct fl_world *w, struct fl_mm *mm, long long addr, long long pages);
long long madvise_pageout(struct fl_world *w, struct fl_mm *mm, long long addr, long long pages, bool cold);
bool shrink_active_list(struct fl_world *w, struct fl_folio *folio, long long *out);
const char *shrink_folio_list(struct fl_world *w, struct fl_folio *folio, bool ignore_references);
long long page_idle_clear_pte_refs(struct fl_world *w, struct fl_folio *folio);
long long damon_folio_mkold(struct fl_world *w, struct fl_folio *folio);
bool damon_folio_young(struct fl_world *w, struct fl_folio *folio);
int kill_procs_now(struct fl_world *w, struct fl_folio *folio, int *ids);
const char *migrate_folio(struct fl_world *w, struct fl_folio *folio);
int gup_fast_pin(struct fl_world *w, struct fl_mm *mm, long long addr);
long long unpin_last(struct fl_world *w);

static void fl_op_run_write(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_access(out, user_write(w, mm, o->a, o->b));
}

static void fl_op_run_read(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_access(out, user_read(w, mm, o->a));
}

static void fl_op_run_fork(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_int(out, dup_mmap(w, mm, (int)o->a));
}

static void fl_op_run_munmap(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_int(out, do_munmap(w, mm, o->a, o->b));
}

static void fl_op_run_exit(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	(void)o;
	fl_res_int(out, exit_mmap(w, mm));
}

static void fl_op_run_madvise_dontneed(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_int(out, madvise_dontneed(w, mm, o->a, o->b));
}

static void fl_op_run_madvise_cold(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_int(out, madvise_pageout(w, mm, o->a, o->b, true));
}

static void fl_op_run_madvise_pageout(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_int(out, madvise_pageout(w, mm, o->a, o->b, false));
}

static void fl_op_run_shrink_active_list(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	long long v = 0;

	(void)mm;
	(void)o;
	if (shrink_active_list(w, folio, &v))
		fl_res_int(out, v);
	else
		fl_res_str(out, "-");
}

static void fl_op_run_shrink_folio_list(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	fl_res_str(out, shrink_folio_list(w, folio, o->b != 0));
}

static void fl_op_run_page_idle(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	(void)o;
	fl_res_int(out, page_idle_clear_pte_refs(w, folio));
}

static void fl_op_run_damon_mkold(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	(void)o;
	fl_res_int(out, damon_folio_mkold(w, folio));
}

static void fl_op_run_damon_young(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	(void)o;
	fl_res_bool(out, damon_folio_young(w, folio));
}

static void fl_op_run_memory_failure(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	int ids[FL_MAX_MMS];

	(void)mm;
	(void)o;
	fl_res_ids(out, ids, kill_procs_now(w, folio, ids));
}

static void fl_op_run_migrate(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	(void)o;
	fl_res_str(out, migrate_folio(w, folio));
}

static void fl_op_run_pin(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)folio;
	fl_res_folio(w, out, gup_fast_pin(w, mm, o->a), "no-pin");
}

static void fl_op_run_unpin(struct fl_world *w, struct fl_mm *mm,
				struct fl_folio *folio, const struct fl_sc_op *o, char *out)
{
	(void)mm;
	(void)folio;
	(void)o;
	fl_res_int(out, unpin_last(w));
}

static const struct fl_op_desc fl_ops[FL_SC_NR_CODES] __attribute__((unused)) = {
	[FL_SC_MMAP] = {
		"mmap", FL_OP_TARGET_MM, true,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 0LL, FL_SLOT_NAME },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0LL, 31LL, 0 },
		  { 0, 0, 0 } },
		NULL,
	},
	[FL_SC_WRITE] = {
		"write", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { (-9223372036854775807LL - 1), 9223372036854775807LL, 0 },
		  { 0LL, 64LL, FL_SLOT_SETUP },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_write,
	},
	[FL_SC_READ] = {
		"read", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 0LL, 64LL, FL_SLOT_SETUP },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_read,
	},
	[FL_SC_MOVE] = {
		"move", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0LL, 3LL, 0 },
		  { 0, 0, 0 } },
		NULL,
	},
	[FL_SC_BIND] = {
		"bind", FL_OP_TARGET_MM, true,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		NULL,
	},
	[FL_SC_SHRINK_ACTIVE] = {
		"shrink_active_list", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_shrink_active_list,
	},
	[FL_SC_PAGE_IDLE] = {
		"page_idle", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_page_idle,
	},
	[FL_SC_DAMON_MKOLD] = {
		"damon_mkold", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_damon_mkold,
	},
	[FL_SC_DAMON_YOUNG] = {
		"damon_young", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_damon_young,
	},
	[FL_SC_MEMORY_FAILURE] = {
		"memory_failure", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_memory_failure,
	},
	[FL_SC_MUNMAP] = {
		"munmap", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_munmap,
	},
	[FL_SC_EXIT] = {
		"exit", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_exit,
	},
	[FL_SC_FORK] = {
		"fork", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1000000LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_fork,
	},
	[FL_SC_PIN] = {
		"pin", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_pin,
	},
	[FL_SC_UNPIN] = {
		"unpin", FL_OP_TARGET_NONE, false,
		{ { 0LL, 0LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_unpin,
	},
	[FL_SC_MIGRATE] = {
		"migrate", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_migrate,
	},
	[FL_SC_DONTNEED] = {
		"madvise_dontneed", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_madvise_dontneed,
	},
	[FL_SC_SHRINK_FOLIO] = {
		"shrink_folio_list", FL_OP_TARGET_FOLIO, false,
		{ { 0LL, 0LL, 0 },
		  { 0LL, 63LL, 0 },
		  { 0LL, 1LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_shrink_folio_list,
	},
	[FL_SC_COLD] = {
		"madvise_cold", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_madvise_cold,
	},
	[FL_SC_PAGEOUT] = {
		"madvise_pageout", FL_OP_TARGET_MM, false,
		{ { 0LL, 1000000LL, 0 },
		  { 0LL, 1048576LL, 0 },
		  { 1LL, 64LL, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 },
		  { 0, 0, 0 } },
		fl_op_run_madvise_pageout,
	},
};

#endif /* FUZZLOCK_OPS_H */
