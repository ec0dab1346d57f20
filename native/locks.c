// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lock objects of the simulated kernel (fuzzlock/sched/locks.py): their state
 * only; acquisition, blocking and the writer-waiting rule are the scheduler's
 * (scheduler.c).
 */
#include <string.h>

#include "sched_int.h"

void fl_lock_init(struct fl_lock *lk, const char *name, int cls, enum fl_lock_type type)
{
	fl_fp_range(lk, sizeof(*lk), FL_FP_WRITE);	/* a lock created in a step */
	memset(lk, 0, sizeof(*lk));
	lk->name = name;
	lk->cls = cls;
	lk->type = type;
	fl_lock_reset(lk);
}

void fl_lock_reset(struct fl_lock *lk)
{
	fl_fp_lock(lk, FL_FP_WRITE);
	lk->owner = -1;
	lk->writer = -1;
	lk->readers = 0;
	lk->pending_writers = 0;
	lk->waiting_writers = 0;
	memset(lk->nread, 0, sizeof(lk->nread));
}
