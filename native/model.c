// SPDX-License-Identifier: GPL-2.0-only
/*
 * fuzzlock/model/__init__.py: setup ops (model.setup_op), thread bodies
 * (model.do_op: the special ops here, every other op through its runner in the
 * generated op table, fuzzlock_ops.h; results formatted like model._fmt),
 * check_move_result (I16), and the exported run functions.  The scenario is
 * decoded in scenario.c, the state invariants are in invariants.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlock_ops.h"

#if defined(__SANITIZE_ADDRESS__)
#define FL_MODEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_MODEL_ASAN 1
#endif
#endif

#ifdef FL_MODEL_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);

/*
 * A run that stops on a violation abandons its threads mid-body: their frames'
 * redzones stay poisoned in the stacks, which the next run reuses (and which a
 * later scheduler's mmap may get again after fl_sched_destroy()).  Clear them
 * before the stacks run again or are unmapped (fiber.c does not, yet).
 */
void model_unpoison(struct fl_thread *t)
{
	if (t->stack)
		__asan_unpoison_memory_region(t->stack, t->stack_size);
}
#else
void model_unpoison(struct fl_thread *t)
{
	(void)t;
}
#endif

static void do_op(struct fl_model *m, const struct fl_sc_op *o, char *out);

/* --- setup ------------------------------------------------------------------------ */

void setup_body(void *arg)
{
	struct fl_setup_arg *sa = arg;
	struct fl_model *m = sa->m;
	struct fl_world *w = &m->w;
	const struct fl_sc_op *o = sa->op;
	struct fl_mm *mm = fl_mm_get(w, o->mm);

	switch (o->code) {
	case FL_SC_MMAP: {
		struct fl_vma *v;
		int i;

		if (!mm)
			mm = fl_new_mm(w, o->mm);
		if (!mm)
			return;
		v = fl_new_vma(w, mm, o->b, o->b + o->c, m->names[o->a]);
		if (!v)
			return;
		v->uffd = o->d & FL_MMAP_UFFD;
		v->write = o->d & FL_MMAP_WRITE;
		v->locked = o->d & FL_MMAP_LOCKED;
		v->dontfork = o->d & FL_MMAP_DONTFORK;
		v->wipeonfork = o->d & FL_MMAP_WIPEONFORK;
		/* mm.vmas.append(v); mm.vmas.sort(key=start): stable */
		i = mm->nvmas;
		while (i > 0 && w->vmas[mm->vmas[i - 1]].start > v->start) {
			mm->vmas[i] = mm->vmas[i - 1];
			i--;
		}
		mm->vmas[i] = v->id;
		mm->nvmas++;
		return;
	}
	case FL_SC_WRITE:
	case FL_SC_READ: {
		struct fl_vma *vma;
		bool saved = false;

		if (!mm)
			break;	/* "no-mm" */
		vma = fl_find_vma(w, mm, o->a);
		if (vma) {	/* fill a uffd range like UFFDIO_COPY would */
			saved = vma->uffd;
			vma->uffd = false;
		}
		if (o->code == FL_SC_WRITE)
			user_write(w, mm, o->a, o->b);
		else
			user_read(w, mm, o->a);
		if (vma)
			vma->uffd = saved;
		if (!(o->code == FL_SC_WRITE ? o->c : o->b))
			return;
		break;
	}
	case FL_SC_BIND:
		break;
	default: {
		char scratch[FL_RES_LEN];

		do_op(m, o, scratch);
		return;
	}
	}
	/* _bind: the folio a PTE maps, or the swap-cache folio of a swap entry */
	{
		long long slot = o->code == FL_SC_WRITE ? o->c : o->b;
		struct fl_pte p = { .kind = PTE_NONE, .folio = -1 };
		int f;

		if (mm)
			p = fl_pte_get(w, mm, o->a);
		f = p.kind != PTE_NONE ? p.folio : -1;
		if (f < 0 && p.kind == PTE_SWAP)
			f = fl_swap_slot(w, p.entry)->cache;
		if (f < 0) {
			snprintf(m->setup_err, sizeof(m->setup_err),
				 "nothing mapped at mm%d:0x%llx", o->mm,
				 (unsigned long long)o->a);
			return;
		}
		m->named[slot - 1] = f;
	}
}

/* --- thread bodies ---------------------------------------------------------------- */

static void check_move_result(struct fl_world *w, const struct fl_sc_op *o,
			      const struct fl_move_result *r, long long moved)
{
	static const char fn[] = "userfaultfd_move";
	long long reported;
	char mv[32];

	if (r->has_move)
		snprintf(mv, sizeof(mv), "%lld", r->move);
	else
		snprintf(mv, sizeof(mv), "None");
	if (r->ret == 0 && (!r->has_move || r->move != o->c))
		fl_thread_violation(FL_INV_MOVE_RESULT, fn, "returned 0 but move = %s, len %lld", mv,
				    o->c);
	if (r->has_move && r->move == 0)
		fl_thread_violation(FL_INV_MOVE_RESULT, fn, "move = 0: the result is never 0");
	reported = r->has_move && r->move > 0 ? r->move : 0;
	if (moved > reported)
		fl_thread_violation(FL_INV_MOVE_RESULT, fn,
				    "moved %lld page(s) but returned %s with move = %s: "
				    "userspace is told fewer pages moved than did", moved,
				    fl_errname(w, r->ret), mv);
}

/* model._fmt, by result kind (fuzzlock.schema.RESULT_KINDS) */
void fl_res_int(char *out, long long v)
{
	snprintf(out, FL_RES_LEN, "%lld", v);
}

void fl_res_bool(char *out, bool v)
{
	snprintf(out, FL_RES_LEN, "%d", v ? 1 : 0);
}

void fl_res_str(char *out, const char *s)
{
	snprintf(out, FL_RES_LEN, "%s", s);
}

/* a memory.user_write/user_read result */
void fl_res_access(char *out, long long r)
{
	if (r == FL_SEGV)
		snprintf(out, FL_RES_LEN, "segv");
	else if (r == FL_UFFD_MISSING)
		snprintf(out, FL_RES_LEN, "uffd-missing");
	else
		snprintf(out, FL_RES_LEN, "%lld", r);
}

/* a folio's name, @none for no folio (< 0) */
void fl_res_folio(struct fl_world *w, char *out, int folio, const char *none)
{
	snprintf(out, FL_RES_LEN, "%s", folio < 0 ? none : w->folios[folio].name);
}

/* a list of ids, comma-separated; "-" for none (n < 0) */
void fl_res_ids(char *out, const int *ids, int n)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	if (n < 0)
		snprintf(out, FL_RES_LEN, "-");
	for (i = 0; i < n; i++) {
		int k = snprintf(out + len, FL_RES_LEN - len, "%s%d", i ? "," : "", ids[i]);

		if (k > 0 && (size_t)k < FL_RES_LEN - len)
			len += (size_t)k;
	}
}

/*
 * model.do_op: one op, its result formatted like model._fmt into @out.  The
 * special cases (fuzzlock.schema Op.special) are here; every other op runs its
 * generated runner.
 */
static void do_op(struct fl_model *m, const struct fl_sc_op *o, char *out)
{
	const struct fl_op_desc *d = &fl_ops[o->code];
	struct fl_world *w = &m->w;
	struct fl_mm *mm = NULL;
	struct fl_folio *folio = NULL;

	if (d->target == FL_OP_TARGET_MM) {
		mm = fl_mm_get(w, o->mm);
		if (!mm) {
			snprintf(out, FL_RES_LEN, "no-mm");
			return;
		}
	} else if (d->target == FL_OP_TARGET_FOLIO) {
		if (m->named[o->a] < 0)
			fl_thread_violation("error", "model", "folio slot %lld is not bound", o->a);
		folio = &w->folios[m->named[o->a]];
	}
	switch (o->code) {
	case FL_SC_MOVE: {	/* I16 on the answer; it prints as ret=..,move=.. */
		int me = fl_me(w);
		long long before = w->pte_moves[me];
		struct fl_move_result r = userfaultfd_move(w, mm, o->a, o->b, o->c, o->d);

		check_move_result(w, o, &r, w->pte_moves[me] - before);
		if (r.has_move)
			snprintf(out, FL_RES_LEN, "ret=%s,move=%lld", fl_errname(w, r.ret), r.move);
		else
			snprintf(out, FL_RES_LEN, "ret=%s,move=None", fl_errname(w, r.ret));
		return;
	}
	case FL_SC_FORK:	/* the child id is taken: no fork */
		if (fl_mm_get(w, (int)o->a)) {
			snprintf(out, FL_RES_LEN, "child-exists");
			return;
		}
		break;
	default:
		break;
	}
	if (d->run)
		d->run(w, mm, folio, o, out);
}

void thread_body(void *arg)
{
	struct fl_model_thread *mt = arg;
	size_t i;

	for (i = 0; i < mt->nops; i++) {
		do_op(mt->m, &mt->ops[i], mt->res[i]);
		mt->ndone = i + 1;
	}
}


/* Violation.objects of the last run's violation, '\n'-separated; NULL if not recorded */
const char *fl_model_violation_objects(struct fl_model *m)
{
	if (!m || !m->s.has_viol || !m->w.has_viol_objs)
		return NULL;
	return m->w.viol_objs;
}

const char *fl_model_results(struct fl_model *m)
{
	size_t len = 0, i;
	int t;

	if (!m)
		return "";
	m->res_text[0] = '\0';
	for (t = 0; t < m->nthreads; t++) {
		const struct fl_model_thread *mt = &m->th[t];

		len += (size_t)snprintf(m->res_text + len, m->res_text_len - len, "%s%zu",
					t ? "\n" : "", mt->ndone);
		for (i = 0; i < mt->ndone; i++)
			len += (size_t)snprintf(m->res_text + len, m->res_text_len - len, "\t%s",
						mt->res[i]);
	}
	return m->res_text;
}

/* A fresh world, the setup run, the threads spawned: 0, or an FL_MODEL_* error. */
static int model_prepare(struct fl_model *m, int max_steps)
{
	struct fl_sched *s = &m->s;
	size_t i;
	int t;

	fl_sched_reset(s);
	s->max_steps = max_steps < 0 ? 0 : max_steps;
	s->check_step = NULL;
	s->check_end = NULL;
	s->check_ctx = &m->w;
	fl_world_reset(&m->w);
	m->setup_err[0] = '\0';
	for (i = 0; i < FL_MAX_FOLIO_NAMES; i++)
		m->named[i] = -1;
	for (t = 0; t < m->nthreads; t++)
		m->th[t].ndone = 0;
	for (i = 0; i < m->nsetup; i++) {
		struct fl_setup_arg sa = { m, &m->setup[i] };

		model_unpoison(&s->threads[FL_MAX_THREADS]);
		if (fl_sched_run_solo(s, m->setup_names[i], setup_body, &sa)) {
			if (s->outcome != FL_VIOLATION)
				return FL_MODEL_ERROR;
			snprintf(m->res_msg, sizeof(m->res_msg), "scenario.setup[%zu] (%s): %s", i,
				 fl_ops[m->setup[i].code].name, s->viol.message);
			return FL_MODEL_SETUP_ERROR;
		}
		if (m->setup_err[0]) {
			snprintf(m->res_msg, sizeof(m->res_msg), "scenario.setup[%zu] (%s): %s", i,
				 fl_ops[m->setup[i].code].name, m->setup_err);
			return FL_MODEL_SETUP_ERROR;
		}
	}
	for (t = 0; t < m->nthreads; t++) {
		model_unpoison(&s->threads[t]);
		if (fl_sched_spawn(s, m->th[t].name, thread_body, &m->th[t]) < 0)
			return FL_MODEL_ERROR;
	}
	s->check_step = model_check_step;
	s->check_end = model_check_end;
	return FL_MODEL_OK;
}

static void model_error_result(struct fl_model *m, struct fl_result *res, int rc)
{
	memset(res, 0, sizeof(*res));
	res->outcome = FL_ERROR;
	res->outcome_id = rc == FL_MODEL_SETUP_ERROR ? "setup-error" : "error";
	res->violation_step = -1;
	res->violation_thread = -1;
	res->violation_fn = "";
	if (rc != FL_MODEL_SETUP_ERROR)
		snprintf(m->res_msg, sizeof(m->res_msg), "%s", m->s.viol.message);
	res->message = m->res_msg;
}

/*
 * fl_model_run - run the scenario once, replaying @decisions (0 once
 * exhausted).  Returns FL_MODEL_OK (the run's outcome is in @res, arrays valid
 * until the next run or fl_model_free()), FL_MODEL_SETUP_ERROR or
 * FL_MODEL_ERROR (res->message says why).
 */
int fl_model_run(struct fl_model *m, const long long *decisions, size_t n, int max_steps,
		 struct fl_result *res)
{
	struct fl_chooser ch;
	struct fl_replay r;
	size_t i;
	int rc;

	if (!m || !res)
		return FL_MODEL_ERROR;
	for (i = 0; decisions && i < n; i++) {
		if (decisions[i] < 0) {
			snprintf(m->res_msg, sizeof(m->res_msg), "negative decision");
			memset(res, 0, sizeof(*res));
			res->outcome = FL_ERROR;
			res->outcome_id = "error";
			res->message = m->res_msg;
			res->violation_step = -1;
			res->violation_thread = -1;
			res->violation_fn = "";
			return FL_MODEL_ERROR;
		}
	}
	fl_set_cur_world(&m->w);
	rc = model_prepare(m, max_steps);
	if (rc) {
		model_error_result(m, res, rc);
		return rc;
	}
	fl_replay_init(&ch, &r, decisions, n);
	fl_sched_run(&m->s, &ch);
	fl_sched_result(&m->s, res);
	return res->outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
}

/*
 * fl_model_bench - @runs runs with seeded random choosers (seed, seed + 1, ...),
 * no trace text.  Returns the total number of scheduling steps, or -1.
 */
long long fl_model_bench(struct fl_model *m, long long runs, unsigned long long seed,
			 int max_steps)
{
	long long total = 0, i;

	if (!m)
		return -1;
	fl_set_cur_world(&m->w);
	for (i = 0; i < runs; i++) {
		struct fl_chooser ch;
		struct fl_random r;

		if (model_prepare(m, max_steps))
			return -1;
		fl_random_init(&ch, &r, seed + (unsigned long long)i, 1.0);
		fl_sched_run(&m->s, &ch);
		if (m->s.outcome == FL_ERROR)
			return -1;
		total += m->s.step;
	}
	return total;
}

/*
 * fl_model_run_chooser - fl_model_run with decisions from @ch (native/explore.c:
 * callbacks, PCT, footprints).  FL_MODEL_NO_STEP_CHECKS leaves out the per-step
 * invariants.  @res may be NULL: no result, no trace text (benchmarks).
 */
int fl_model_run_chooser(struct fl_model *m, const struct fl_chooser *ch, int max_steps,
			 int flags, struct fl_result *res)
{
	int rc;

	if (!m || !ch)
		return FL_MODEL_ERROR;
	fl_set_cur_world(&m->w);
	rc = model_prepare(m, max_steps);
	if (rc) {
		if (res)
			model_error_result(m, res, rc);
		return rc;
	}
	if (flags & FL_MODEL_NO_STEP_CHECKS)
		m->s.check_step = NULL;
	fl_sched_run(&m->s, ch);
	if (!res)
		return m->s.outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
	fl_sched_result(&m->s, res);
	return res->outcome == FL_ERROR ? FL_MODEL_ERROR : FL_MODEL_OK;
}

struct fl_sched *fl_model_sched(struct fl_model *m)
{
	return &m->s;
}

struct fl_world *fl_model_world(struct fl_model *m)
{
	return &m->w;
}

int fl_model_nthreads(const struct fl_model *m)
{
	return m->nthreads;
}
