/* SPDX-License-Identifier: GPL-2.0-only */
/* generated from fuzzlock/schema.py by `python -m fuzzlock.schema_gen --write`: do not edit */
#ifndef FUZZLOCK_SCHEMA_H
#define FUZZLOCK_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define FL_ABI_VERSION	2
#define FL_SCHEMA_HASH	0x81e061c9832e818cULL

#define FL_MAX_THREADS	16	/* concurrent threads of one run (the solo setup thread is extra) */
#define FL_MSG_LEN	1024	/* a violation message, terminating NUL included */
#define FL_OP_WORDS	7	/* words per scenario op in the model encoding: code, mm, a, b, c, d, e */
#define FL_MAX_FOLIO_NAMES	64	/* distinct setup folio names of one scenario */
#define FL_PCT_MAX_DEPTH	64	/* the C PCT chooser's largest depth */
#define FL_PCT_MAX_K	(1 << 24)	/* the C PCT chooser's largest k */
#define FL_HUNT_MAX_CHOICES	8	/* preempt values or depths one hunt batch draws from */
#define FL_HUNT_MAX_DEPTH	16	/* the batched hunt loop's largest PCT depth */
#define FL_HUNT_MAX_K	(1 << 24)	/* the batched hunt loop's largest PCT k */
#define FL_FP_STEP_CELLS	8192	/* footprint cells (reads + writes) one step may record */
#define FL_MODEL_OK	0	/* fl_model_run() and friends: the run was made */
#define FL_MODEL_ERROR	(-1)	/* internal error or refused arguments: fl_result.message */
#define FL_MODEL_SETUP_ERROR	(-2)	/* the setup failed (model.SetupError): fl_result.message */
#define FL_MODEL_NO_STEP_CHECKS	1	/* fl_model_footprints() flag: leave out the per-step invariants */

/* knob slots of the model encoding, in fuzzlock.schema.KNOBS order */
enum fl_knob {
	K_REF_ACTIVE_LOCK = 0,
	K_PAGE_IDLE_LOCK = 1,
	K_DAMON_LOCK = 2,
	K_MF_LOCK = 3,
	K_RECHECK_MAPPING = 4,
	K_CHECK_MAPPED = 5,
	K_TRYLOCK_FAIL_RESULT = 6,
	K_RECLAIM_UNMAP_TRYLOCK = 7,
	K_MOVE_ANON_VMA_LOCK = 8,
	K_MOVE_LOCK_ORDER_AV_FIRST = 9,
	K_MOVE_CHECK_EXCLUSIVE = 10,
	K_MOVE_RECHECK_DST = 11,
	K_MOVE_RECHECK_SRC = 12,
	K_MOVE_PIN_FIRST = 13,
	K_MOVE_SWAP_MOVES_RMAP = 14,
	K_MOVE_UNMAP_BEFORE_SLEEP = 15,
	K_MOVE_BATCH_SAME_AV = 16,
	K_MOVE_RESET_ERR = 17,
	K_FORK_CLEAR_EXCL = 18,
	K_FORK_LINK_FIRST = 19,
	K_COW_REUSE_TRYLOCK = 20,
	K_ZAP_BEFORE_UNLINK = 21,
	K_FREE_HANDSHAKE = 22,
	K_NR
};

/* the largest code of each knob slot */
static inline long long fl_knob_max(int k)
{
	static const long long max[K_NR] = { 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };

	return max[k];
}

#define FL_WALK_LOCK_NONE	0
#define FL_WALK_LOCK_TRYLOCK	1
#define FL_WALK_LOCK_LOCK	2

enum fl_sc_code {
	FL_SC_MMAP = 0,
	FL_SC_WRITE = 1,
	FL_SC_READ = 2,
	FL_SC_MOVE = 3,
	FL_SC_BIND = 4,
	FL_SC_SHRINK_ACTIVE = 5,
	FL_SC_PAGE_IDLE = 6,
	FL_SC_DAMON_MKOLD = 7,
	FL_SC_DAMON_YOUNG = 8,
	FL_SC_MEMORY_FAILURE = 9,
	FL_SC_MUNMAP = 10,
	FL_SC_EXIT = 11,
	FL_SC_FORK = 12,
	FL_SC_PIN = 13,
	FL_SC_UNPIN = 14,
	FL_SC_MIGRATE = 15,
	FL_SC_DONTNEED = 16,
	FL_SC_SHRINK_FOLIO = 17,
	FL_SC_COLD = 18,
	FL_SC_PAGEOUT = 19,
	FL_SC_NR_CODES
};

#define FL_MMAP_UFFD	1
#define FL_MMAP_WRITE	2
#define FL_MMAP_LOCKED	4
#define FL_MMAP_DONTFORK	8
#define FL_MMAP_WIPEONFORK	16

enum fl_op_kind {
	FL_OP_LOCK = 0,
	FL_OP_TRYLOCK = 1,
	FL_OP_UNLOCK = 2,
	FL_OP_MEM = 3,
	FL_OP_RCU_LOCK = 4,
	FL_OP_RCU_UNLOCK = 5,
	FL_OP_PTE_MAP = 6,
	FL_OP_PTE_UNMAP = 7,
	FL_OP_WAIT = 8,
	FL_OP_MIGHT_SLEEP = 9,
	FL_OP_NR_KINDS
};

enum fl_mode {
	FL_EXCL = 0,
	FL_READ = 1,
	FL_WRITE = 2,
};

enum fl_outcome {
	FL_FINISHED = 0,
	FL_STEP_BOUND = 1,
	FL_VIOLATION = 2,
	FL_ABORTED = 3,
	FL_ERROR = 4,
};

enum fl_hunt_strategy {
	FL_HUNT_RANDOM = 0,
	FL_HUNT_PCT_BOUNDED = 1,
	FL_HUNT_PCT = 2,
	FL_HUNT_NR_STRATEGIES
};

/* invariant ids (fuzzlock.schema.INVARIANTS) */
#define FL_INV_RMAP_REACHABLE	"rmap.reachable"
#define FL_INV_RMAP_INDEX	"rmap.index"
#define FL_INV_FOLIO_MAPCOUNT	"folio.mapcount"
#define FL_INV_FOLIO_REFCOUNT	"folio.refcount"
#define FL_INV_FOLIO_EXCLUSIVE	"folio.exclusive"
#define FL_INV_ANON_VMA_LIFETIME	"anon_vma.lifetime"
#define FL_INV_ANON_VMA_TREE	"anon_vma.tree"
#define FL_INV_LOCK_WRITE_DISCIPLINE	"lock.write-discipline"
#define FL_INV_LOCK_WALK_DISCIPLINE	"lock.walk-discipline"
#define FL_INV_WALK_COMPLETE	"walk.complete"
#define FL_INV_MOVE_POST_STATE	"move.post-state"
#define FL_INV_SWAP_RMAP	"swap.rmap"
#define FL_INV_MIGRATION_REACHABLE	"migration.reachable"
#define FL_INV_LOCK_ORDER	"lock.order"
#define FL_INV_THREAD_END	"thread.end"
#define FL_INV_MOVE_RESULT	"move.result"
#define FL_INV_DEADLOCK	"deadlock"
#define FL_INV_SLEEP_IN_ATOMIC	"sleep-in-atomic"
#define FL_INV_UNLOCK_NOT_HELD	"unlock-not-held"
#define FL_INV_UAF	"uaf"
#define FL_INV_USER_DATA	"user.data"
#define FL_INV_DIFFERENTIAL	"differential"

struct fl_result {
	int outcome;
	const char *outcome_id;
	int steps;
	int violation_step;
	int violation_thread;
	const char *violation_fn;
	const char *message;
	const long long *decisions;
	size_t ndecisions;
	const int *preempted;
	size_t npreempted;
	const char *trace;
	size_t trace_len;
	size_t nevents;
};

struct fl_fp_step {
	int32_t tid;
	int32_t norder;
	int32_t order[FL_MAX_THREADS];
	uint8_t decided;
	uint8_t all;
	uint8_t pad[6];
	uint64_t reads_off;
	uint64_t nreads;
	uint64_t writes_off;
	uint64_t nwrites;
};

struct fl_fp_result {
	const struct fl_fp_step *steps;
	size_t nsteps;
	const int64_t *cells;
	size_t ncells;
};

struct fl_hunt_args {
	unsigned long long seed;
	double deadline;
	int strategy;
	int runs;
	int max_steps;
	int pct_k;
	int npreempt;
	int ndepth;
	double preempt[FL_HUNT_MAX_CHOICES];
	int depth[FL_HUNT_MAX_CHOICES];
};

struct fl_hunt_out {
	long long runs;
	long long steps;
	int violation;
	double preempt;
	int depth;
	unsigned long long pct_seed;
	char message[FL_MSG_LEN + 64];
};

/* decisions from a callback: a decision c >= 0 (order[c % n] runs), < 0 aborts */
typedef long long (*fl_choose_fn)(void *ctx, const int *order, int n, int current);

struct fl_model;
struct fl_toy;
struct fl_fp;

/* core */
int fl_abi_version(void);
unsigned long long fl_schema_hash(void);
long fl_selftest_sum(const long *, int);
int fl_debug_randbelow(unsigned long long, unsigned int, unsigned int *, int);
int fl_debug_flip_decision_rule(int);
int fl_fp_instrumented(void);
struct fl_model *fl_model_new(const long long *, size_t, const char *, char *, size_t);
struct fl_model *fl_model_reload(struct fl_model *, const long long *, size_t, const char *, char *, size_t);
int fl_model_run(struct fl_model *, const long long *, size_t, int, struct fl_result *);
int fl_model_run_cb(struct fl_model *, fl_choose_fn, void *, int, struct fl_result *);
int fl_model_run_pct(struct fl_model *, unsigned long long, int, int, int, struct fl_result *);
long long fl_model_bench(struct fl_model *, long long, unsigned long long, int);
long long fl_model_bench_pct(struct fl_model *, long long, unsigned long long, int, int, int);
const char *fl_model_results(struct fl_model *);
const char *fl_model_violation_objects(struct fl_model *);
unsigned long long fl_model_state_digest(struct fl_model *);
void fl_model_free(struct fl_model *);

/* hunt */
unsigned int fl_hunt_strategies(void);
int fl_model_hunt(struct fl_model *, const struct fl_hunt_args *, unsigned long long *, int *, size_t, struct fl_hunt_out *, struct fl_result *);
unsigned long long fl_trace_hash(const char *, size_t);

/* fp */
struct fl_fp *fl_model_fp_new(struct fl_model *);
int fl_model_footprints(struct fl_model *, struct fl_fp *, const long long *, size_t, fl_choose_fn, void *, int, int, struct fl_result *, struct fl_fp_result *);
long long fl_model_fp_bench(struct fl_model *, struct fl_fp *, long long, unsigned long long, int);
void fl_fp_set_capacity(struct fl_fp *, size_t);
void fl_fp_set_lockdep(struct fl_fp *, int);
void fl_fp_free(struct fl_fp *);

/* toy */
struct fl_toy *fl_toy_new(const long long *, size_t, char *, size_t);
int fl_toy_run(struct fl_toy *, const long long *, size_t, int, struct fl_result *);
int fl_toy_run_cb(struct fl_toy *, fl_choose_fn, void *, int, struct fl_result *);
int fl_toy_run_pct(struct fl_toy *, unsigned long long, int, int, int, struct fl_result *);
long long fl_toy_bench(struct fl_toy *, long long, unsigned long long, int);
int fl_toy_vars(struct fl_toy *, long long *, int);
void fl_toy_free(struct fl_toy *);

/* toy_fp */
struct fl_fp *fl_toy_fp_new(struct fl_toy *);
int fl_toy_footprints(struct fl_toy *, struct fl_fp *, const long long *, size_t, fl_choose_fn, void *, int, struct fl_result *, struct fl_fp_result *);

#endif /* FUZZLOCK_SCHEMA_H */
