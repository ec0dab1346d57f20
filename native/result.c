// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a run produces (fuzzlock/sched/result.py): violations, errors and the
 * result record; and the message buffers they are written with.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_int.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

int fl_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *np;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap : 64;
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap > SIZE_MAX / elem)
		return -1;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

void fl_sb_printf(struct fl_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->len + 1 >= sb->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb->len += (size_t)n;
	if (sb->len >= sb->cap)
		sb->len = sb->cap - 1;
}

/* ------------------------------------------------------------------------ */
/* Violations and errors                                                     */

void fl_vviolation(struct fl_sched *s, const char *id, const char *fn, int step,
		   int thread, const char *fmt, va_list ap)
{
	if (s->stopped)
		return;
	s->stopped = true;
	s->has_viol = true;
	s->outcome = FL_VIOLATION;
	s->viol.id = id;
	s->viol.fn = fn ? fn : "";
	s->viol.step = step;
	s->viol.thread = thread;
	vsnprintf(s->viol.message, sizeof(s->viol.message), fmt, ap);
}

/* ViolationError.at(self.step, current.tid) */
void fl_sched_violation(struct fl_sched *s, const char *id, const char *fn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fl_vviolation(s, id, fn, s->step, s->current ? s->current->tid : -1, fmt, ap);
	va_end(ap);
}

void fl_violation_at(struct fl_sched *s, const char *id, const char *fn, int step,
		     int thread, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fl_vviolation(s, id, fn, step, thread, fmt, ap);
	va_end(ap);
}

void fl_sched_error(struct fl_sched *s, const char *fmt, ...)
{
	va_list ap;

	if (s->stopped)
		return;
	s->stopped = true;
	s->has_viol = false;
	s->outcome = FL_ERROR;
	s->viol.id = "error";
	s->viol.fn = "";
	s->viol.step = s->step;
	s->viol.thread = s->current ? s->current->tid : -1;
	va_start(ap, fmt);
	vsnprintf(s->viol.message, sizeof(s->viol.message), fmt, ap);
	va_end(ap);
}

_Noreturn void fl_thread_violation(const char *id, const char *fn, const char *fmt, ...)
{
	struct fl_sched *s = fl_tls_sched;
	va_list ap;

	if (!s || !s->in_thread || !s->current)
		abort();	/* not called from a thread body: a bug in the caller */
	va_start(ap, fmt);
	fl_vviolation(s, id, fn, s->step, s->current->tid, fmt, ap);
	va_end(ap);
	fl_suspend(s, s->current, false);
	abort();	/* a stopped run never resumes its threads */
}

/* Fill res with the outcome of the last run (shared by every exported runner). */
void fl_sched_result(struct fl_sched *s, struct fl_result *res)
{
	memset(res, 0, sizeof(*res));
	res->outcome = (int)s->outcome;
	res->outcome_id = s->outcome_id;
	res->steps = (int)s->nevents;
	res->violation_step = s->has_viol ? s->viol.step : -1;
	res->violation_thread = s->has_viol ? s->viol.thread : -1;
	res->violation_fn = s->viol.fn ? s->viol.fn : "";
	res->message = s->viol.message;
	res->decisions = s->decisions;
	res->ndecisions = s->ndecisions;
	res->preempted = s->preempted;
	res->npreempted = s->npreempted;
	res->trace = fl_sched_trace(s, &res->trace_len);
	res->nevents = s->nevents;
	if (!res->trace) {
		res->outcome = FL_ERROR;
		res->outcome_id = "error";
		res->message = "out of memory (trace text)";
	}
}

void fl_format_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
