// SPDX-License-Identifier: GPL-2.0-only
/*
 * The footprint recorder (footprint.h).  Compiled into both libraries; only
 * the _fp one has instrumented model code that calls fl_fp_mem().  Never
 * instrumented itself.
 */
#include <stdlib.h>
#include <string.h>

#include "footprint.h"

#ifdef FL_FOOTPRINT
__thread struct fl_fp *fl_fp_active __attribute__((tls_model("initial-exec")));
#else
static struct fl_fp *fl_fp_active;	/* the normal library never records a step */
#endif

/* --- layouts ---------------------------------------------------------------------- */

int fl_fp_layout_init(struct fl_fp_layout *l, size_t size)
{
	size_t u;

	l->nunits = (size + FL_FP_UNIT - 1) / FL_FP_UNIT;
	l->canon = malloc((l->nunits ? l->nunits : 1) * sizeof(*l->canon));
	l->excl = calloc(l->nunits ? l->nunits : 1, 1);
	if (!l->canon || !l->excl) {
		fl_fp_layout_free(l);
		return -1;
	}
	for (u = 0; u < l->nunits; u++)
		l->canon[u] = (int32_t)u;
	return 0;
}

void fl_fp_layout_free(struct fl_fp_layout *l)
{
	free(l->canon);
	free(l->excl);
	l->canon = NULL;
	l->excl = NULL;
	l->nunits = 0;
}

void fl_fp_layout_exclude(struct fl_fp_layout *l, size_t off, size_t len)
{
	const uint8_t all = (1u << FL_FP_UNIT) - 1;
	size_t b;

	for (b = off; b < off + len && b / FL_FP_UNIT < l->nunits; b++) {
		size_t u = b / FL_FP_UNIT;

		l->excl[u] |= (uint8_t)(1u << (b % FL_FP_UNIT));
		if (l->excl[u] == all)
			l->canon[u] = -1;
	}
}

void fl_fp_layout_merge(struct fl_fp_layout *l, size_t off, size_t len)
{
	size_t u;

	for (u = off / FL_FP_UNIT; u < (off + len + FL_FP_UNIT - 1) / FL_FP_UNIT && u < l->nunits;
	     u++)
		l->canon[u] = (int32_t)(off / FL_FP_UNIT);
}

void fl_fp_layout_lock(struct fl_fp_layout *l, size_t off)
{
	size_t mut = off + offsetof(struct fl_lock, owner);
	size_t end = off + sizeof(struct fl_lock);
	size_t u;

	/*
	 * name, cls, type: written once when the lock's object is created (a step
	 * that also writes the object's recorded fields), constant afterwards.
	 */
	fl_fp_layout_exclude(l, off, mut - off);
	/* owner, writer, readers, waiting writers, read counts: one cell */
	for (u = mut / FL_FP_UNIT; u < (end + FL_FP_UNIT - 1) / FL_FP_UNIT && u < l->nunits; u++)
		l->canon[u] = (int32_t)(mut / FL_FP_UNIT);
}

/* --- the recorder ----------------------------------------------------------------- */

struct fl_fp *fl_fp_new(void)
{
	struct fl_fp *fp = calloc(1, sizeof(*fp));

	if (!fp)
		return NULL;
	fp->cur_r = malloc(FL_FP_STEP_CELLS * sizeof(*fp->cur_r));
	fp->cur_w = malloc(FL_FP_STEP_CELLS * sizeof(*fp->cur_w));
	if (!fp->cur_r || !fp->cur_w) {
		fl_fp_free(fp);
		return NULL;
	}
	fp->cap = FL_FP_STEP_CELLS;
	return fp;
}

void fl_fp_free(struct fl_fp *fp)
{
	int i;

	if (!fp)
		return;
	if (fl_fp_active == fp)
		fl_fp_active = NULL;
	for (i = 0; i < fp->nreg; i++)
		free(fp->reg[i].seen);
	free(fp->cur_r);
	free(fp->cur_w);
	free(fp->steps);
	free(fp->cells);
	free(fp);
}

int fl_fp_add_region(struct fl_fp *fp, const void *base, size_t size,
		     const struct fl_fp_layout *layout, int tag)
{
	struct fl_fp_region *r;

	if (fp->nreg == FL_FP_MAX_REGIONS || !layout || layout->nunits * FL_FP_UNIT < size)
		return -1;
	r = &fp->reg[fp->nreg];
	r->seen = calloc(layout->nunits ? layout->nunits : 1, sizeof(*r->seen));
	if (!r->seen)
		return -1;
	r->base = (uintptr_t)base;
	r->size = size;
	r->canon = layout->canon;
	r->tag = (int64_t)tag << 32;
	fp->nreg++;
	return 0;
}

void fl_fp_reset(struct fl_fp *fp)
{
	if (fl_fp_active == fp)
		fl_fp_active = NULL;
	fp->open = false;
	fp->nsteps = 0;
	fp->ncells = 0;
	fp->oom = false;
}

void fl_fp_set_capacity(struct fl_fp *fp, size_t cap)
{
	if (fp)
		fp->cap = cap < 2 ? 2 : cap > FL_FP_STEP_CELLS ? FL_FP_STEP_CELLS : cap;
}

void fl_fp_set_lockdep(struct fl_fp *fp, int on)
{
	if (fp)
		fp->no_lockdep = !on;
}

void fl_fp_result(struct fl_fp *fp, struct fl_fp_result *res)
{
	res->steps = fp->steps;
	res->nsteps = fp->nsteps;
	res->cells = fp->cells;
	res->ncells = fp->ncells;
}

static int fl_fp_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t ncap = *cap ? *cap : 256;
	void *np;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	np = realloc(*p, ncap * elem);
	if (!np)
		return -1;
	*p = np;
	*cap = ncap;
	return 0;
}

void fl_fp_step_begin(struct fl_fp *fp, int tid, const int *order, int norder, bool decided)
{
	struct fl_fp_step *st;
	int i;

	if (fl_fp_grow((void **)&fp->steps, &fp->steps_cap, fp->nsteps + 1, sizeof(*fp->steps))) {
		fp->oom = true;
		return;
	}
	st = &fp->steps[fp->nsteps];
	memset(st, 0, sizeof(*st));
	st->tid = tid;
	st->norder = norder;
	for (i = 0; i < norder && i < FL_MAX_THREADS; i++)
		st->order[i] = order[i];
	st->decided = decided;
	if (++fp->gen >= (1u << 30)) {	/* stamps wrap: forget them all */
		for (i = 0; i < fp->nreg; i++)
			memset(fp->reg[i].seen, 0,
			       (fp->reg[i].size + FL_FP_UNIT - 1) / FL_FP_UNIT * sizeof(uint32_t));
		fp->gen = 1;
	}
	fp->ncur_r = fp->ncur_w = 0;
	fp->nspecial = 0;
	fp->overflow = false;
	fp->open = true;
	fl_fp_active = fp;
}

void fl_fp_pause(struct fl_fp *fp)
{
	if (fl_fp_active == fp)
		fl_fp_active = NULL;
}

static void fl_fp_put(struct fl_fp *fp, const int64_t *src, size_t n)
{
	memcpy(fp->cells + fp->ncells, src, n * sizeof(*src));
	fp->ncells += n;
}

void fl_fp_step_end(struct fl_fp *fp)
{
	struct fl_fp_step *st;
	size_t nr = 0, nw = 0;
	int i;

	if (fl_fp_active == fp)
		fl_fp_active = NULL;
	if (!fp->open)
		return;
	fp->open = false;
	if (fp->oom)
		return;
	st = &fp->steps[fp->nsteps++];
	if (fp->overflow) {
		st->all = 1;
		return;
	}
	for (i = 0; i < fp->nspecial; i++) {
		nr += (fp->special_rw[i] & FL_FP_READ) != 0;
		nw += (fp->special_rw[i] & FL_FP_WRITE) != 0;
	}
	if (fl_fp_grow((void **)&fp->cells, &fp->cells_cap,
		       fp->ncells + fp->ncur_r + fp->ncur_w + nr + nw, sizeof(*fp->cells))) {
		fp->oom = true;
		return;
	}
	st->reads_off = fp->ncells;
	fl_fp_put(fp, fp->cur_r, fp->ncur_r);
	for (i = 0; i < fp->nspecial; i++)
		if (fp->special_rw[i] & FL_FP_READ)
			fp->cells[fp->ncells++] = fp->special[i];
	st->nreads = fp->ncells - st->reads_off;
	st->writes_off = fp->ncells;
	fl_fp_put(fp, fp->cur_w, fp->ncur_w);
	for (i = 0; i < fp->nspecial; i++)
		if (fp->special_rw[i] & FL_FP_WRITE)
			fp->cells[fp->ncells++] = fp->special[i];
	st->nwrites = fp->ncells - st->writes_off;
}

/* --- recording -------------------------------------------------------------------- */

static void fl_fp_unit(struct fl_fp *fp, struct fl_fp_region *r, int32_t c, unsigned int rw)
{
	uint32_t st = r->seen[c];
	unsigned int add;

	if ((st >> 2) != fp->gen)
		st = fp->gen << 2;
	add = rw & ~st & (FL_FP_READ | FL_FP_WRITE);
	if (!add)
		return;
	r->seen[c] = st | add;
	if (fp->ncur_r + fp->ncur_w + 2 > fp->cap) {
		fp->overflow = true;
		return;
	}
	if (add & FL_FP_READ)
		fp->cur_r[fp->ncur_r++] = r->tag | c;
	if (add & FL_FP_WRITE)
		fp->cur_w[fp->ncur_w++] = r->tag | c;
}

static void fl_fp_region_mem(struct fl_fp *fp, struct fl_fp_region *r, uintptr_t off, size_t n,
			     unsigned int rw)
{
	size_t u, end;

	if (off + n > r->size)
		n = r->size - off;
	end = (off + n + FL_FP_UNIT - 1) / FL_FP_UNIT;
	for (u = off / FL_FP_UNIT; u < end; u++) {
		int32_t c = r->canon[u];

		if (c >= 0)
			fl_fp_unit(fp, r, c, rw);
	}
}

void fl_fp_mem(struct fl_fp *fp, const void *addr, size_t n, unsigned int rw)
{
	uintptr_t a = (uintptr_t)addr;
	int i;

	if (!n)
		return;
	for (i = 0; i < fp->nreg; i++) {
		struct fl_fp_region *r = &fp->reg[i];
		uintptr_t off = a - r->base;

		if (off < r->size) {
			fl_fp_region_mem(fp, r, off, n, rw);
		} else if (a < r->base && a + n > r->base) {	/* starts before the region */
			fl_fp_region_mem(fp, r, 0, a + n - r->base, rw);
		}
	}
}

static void fl_fp_special(struct fl_fp *fp, int64_t cell, unsigned int rw)
{
	int i;

	for (i = 0; i < fp->nspecial; i++) {
		if (fp->special[i] == cell) {
			fp->special_rw[i] |= (uint8_t)rw;
			return;
		}
	}
	if (fp->nspecial == FL_FP_STEP_SPECIAL) {
		fp->overflow = true;
		return;
	}
	fp->special[fp->nspecial] = cell;
	fp->special_rw[fp->nspecial++] = (uint8_t)rw;
}

void fl_fp_cell(int64_t cell, unsigned int rw)
{
	struct fl_fp *fp = fl_fp_active;

	if (fp)
		fl_fp_special(fp, cell, rw);
}

void fl_fp_range(const void *p, size_t n, unsigned int rw)
{
	struct fl_fp *fp = fl_fp_active;

	if (fp)
		fl_fp_mem(fp, p, n, rw);
}

void fl_fp_lock(const struct fl_lock *lk, unsigned int rw)
{
	struct fl_fp *fp = fl_fp_active;
	uintptr_t a = (uintptr_t)&lk->owner;
	size_t n = sizeof(*lk) - offsetof(struct fl_lock, owner);
	int i;

	if (!fp)
		return;
	for (i = 0; i < fp->nreg; i++) {
		if (a - fp->reg[i].base < fp->reg[i].size) {
			/* a mapped lock is one cell; any other lock's state, unit by unit */
			fl_fp_mem(fp, &lk->owner, n, rw);
			return;
		}
	}
	fp->overflow = true;	/* a lock outside every region has no stable cell */
}

void fl_fp_rcu_free(void)
{
	fl_fp_cell(FL_FP_CELL_RCU, FL_FP_WRITE);
}
