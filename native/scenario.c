// SPDX-License-Identifier: GPL-2.0-only
/*
 * The scenario as the C model gets it (fuzzlock/scenario.py; encoded by
 * fuzzlock/native.py): each op checked, then the model built from it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_int.h"


static int check_op(const long long *o, bool setup, size_t nnames, const char *who, size_t k,
		    char *err, size_t errlen)
{
	long long code = o[0];
	int i;

	if (code < 0 || code >= FL_SC_NR_CODES) {
		fl_format_err(err, errlen, "%s op %zu: bad op code %lld", who, k, code);
		return -1;
	}
	if (!setup && (code == FL_SC_MMAP || code == FL_SC_BIND)) {
		fl_format_err(err, errlen, "%s op %zu: %s is a setup-only op", who, k,
			  fl_sc_names[code]);
		return -1;
	}
	if (o[1] < 0 || o[1] > 1000000) {
		fl_format_err(err, errlen, "%s op %zu: mm %lld out of range", who, k, o[1]);
		return -1;
	}
	for (i = 2; i < FL_OP_WORDS; i++) {
		if (code == FL_SC_WRITE && i == 3)
			continue;	/* the value: any 64-bit int */
		if (o[i] < 0 || o[i] > (1LL << 20)) {
			fl_format_err(err, errlen, "%s op %zu: argument %d (%lld) out of range", who, k,
				  i - 1, o[i]);
			return -1;
		}
	}
	switch (code) {
	case FL_SC_MMAP:
		if ((size_t)o[2] >= nnames || o[4] < 1 || o[4] > 64 || o[5] > 31 || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed mmap", who, k);
			return -1;
		}
		break;
	case FL_SC_WRITE:
		if (o[4] > FL_MAX_FOLIO_NAMES || (!setup && o[4]) || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed write", who, k);
			return -1;
		}
		break;
	case FL_SC_READ:
		if (o[3] > FL_MAX_FOLIO_NAMES || (!setup && o[3]) || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed read", who, k);
			return -1;
		}
		break;
	case FL_SC_MOVE:
		if (o[4] < 1 || o[4] > 64 || o[5] > 3 || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed move", who, k);
			return -1;
		}
		break;
	case FL_SC_BIND:
		if (o[3] < 1 || o[3] > FL_MAX_FOLIO_NAMES || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed bind", who, k);
			return -1;
		}
		break;
	case FL_SC_MUNMAP:
	case FL_SC_DONTNEED:
	case FL_SC_COLD:
	case FL_SC_PAGEOUT:
		if (o[3] < 1 || o[3] > 64 || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed munmap", who, k);
			return -1;
		}
		break;
	case FL_SC_PIN:
		if (o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed pin", who, k);
			return -1;
		}
		break;
	case FL_SC_UNPIN:
		if (o[1] || o[2] || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed unpin", who, k);
			return -1;
		}
		break;
	case FL_SC_FORK:
		if (o[2] > 1000000 || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed fork", who, k);
			return -1;
		}
		break;
	case FL_SC_EXIT:
		if (o[2] || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed exit", who, k);
			return -1;
		}
		break;
	case FL_SC_SHRINK_FOLIO:
		if (o[1] || o[2] >= FL_MAX_FOLIO_NAMES || o[3] > 1 || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed %s", who, k,
				      fl_sc_names[code]);
			return -1;
		}
		break;
	default:
		if (o[1] || o[2] >= FL_MAX_FOLIO_NAMES || o[3] || o[4] || o[5] || o[6]) {
			fl_format_err(err, errlen, "%s op %zu: malformed %s", who, k,
				  fl_sc_names[code]);
			return -1;
		}
		break;
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
