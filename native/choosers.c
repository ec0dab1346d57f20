// SPDX-License-Identifier: GPL-2.0-only
/*
 * The choosers (fuzzlock/sched/choosers.py): Replay, RandomChooser and
 * PCTChooser.
 *
 * choosers.PCTChooser in C makes the same choices bit for bit: it draws from
 * a port of CPython's random.Random (MT19937 with CPython's integer seeding,
 * getrandbits, _randbelow, shuffle and sample), so the same seed, thread
 * count, depth and k give the same initial priorities, the same change points
 * and therefore the same decisions (tests/native/test_choosers_native.py).
 */
#include <string.h>
#include <stdint.h>
#include <string.h>

#include "sched_int.h"

static long long fl_replay_choose(void *ctx, const int *order, int n, int current)
{
	struct fl_replay *r = ctx;

	(void)order;
	(void)n;
	(void)current;
	if (r->i < r->n)
		return r->decisions[r->i++];
	return 0;
}

void fl_replay_init(struct fl_chooser *c, struct fl_replay *r, const long long *d, size_t n)
{
	r->decisions = d;
	r->n = d ? n : 0;
	r->i = 0;
	c->choose = fl_replay_choose;
	c->ctx = r;
}

static uint64_t fl_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static long long fl_random_choose(void *ctx, const int *order, int n, int current)
{
	struct fl_random *r = ctx;
	uint64_t lim, x;

	if (order[0] == current && r->preempt < 1.0) {
		double u = (double)(fl_splitmix64(&r->state) >> 11) * 0x1.0p-53;

		if (u >= r->preempt)
			return 0;
	}
	/* unbiased randrange(n) */
	lim = UINT64_MAX - UINT64_MAX % (uint64_t)n;
	do {
		x = fl_splitmix64(&r->state);
	} while (x >= lim);
	return (long long)(x % (uint64_t)n);
}

void fl_random_init(struct fl_chooser *c, struct fl_random *r, uint64_t seed, double preempt)
{
	r->state = seed;
	r->preempt = preempt;
	c->choose = fl_random_choose;
	c->ctx = r;
}

/* --- random.Random ----------------------------------------------------------------- */

#define MT_M		397
#define MT_MATRIX_A	0x9908b0dfU
#define MT_UPPER	0x80000000U
#define MT_LOWER	0x7fffffffU

/* _randommodule.c init_genrand */
static void fl_mt_init_genrand(struct fl_mt *r, uint32_t s)
{
	int i;

	r->mt[0] = s;
	for (i = 1; i < FL_MT_N; i++)
		r->mt[i] = 1812433253U * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
	r->mti = FL_MT_N;
}

/* _randommodule.c init_by_array */
static void fl_mt_init_by_array(struct fl_mt *r, const uint32_t *key, int len)
{
	int i = 1, j = 0, k;

	fl_mt_init_genrand(r, 19650218U);
	for (k = FL_MT_N > len ? FL_MT_N : len; k; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525U)) +
			   key[j] + (uint32_t)j;
		i++;
		j++;
		if (i >= FL_MT_N) {
			r->mt[0] = r->mt[FL_MT_N - 1];
			i = 1;
		}
		if (j >= len)
			j = 0;
	}
	for (k = FL_MT_N - 1; k; k--) {
		r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941U)) -
			   (uint32_t)i;
		i++;
		if (i >= FL_MT_N) {
			r->mt[0] = r->mt[FL_MT_N - 1];
			i = 1;
		}
	}
	r->mt[0] = 0x80000000U;
}

/* random_seed() for a non-negative int: its 32-bit words, least significant first */
void fl_mt_seed(struct fl_mt *r, uint64_t seed_abs)
{
	uint32_t key[2] = { (uint32_t)seed_abs, (uint32_t)(seed_abs >> 32) };

	fl_mt_init_by_array(r, key, key[1] ? 2 : 1);
}

/* genrand_uint32 */
uint32_t fl_mt_next(struct fl_mt *r)
{
	static const uint32_t mag01[2] = { 0x0U, MT_MATRIX_A };
	uint32_t y;

	if (r->mti >= FL_MT_N) {
		int kk;

		for (kk = 0; kk < FL_MT_N - MT_M; kk++) {
			y = (r->mt[kk] & MT_UPPER) | (r->mt[kk + 1] & MT_LOWER);
			r->mt[kk] = r->mt[kk + MT_M] ^ (y >> 1) ^ mag01[y & 1U];
		}
		for (; kk < FL_MT_N - 1; kk++) {
			y = (r->mt[kk] & MT_UPPER) | (r->mt[kk + 1] & MT_LOWER);
			r->mt[kk] = r->mt[kk + (MT_M - FL_MT_N)] ^ (y >> 1) ^ mag01[y & 1U];
		}
		y = (r->mt[FL_MT_N - 1] & MT_UPPER) | (r->mt[0] & MT_LOWER);
		r->mt[FL_MT_N - 1] = r->mt[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1U];
		r->mti = 0;
	}
	y = r->mt[r->mti++];
	y ^= (y >> 11);
	y ^= (y << 7) & 0x9d2c5680U;
	y ^= (y << 15) & 0xefc60000U;
	y ^= (y >> 18);
	return y;
}

/* Random._randbelow_with_getrandbits(n): getrandbits(n.bit_length()) until < n */
uint32_t fl_mt_below(struct fl_mt *r, uint32_t n)
{
	int k = 32 - __builtin_clz(n);	/* n.bit_length(), n >= 1 */
	uint32_t x;

	do {
		x = fl_mt_next(r) >> (32 - k);	/* getrandbits(k), 1 <= k <= 32 */
	} while (x >= n);
	return x;
}

/*
 * fl_debug_randbelow - test aid: @n values of random.Random(seed_abs)._randbelow(bound)
 * into @out.  Returns 0, or -1 for a bound of 0.
 */
int fl_debug_randbelow(unsigned long long seed_abs, unsigned int bound, unsigned int *out, int n)
{
	struct fl_mt r;
	int i;

	if (!bound || !out)
		return -1;
	fl_mt_seed(&r, seed_abs);
	for (i = 0; i < n; i++)
		out[i] = fl_mt_below(&r, bound);
	return 0;
}

/* --- PCTChooser -------------------------------------------------------------------- */

static long long fl_pct_choose(void *ctx, const int *order, int n, int current)
{
	struct fl_pct *p = ctx;
	long long best = -1;
	int i, bi = 0;

	p->seen++;
	for (i = 0; i < p->npoints; i++) {
		if (p->point[i] == p->seen) {
			if (current >= 0 && current < p->n)
				p->prio[current] = i + 1;
			break;
		}
	}
	/* max(range(len(order)), key=prio[order[i]]): the first highest */
	for (i = 0; i < n; i++) {
		if (order[i] < 0 || order[i] >= p->n)
			return -1;	/* Python: IndexError */
		if (p->prio[order[i]] > best) {
			best = p->prio[order[i]];
			bi = i;
		}
	}
	return bi;
}

int fl_pct_init(struct fl_chooser *c, struct fl_pct *p, uint64_t seed_abs, int n, int depth,
		int k)
{
	struct fl_mt r;
	int pool[FL_PCT_MAX_DEPTH * 8];
	int i, npick, setsize;

	if (n < 1 || n > FL_MAX_THREADS || depth < 1 || depth > FL_PCT_MAX_DEPTH || k < 0 ||
	    k > FL_PCT_MAX_K)
		return -1;
	memset(p, 0, sizeof(*p));
	p->n = n;
	p->depth = depth;
	p->k = k;
	fl_mt_seed(&r, seed_abs);
	/* initial = list(range(depth, depth + n)); rng.shuffle(initial) */
	for (i = 0; i < n; i++)
		p->prio[i] = depth + i;
	for (i = n - 1; i >= 1; i--) {
		uint32_t j = fl_mt_below(&r, (uint32_t)i + 1);
		long long tmp = p->prio[i];

		p->prio[i] = p->prio[j];
		p->prio[j] = tmp;
	}
	/* points = rng.sample(range(1, k + 1), min(depth - 1, k)) */
	npick = depth - 1 < k ? depth - 1 : k;
	setsize = 21;
	if (npick > 5) {
		/*
		 * 4 ** ceil(log(npick * 3, 4)): 3 * npick is never a power of 4 and
		 * for npick < FL_PCT_MAX_DEPTH never within float error of one, so
		 * the smallest e with 4^e >= 3 * npick is what the float expression gives.
		 */
		int e = 0, pw = 1;

		while (pw < npick * 3) {
			pw *= 4;
			e++;
		}
		setsize += pw;
	}
	if (k <= setsize) {
		/* the pool method (k <= setsize <= 21 + 4^5 fits in pool[]) */
		for (i = 0; i < k; i++)
			pool[i] = i + 1;
		for (i = 0; i < npick; i++) {
			uint32_t j = fl_mt_below(&r, (uint32_t)(k - i));

			p->point[i] = pool[j];
			pool[j] = pool[k - i - 1];
		}
	} else {
		/* the set method: redraw an index already selected */
		int sel[FL_PCT_MAX_DEPTH];

		for (i = 0; i < npick; i++) {
			uint32_t j;
			int s2;

		again:
			j = fl_mt_below(&r, (uint32_t)k);
			for (s2 = 0; s2 < i; s2++)
				if (sel[s2] == (int)j)
					goto again;
			sel[i] = (int)j;
			p->point[i] = (int)j + 1;
		}
	}
	p->npoints = npick;
	/* change = {p: i + 1 for i, p in enumerate(sorted(points))} */
	for (i = 1; i < npick; i++) {
		int v = p->point[i], j = i;

		while (j > 0 && p->point[j - 1] > v) {
			p->point[j] = p->point[j - 1];
			j--;
		}
		p->point[j] = v;
	}
	c->choose = fl_pct_choose;
	c->ctx = p;
	return 0;
}
