// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario as the C model gets it (fuzzlock/scenario.py; encoded by
 * fuzzlock/native/encoding.py): each op checked against its ranges in the
 * generated op table (fuzzlock_ops.h), then the model built from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzlock_ops.h"


/* one op's words, checked against its ranges in the generated op table */
static int check_op(const long long *o, bool setup, size_t nnames, const char *who, size_t k,
		    char *err, size_t errlen)
{
	long long code = o[0];
	const struct fl_op_desc *d;
	int i;

	if (code < 0 || code >= FL_SC_NR_CODES || !fl_ops[code].name) {
		fl_format_err(err, errlen, "%s op %zu: bad op code %lld", who, k, code);
		return -1;
	}
	d = &fl_ops[code];
	if (!setup && d->setup_only) {
		fl_format_err(err, errlen, "%s op %zu: %s is a setup-only op", who, k, d->name);
		return -1;
	}
	for (i = 1; i < FL_OP_WORDS; i++) {
		const struct fl_op_slot *sl = &d->slot[i - 1];
		long long hi = sl->hi;

		if (sl->flags & FL_SLOT_NAME)
			hi = (long long)nnames - 1;
		if ((sl->flags & FL_SLOT_SETUP) && !setup)
			hi = 0;
		if (o[i] < sl->lo || o[i] > hi) {
			fl_format_err(err, errlen, "%s op %zu: malformed %s: word %d (%lld) is not in %lld..%lld",
				      who, k, d->name, i, o[i], sl->lo, hi);
			return -1;
		}
	}
	return 0;
}

static void fill_op(struct fl_sc_op *d, const long long *o)
{
	d->code = (int)o[0];
	d->mm = (int)o[1];
	d->a = o[2];
	d->b = o[3];
	d->c = o[4];
	d->d = o[5];
	d->e = o[6];
}

/*
 * fl_model_new, or with @reuse, fl_model_reload: @reuse takes the new scenario
 * and keeps its scheduler (thread stacks, lockdep classes) and world (its
 * constant strings); on an error it keeps its old scenario.
 */
struct fl_model *model_build(struct fl_model *reuse, const long long *enc, size_t len,
			     const char *names, char *err, size_t errlen)
{
	struct fl_model *m;
	size_t pos = 0, i, k, total = 0, nnames = 0, nthreads, nsetup, rtl;
	char *p, *nb, *rt;
	const char **na;
	struct fl_sc_op *ops;
	char (*ra)[FL_RES_LEN];

	if (err && errlen)
		err[0] = '\0';
	if (!enc || !names) {
		fl_format_err(err, errlen, "no encoding");
		return NULL;
	}
	if (len < K_NR + 2) {
		fl_format_err(err, errlen, "encoding too short");
		return NULL;
	}
	for (i = 0; i < K_NR; i++) {
		long long hi = fl_knob_max((int)i);

		if (enc[i] < 0 || enc[i] > hi) {
			fl_format_err(err, errlen, "knob %zu: value %lld is not in 0..%lld", i, enc[i],
				  hi);
			return NULL;
		}
	}
	for (p = (char *)names, nnames = 1; *p; p++)
		if (*p == '\n')
			nnames++;
	/* validate */
	pos = K_NR;
	nsetup = (size_t)enc[pos];
	if (enc[pos] < 0 || enc[pos] > 64 || nsetup > (len - pos - 1) / FL_OP_WORDS) {
		fl_format_err(err, errlen, "setup: %lld ops do not fit", enc[pos]);
		return NULL;
	}
	pos++;
	for (k = 0; k < nsetup; k++, pos += FL_OP_WORDS)
		if (check_op(&enc[pos], true, nnames, "setup", k, err, errlen))
			return NULL;
	total += nsetup;
	if (pos >= len || enc[pos] < 1 || enc[pos] > FL_MAX_THREADS) {
		fl_format_err(err, errlen, "bad thread count");
		return NULL;
	}
	nthreads = (size_t)enc[pos++];
	for (i = 0; i < nthreads; i++) {
		char who[32];
		long long n;

		snprintf(who, sizeof(who), "thread %zu", i);
		if (pos + 2 > len || enc[pos] < 0 || (size_t)enc[pos] >= nnames) {
			fl_format_err(err, errlen, "%s: bad name", who);
			return NULL;
		}
		n = enc[pos + 1];
		pos += 2;
		if (n < 0 || n > 64 || (size_t)n > (len - pos) / FL_OP_WORDS) {
			fl_format_err(err, errlen, "%s: %lld ops do not fit", who, n);
			return NULL;
		}
		for (k = 0; k < (size_t)n; k++, pos += FL_OP_WORDS)
			if (check_op(&enc[pos], false, nnames, who, k, err, errlen))
				return NULL;
		total += (size_t)n;
	}
	if (pos != len) {
		fl_format_err(err, errlen, "%zu trailing integers", len - pos);
		return NULL;
	}
	nb = malloc(strlen(names) + 1);
	na = calloc(nnames, sizeof(*na));
	ops = calloc(total ? total : 1, sizeof(*ops));
	ra = calloc(total ? total : 1, sizeof(*ra));
	rtl = (total + nthreads + 1) * (FL_RES_LEN + 8);
	rt = malloc(rtl);
	m = reuse ? reuse : calloc(1, sizeof(*m));
	if (!nb || !na || !ops || !ra || !rt || !m ||
	    (!reuse && fl_sched_init(&m->s, FL_DEFAULT_MAX_STEPS))) {
		free(nb);
		free(na);
		free(ops);
		free(ra);
		free(rt);
		if (!reuse)
			free(m);
		fl_format_err(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(nb, names, strlen(names) + 1);
	if (reuse) {
		free(m->names_buf);
		free(m->names);
		free(m->all_ops);
		free(m->res_all);
		free(m->res_text);
	}
	m->names_buf = nb;
	m->names = na;
	m->all_ops = ops;
	m->res_all = ra;
	m->res_text = rt;
	m->res_text_len = rtl;
	m->nnames = nnames;
	m->names[0] = m->names_buf;
	for (p = m->names_buf, i = 1; *p; p++) {
		if (*p == '\n') {
			*p = '\0';
			m->names[i++] = p + 1;
		}
	}
	if (!reuse)
		fl_world_init(&m->w, &m->s);
	for (i = 0; i < K_NR; i++)
		m->w.knob[i] = enc[i];
	/* fill */
	pos = K_NR + 1;
	total = 0;
	m->setup = m->all_ops;
	m->nsetup = nsetup;
	for (k = 0; k < nsetup; k++, pos += FL_OP_WORDS)
		fill_op(&m->all_ops[total++], &enc[pos]);
	m->nthreads = (int)nthreads;
	pos++;
	for (i = 0; i < nthreads; i++) {
		struct fl_model_thread *mt = &m->th[i];

		mt->m = m;
		mt->name = m->names[enc[pos]];
		mt->nops = (size_t)enc[pos + 1];
		pos += 2;
		mt->ops = &m->all_ops[total];
		mt->res = &m->res_all[total];
		for (k = 0; k < mt->nops; k++, pos += FL_OP_WORDS)
			fill_op(&m->all_ops[total++], &enc[pos]);
	}
	for (k = 0; !reuse && k < 64; k++)
		snprintf(m->setup_names[k], sizeof(m->setup_names[k]), "setup[%zu]", k);
	return m;
}

struct fl_model *fl_model_new(const long long *enc, size_t len, const char *names, char *err,
			      size_t errlen)
{
	return model_build(NULL, enc, len, names, err, errlen);
}

struct fl_model *fl_model_reload(struct fl_model *m, const long long *enc, size_t len,
				 const char *names, char *err, size_t errlen)
{
	if (!m) {
		fl_format_err(err, errlen, "no model");
		return NULL;
	}
	return model_build(m, enc, len, names, err, errlen);
}

void fl_model_free(struct fl_model *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i <= FL_MAX_THREADS; i++)	/* the next mmap may reuse the stacks */
		model_unpoison(&m->s.threads[i]);
	fl_sched_destroy(&m->s);
	free(m->names_buf);
	free(m->names);
	free(m->all_ops);
	free(m->res_all);
	free(m->res_text);
	free(m);
}
