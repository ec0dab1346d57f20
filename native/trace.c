// SPDX-License-Identifier: GPL-2.0-only
/*
 * The canonical trace text of a run (fuzzlock/trace.py: trace.canonical).
 */
#include <limits.h>
#include <string.h>

#include "sched_int.h"

/*
 * Built in one pass, each string measured once and copied with fixed-size
 * moves: the batched hunt (native/hunt.c) hashes every run's text, so this is
 * on its hot path.
 */
#define FL_NUM_MAX	20	/* "%lld" of LLONG_MIN */

static const char fl_digits[201] =
	"0001020304050607080910111213141516171819"
	"2021222324252627282930313233343536373839"
	"4041424344454647484950515253545556575859"
	"6061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline unsigned long long fl_abs(long long v)
{
	return v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
}

/* write "%lld" of @v at @p, return the end */
static inline char *fl_put_ll(char *p, long long v)
{
	unsigned long long u = fl_abs(v), w;
	char *end;

	if (v < 0)
		*p++ = '-';
	if (u < 10) {
		*p = (char)('0' + u);
		return p + 1;
	}
	end = p + 2;
	for (w = u; w >= 100; w /= 10)
		end++;
	p = end;
	while (u >= 100) {
		p -= 2;
		memcpy(p, fl_digits + 2 * (u % 100), 2);
		u /= 100;
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, fl_digits + 2 * u, 2);
	} else {
		*--p = (char)('0' + u);
	}
	return end;
}

/* copy @n bytes with fixed-size moves (overlapping ones for the tail), return the end */
static inline char *fl_put_s(char *p, const char *str, size_t n)
{
	size_t i;

	if (n >= 8) {
		for (i = 0; i + 8 < n; i += 8)
			memcpy(p + i, str + i, 8);
		memcpy(p + n - 8, str + n - 8, 8);
	} else if (n >= 4) {
		memcpy(p, str, 4);
		memcpy(p + n - 4, str + n - 4, 4);
	} else if (n >= 2) {
		memcpy(p, str, 2);
		memcpy(p + n - 2, str + n - 2, 2);
	} else if (n) {
		*p = *str;
	}
	return p + n;
}

const char *fl_sched_trace(struct fl_sched *s, size_t *len)
{
	size_t i, used = 0;
	char *p;

	for (i = 0; i < s->nevents; i++) {
		const struct fl_event *e = &s->events[i];
		const char *sv = e->val.kind == FL_VAL_STR ? e->val.s : NULL;
		size_t lf = strlen(e->fn), ll = strlen(e->label), lo = strlen(e->obj);
		size_t lv = sv ? strlen(sv) : 0;
		/* step|tid|fn|op|obj|value\n, with room for three numbers */
		size_t need = used + lf + ll + lo + lv + 3 * FL_NUM_MAX + 7;

		if (need > s->trace_cap && fl_grow((void **)&s->trace, &s->trace_cap, need, 1))
			goto nomem;
		p = fl_put_ll(s->trace + used, e->step);
		*p++ = '|';
		p = fl_put_ll(p, e->tid);
		*p++ = '|';
		p = fl_put_s(p, e->fn, lf);
		*p++ = '|';
		p = fl_put_s(p, e->label, ll);
		*p++ = '|';
		p = fl_put_s(p, e->obj, lo);
		*p++ = '|';
		if (e->val.kind == FL_VAL_BOOL)
			*p++ = e->val.i ? '1' : '0';
		else if (e->val.kind == FL_VAL_INT)
			p = fl_put_ll(p, e->val.i);
		else
			p = fl_put_s(p, sv, lv);
		*p++ = '\n';
		used = (size_t)(p - s->trace);
	}
	if (fl_grow((void **)&s->trace, &s->trace_cap, used + 1, 1))
		goto nomem;
	s->trace[used] = '\0';
	s->trace_len = used;
	*len = used;
	return s->trace;
nomem:
	*len = 0;
	return NULL;
}
