// fuzzlock kernel oracle: a small process that owns the oracle regions and runs one
// operation per stdin line on the live kernel, printing the result and, on request, the
// page state of every live mm (its own and its forked children's) from /proc.
//
// Compiled at run time by fuzzlock/oracle/harness.py (gcc -O2 into a temp dir).  It is a
// separate process so that nothing else forks it: fork clears PageAnonExclusive on every
// private page of the forking mm, so it forks only when the operation says so.
//
// argv: NREG PAGES UFFDMASK CPU INIT KEEPERS.  INIT is "-" or "addr=value,..." stores done
// before the uffd registration (the scenario's setup writes, which fill like UFFDIO_COPY).
// Page a of the model lives at base + (a / 16) * 2 MiB + (a % 16) * 4 KiB: each region has
// its own PMD (its own PTE table).  KEEPERS=1 maps a one-page VMA at page 6 of each
// region's block and stores to it: its PTE table is then never empty, so CONFIG_PT_RECLAIM
// never frees it on MADV_DONTNEED, and it exists from the start, as in the model (whose
// page tables, 8 pages each, are never freed; the scenario has the same keeper pages).  Region i covers pages [16 + 16 i, 16 + 16 i + PAGES) of
// a 2 MiB-aligned reservation (the rest PROT_NONE, so regions never merge); regions whose
// bit is set in UFFDMASK are registered with one userfaultfd (MISSING mode).
//
// Commands (addresses in pages from the reservation base, mm 0 = this process, mm k>0 =
// the child forked by "F k"):
//   M dst src len mode      UFFDIO_MOVE                      -> "R rc errno move"
//   W mm addr value         store one byte                   -> "R 0" | "R uffd-missing"
//   L mm addr               load one byte                    -> "R value" | "R uffd-missing"
//   F child                 fork; the child waits for orders -> "R child"
//   X mm                    the child exits (reaped)         -> "R 0"
//   A mm addr pages advice  madvise                          -> "R rc errno"
//   S                       state: "P mm addr pagemap kpagecount kpageflags" lines, "E"
//   V                       first byte of every present page of mm 0 -> "R addr=value,..."
//   K repeat stop spec      concurrent mode (fuzzlock/oracle/concurrent.py), below
//
// K: one thread per '|'-separated part of spec, each running its ','-separated ops
// ("M:dst:src:len:mode", "W:addr:value", "A:addr:pages:advice"; mm 0 only, no fork),
// started together (spin barrier, then a small per-round pseudo-random delay).  Results -> "R iters t0r0,t0r1|t1r0|..." with a move
// as "rc:errno:move" (move in pages, or "none"), a store as "0", a madvise as "rc:errno".
// A thread inside one call for more than 2 s is a livelock: "R LIVELOCK thread op iters"
// and the harness exits at once (exit_group's SIGKILL ends the kernel's loop).  repeat > 1
// runs the program again (the regions rebuilt: unregistered, remapped, INIT stores,
// registered) until some move fails with errno == stop (0: any error; -1: until any
// result differs from the first run's: a rarer interleaving) or repeat runs.
// Stores must not target a uffd-registered page that may be missing (they would block):
// the concurrent mode stores only into unregistered regions.
// A store or load of a page that is neither present nor swapped in a uffd-registered
// range would block on a MISSING fault; it is refused ("uffd-missing"), which is also
// what the model reports.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif

#define PG 4096UL
#define PMD (2UL << 20)
#define KADDR(a) (base + ((a) / 16) * PMD + ((a) % 16) * PG)
#define MAXCHILD 64
struct uffdio_move_ { uint64_t dst, src, len, mode; int64_t move; };
#define UFFDIO_MOVE_ 0xc028aa05UL
#define UFFD_FEATURE_MOVE_ (1ULL << 16)
#define NOT_WRITTEN 0x5a5a5a5aLL  // uffdio_move.move left alone (early EINVAL)

static char *base;
static int nreg, pages;
static unsigned uffdmask;
static int uffd = -1;
static int kpagecount_fd, kpageflags_fd;

struct child { int pid, to, from; };
static struct child kids[MAXCHILD];

static int region_of(long addr)
{
	for (int i = 0; i < nreg; i++) {
		long s = 16 + 16L * i;
		if (addr >= s && addr < s + pages)
			return i;
	}
	return -1;
}

static uint64_t pagemap_entry(int pid, long addr)
{
	char path[64];
	uint64_t e = 0;
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/pagemap", pid);
	else
		snprintf(path, sizeof path, "/proc/self/pagemap");
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	if (pread(fd, &e, 8, ((uintptr_t)KADDR(addr) / PG) * 8) != 8)
		e = 0;
	close(fd);
	return e;
}

static uint64_t kread(int fd, uint64_t pfn)
{
	uint64_t v = 0;
	if (pread(fd, &v, 8, pfn * 8) != 8)
		return ~0ULL;
	return v;
}

// the access itself, in whichever process runs it
static void do_access(char kind, long addr, int value, char *out, size_t n, int self_uffd)
{
	int r = region_of(addr);
	if (r < 0) {
		snprintf(out, n, "R segv");
		return;
	}
	if (self_uffd && (uffdmask >> r & 1)) {
		uint64_t e = pagemap_entry(0, addr);
		if (!(e >> 63 & 1) && !(e >> 62 & 1)) {
			snprintf(out, n, "R uffd-missing");
			return;
		}
	}
	volatile unsigned char *p = (volatile unsigned char *)KADDR(addr);
	if (kind == 'W') {
		*p = (unsigned char)value;
		snprintf(out, n, "R 0");
	} else {
		snprintf(out, n, "R %d", *p);
	}
}

// MADV_PAGEOUT starts the swap write and returns; a swap file completes it later (zram at
// once), and a folio still under writeback stays in the swap cache and is not freed, which
// the next fault or reclaim would see.  Wait (bounded) until none of the pages that were
// in the range is under writeback (KPF_WRITEBACK, bit 8 of /proc/kpageflags), so the
// state after the op does not depend on the disk's speed.
#define KPF_WRITEBACK_ (1ULL << 8)
static void do_madvise(long addr, long npages, int advice, char *out, size_t n)
{
	uint64_t pfns[64];
	int np = 0;
	if (advice == MADV_PAGEOUT)
		for (long i = 0; i < npages && np < 64; i++) {
			uint64_t e = pagemap_entry(0, addr + i);
			if (e >> 63 & 1)
				pfns[np++] = e & ((1ULL << 55) - 1);
		}
	int rc = madvise(KADDR(addr), npages * PG, advice);
	int err = rc ? errno : 0;
	for (int tries = 0; np && tries < 20000; tries++) {
		int busy = 0;
		for (int i = 0; i < np; i++)
			if (kread(kpageflags_fd, pfns[i]) & KPF_WRITEBACK_)
				busy = 1;
		if (!busy)
			break;
		usleep(100);
	}
	snprintf(out, n, "R %d %d", rc, err);
}

static void child_loop(int in, int outfd)
{
	char line[256], out[128];
	FILE *f = fdopen(in, "r");
	while (fgets(line, sizeof line, f)) {
		long a = 0, b = 0;
		int c = 0;
		out[0] = 0;
		if (line[0] == 'W' && sscanf(line + 1, "%ld %d", &a, &c) == 2)
			do_access('W', a, c, out, sizeof out, 0);
		else if (line[0] == 'L' && sscanf(line + 1, "%ld", &a) == 1)
			do_access('L', a, 0, out, sizeof out, 0);
		else if (line[0] == 'A' && sscanf(line + 1, "%ld %ld %d", &a, &b, &c) == 3)
			do_madvise(a, b, c, out, sizeof out);
		else if (line[0] == 'X')
			_exit(0);
		else
			snprintf(out, sizeof out, "R bad-command");
		strcat(out, "\n");
		if (write(outfd, out, strlen(out)) < 0)
			_exit(3);
	}
	_exit(0);
}

static void to_child(int mm, const char *cmd, char *out, size_t n)
{
	if (mm <= 0 || mm >= MAXCHILD || !kids[mm].pid) {
		snprintf(out, n, "R no-mm");
		return;
	}
	if (write(kids[mm].to, cmd, strlen(cmd)) < 0) {
		snprintf(out, n, "R child-gone");
		return;
	}
	size_t k = 0;
	while (k + 1 < n) {
		char ch;
		if (read(kids[mm].from, &ch, 1) != 1)
			break;
		if (ch == '\n')
			break;
		out[k++] = ch;
	}
	out[k] = 0;
}

static void state(void)
{
	for (int mm = 0; mm < MAXCHILD; mm++) {
		if (mm && !kids[mm].pid)
			continue;
		for (int r = 0; r < nreg; r++)
			for (int i = 0; i < pages; i++) {
				long addr = 16 + 16L * r + i;
				uint64_t e = pagemap_entry(mm ? kids[mm].pid : 0, addr);
				uint64_t cnt = 0, flags = 0;
				if (e >> 63 & 1) {
					uint64_t pfn = e & ((1ULL << 55) - 1);
					cnt = kread(kpagecount_fd, pfn);
					flags = kread(kpageflags_fd, pfn);
				}
				printf("P %d %ld %llu %llu %llu\n", mm, addr, (unsigned long long)e,
				       (unsigned long long)cnt, (unsigned long long)flags);
			}
	}
	printf("E\n");
}

static void kill_children(void)
{
	for (int i = 1; i < MAXCHILD; i++)
		if (kids[i].pid) {
			kill(kids[i].pid, SIGKILL);
			waitpid(kids[i].pid, NULL, 0);
			kids[i].pid = 0;
		}
}

// --- the concurrent mode (K) ---------------------------------------------------------------
#define CMAXT 4
#define CMAXOP 8
struct cop { char kind; long a, b, c, d; };
struct cthread {
	pthread_t th;
	int nops, id;
	struct cop ops[CMAXOP];
	char res[CMAXOP][48];
	_Atomic long long since;  // CLOCK_MONOTONIC ns when the current call started, 0 idle
	_Atomic int cur;
};
static struct cthread cth[CMAXT];
static int cnt;
static _Atomic int cgen, cready, cdone, cquit;
static const char *init_arg = "-";

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void crun_op(struct cthread *t, int i)
{
	struct cop *o = &t->ops[i];
	char *out = t->res[i];
	atomic_store(&t->cur, i);
	atomic_store(&t->since, now_ns());
	if (o->kind == 'M') {
		struct uffdio_move_ m = { (uintptr_t)KADDR(o->a), (uintptr_t)KADDR(o->b), o->c * PG,
					  (uint64_t)o->d, NOT_WRITTEN };
		int rc = ioctl(uffd, UFFDIO_MOVE_, &m);
		int e = rc ? errno : 0;
		long long mv = m.move;
		if (mv == NOT_WRITTEN)
			snprintf(out, 48, "%d:%d:none", rc, e);
		else
			snprintf(out, 48, "%d:%d:%lld", rc, e, mv > 0 ? mv / (long long)PG : mv);
	} else if (o->kind == 'W') {
		*(volatile unsigned char *)KADDR(o->a) = (unsigned char)o->b;
		snprintf(out, 48, "0");
	} else {
		int rc = madvise(KADDR(o->a), o->b * PG, (int)o->c);
		snprintf(out, 48, "%d:%d", rc, rc ? errno : 0);
	}
	atomic_store(&t->since, 0);
}

static void *cworker(void *arg)
{
	struct cthread *t = arg;
	int seen = 0;
	unsigned jit = 0x9e3779b9u * (unsigned)(t->id + 1);
	for (;;) {
		atomic_fetch_add(&cready, 1);
		long spins = 0;
		while (atomic_load(&cgen) == seen) {  // spin, then yield to the main thread
			if (++spins > 10000000)
				usleep(100);
			else if (spins > 2000)
				sched_yield();
		}
		seen = atomic_load(&cgen);
		if (atomic_load(&cquit))
			return NULL;
		// a different small start offset each round (0..~2 us), so repeated rounds
		// sweep the threads' relative timing across the race windows
		jit = jit * 1103515245u + 12345u + (unsigned)t->id;
		for (volatile unsigned d = (jit >> 16) % 3000; d; d--)
			;
		for (int i = 0; i < t->nops; i++)
			crun_op(t, i);
		atomic_fetch_add(&cdone, 1);
	}
}

static int parse_init_and_store(int region)  // the INIT stores of one region
{
	for (const char *s = init_arg; *s && *s != '-';) {
		char *end;
		long addr = strtol(s, &end, 10);
		if (*end != '=')
			return -1;
		long v = strtol(end + 1, &end, 10);
		if (region_of(addr) == region)
			*(volatile unsigned char *)KADDR(addr) = (unsigned char)v;
		s = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int rebuild_regions(void)
{
	for (int i = 0; i < nreg; i++) {
		char *a = KADDR(16 + 16L * i);
		if (uffdmask >> i & 1) {
			struct uffdio_range r = { (uintptr_t)a, pages * PG };
			if (ioctl(uffd, UFFDIO_UNREGISTER, &r))
				return -1;
		}
		if (mmap(a, pages * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a)
			return -1;
		madvise(a, pages * PG, MADV_NOHUGEPAGE);
		if (parse_init_and_store(i))
			return -1;
		if (uffdmask >> i & 1) {
			struct uffdio_register reg = {
				.range = { (uintptr_t)a, pages * PG },
				.mode = UFFDIO_REGISTER_MODE_MISSING,
			};
			if (ioctl(uffd, UFFDIO_REGISTER, &reg))
				return -1;
		}
	}
	return 0;
}

static int parse_spec(char *spec)
{
	cnt = 0;
	char *save1;
	for (char *part = strtok_r(spec, "|", &save1); part; part = strtok_r(NULL, "|", &save1)) {
		if (cnt == CMAXT)
			return -1;
		struct cthread *t = &cth[cnt];
		memset(t, 0, sizeof *t);
		t->id = cnt++;
		char *save2;
		for (char *op = strtok_r(part, ",", &save2); op; op = strtok_r(NULL, ",", &save2)) {
			if (t->nops == CMAXOP)
				return -1;
			struct cop *o = &t->ops[t->nops++];
			o->kind = op[0];
			int n = sscanf(op + 1, ":%ld:%ld:%ld:%ld", &o->a, &o->b, &o->c, &o->d);
			int want = o->kind == 'M' ? 4 : o->kind == 'W' ? 2 : o->kind == 'A' ? 3 : -1;
			if (n != want || region_of(o->a) < 0)
				return -1;
			if (o->kind == 'W' && (uffdmask >> region_of(o->a) & 1))
				return -1;  // would block on a MISSING fault
		}
	}
	return cnt ? 0 : -1;
}

static void concurrent(long repeat, int stop, char *spec)
{
	if (parse_spec(spec)) {
		printf("R bad-spec\n");
		return;
	}
	atomic_store(&cgen, 0);
	atomic_store(&cready, 0);
	atomic_store(&cquit, 0);
	for (int i = 0; i < cnt; i++)
		if (pthread_create(&cth[i].th, NULL, cworker, &cth[i])) {
			printf("R thread-failed\n");
			exit(2);
		}
	static char first[CMAXT][CMAXOP][48];
	long it;
	for (it = 1;; it++) {
		while (atomic_load(&cready) < cnt)
			sched_yield();
		atomic_store(&cready, 0);
		atomic_store(&cdone, 0);
		atomic_fetch_add(&cgen, 1);  // go
		long spins = 0;
		while (atomic_load(&cdone) < cnt) {
			if (++spins > 20000)
				usleep(100);
			else
				sched_yield();
			long long t = now_ns();
			for (int i = 0; i < cnt; i++) {
				long long s = atomic_load(&cth[i].since);
				if (s && t - s > 2000000000LL) {
					printf("R LIVELOCK %d %d %ld\n", i, atomic_load(&cth[i].cur), it);
					fflush(stdout);
					_exit(3);  // the fatal signal ends the kernel's loop
				}
			}
		}
		int hit = 0;
		for (int i = 0; i < cnt; i++)
			for (int j = 0; j < cth[i].nops; j++) {
				if (it == 1)
					memcpy(first[i][j], cth[i].res[j], sizeof first[i][j]);
				if (stop < 0) {
					if (strcmp(first[i][j], cth[i].res[j]))
						hit = 1;
				} else if (cth[i].ops[j].kind == 'M' && cth[i].res[j][0] != '0') {
					int e = atoi(strchr(cth[i].res[j], ':') + 1);
					if (!stop || e == stop)
						hit = 1;
				}
			}
		if (hit || it >= repeat)
			break;
		if (rebuild_regions()) {
			printf("R rebuild-failed %d\n", errno);
			exit(2);
		}
	}
	while (atomic_load(&cready) < cnt)
		sched_yield();
	atomic_store(&cquit, 1);
	atomic_fetch_add(&cgen, 1);
	for (int i = 0; i < cnt; i++)
		pthread_join(cth[i].th, NULL);
	printf("R %ld ", it);
	for (int i = 0; i < cnt; i++) {
		for (int j = 0; j < cth[i].nops; j++)
			printf("%s%s", j ? "," : "", cth[i].res[j]);
		printf("%s", i + 1 < cnt ? "|" : "\n");
	}
}

static void values(void)
{
	printf("R");
	int first = 1;
	for (int r = 0; r < nreg; r++)
		for (int i = 0; i < pages; i++) {
			long addr = 16 + 16L * r + i;
			if (pagemap_entry(0, addr) >> 63 & 1) {
				printf("%s%ld=%d", first ? " " : ",", addr,
				       *(volatile unsigned char *)KADDR(addr));
				first = 0;
			}
		}
	printf(first ? " -\n" : "\n");
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: harness NREG PAGES UFFDMASK CPU INIT KEEPERS\n");
		return 2;
	}
	nreg = atoi(argv[1]);
	pages = atoi(argv[2]);
	uffdmask = (unsigned)strtoul(argv[3], NULL, 0);
	int cpu = atoi(argv[4]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set)) {
			printf("error sched_setaffinity %d\n", errno);
			return 2;
		}
	}
	kpagecount_fd = open("/proc/kpagecount", O_RDONLY);
	kpageflags_fd = open("/proc/kpageflags", O_RDONLY);
	if (kpagecount_fd < 0 || kpageflags_fd < 0) {
		printf("error kpage %d\n", errno);
		return 2;
	}
	char *res = mmap(NULL, (nreg + 3) * PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			 -1, 0);
	if (res == MAP_FAILED) {
		printf("error mmap %d\n", errno);
		return 2;
	}
	base = (char *)(((uintptr_t)res + PMD - 1) & ~(PMD - 1));
	int keepers = atoi(argv[6]);
	init_arg = argv[5];
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE_ };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || !(api.features & UFFD_FEATURE_MOVE_)) {
		printf("error userfaultfd/UFFD_FEATURE_MOVE %d\n", errno);
		return 2;
	}
	for (int i = 0; i < nreg; i++) {
		char *a = KADDR(16 + 16L * i);
		if (keepers) {
			char *k = KADDR(16 + 16L * i + 6);
			if (mmap(k, PG, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != k) {
				printf("error mmap keeper %d %d\n", i, errno);
				return 2;
			}
			madvise(k, PG, MADV_NOHUGEPAGE);
			*(volatile char *)k = 1;
		}
		if (mmap(a, pages * PG, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != a) {
			printf("error mmap region %d %d\n", i, errno);
			return 2;
		}
		madvise(a, pages * PG, MADV_NOHUGEPAGE);
	}
	for (char *s = argv[5]; *s && *s != '-';) {
		char *end;
		long addr = strtol(s, &end, 10);
		if (*end != '=' || region_of(addr) < 0) {
			printf("error init %s\n", s);
			return 2;
		}
		long v = strtol(end + 1, &end, 10);
		*(volatile unsigned char *)KADDR(addr) = (unsigned char)v;
		s = *end == ',' ? end + 1 : end;
	}
	for (int i = 0; i < nreg; i++) {
		char *a = KADDR(16 + 16L * i);
		if (uffdmask >> i & 1) {
			struct uffdio_register reg = {
				.range = { (uintptr_t)a, pages * PG },
				.mode = UFFDIO_REGISTER_MODE_MISSING,
			};
			if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
				printf("error register %d\n", errno);
				return 2;
			}
		}
	}
	printf("ready %d\n", getpid());
	char line[256], out[256];
	while (fgets(line, sizeof line, stdin)) {
		long a = 0, b = 0, c = 0, d = 0;
		int mm = 0;
		out[0] = 0;
		switch (line[0]) {
		case 'M':
			if (sscanf(line + 1, "%ld %ld %ld %ld", &a, &b, &c, &d) == 4) {
				struct uffdio_move_ m = { (uintptr_t)KADDR(a),
							  (uintptr_t)KADDR(b), c * PG,
							  (uint64_t)d, NOT_WRITTEN };
				int rc = ioctl(uffd, UFFDIO_MOVE_, &m);
				int e = rc ? errno : 0;
				long long mv = m.move;
				if (mv == NOT_WRITTEN)
					snprintf(out, sizeof out, "R %d %d none", rc, e);
				else
					snprintf(out, sizeof out, "R %d %d %lld", rc, e,
						 mv > 0 ? mv / (long long)PG : mv);  // pages, as the model
			}
			break;
		case 'W':
		case 'L':
			if (line[0] == 'W' ? sscanf(line + 1, "%d %ld %ld", &mm, &a, &b) == 3
					   : sscanf(line + 1, "%d %ld", &mm, &a) == 2) {
				if (mm == 0) {
					do_access(line[0], a, (int)b, out, sizeof out, 1);
				} else {
					char cmd[64];
					if (line[0] == 'W')
						snprintf(cmd, sizeof cmd, "W %ld %ld\n", a, b);
					else
						snprintf(cmd, sizeof cmd, "L %ld\n", a);
					to_child(mm, cmd, out, sizeof out);
				}
			}
			break;
		case 'A':
			if (sscanf(line + 1, "%d %ld %ld %ld", &mm, &a, &b, &c) == 4) {
				if (mm == 0) {
					do_madvise(a, b, (int)c, out, sizeof out);
				} else {
					char cmd[64];
					snprintf(cmd, sizeof cmd, "A %ld %ld %ld\n", a, b, c);
					to_child(mm, cmd, out, sizeof out);
				}
			}
			break;
		case 'F':
			if (sscanf(line + 1, "%d", &mm) == 1 && mm > 0 && mm < MAXCHILD &&
			    !kids[mm].pid) {
				int p1[2], p2[2];
				if (pipe(p1) || pipe(p2)) {
					snprintf(out, sizeof out, "R pipe-failed");
					break;
				}
				fflush(stdout);
				int pid = fork();
				if (pid == 0) {
					close(p1[1]);
					close(p2[0]);
					close(uffd);
					for (int i = 1; i < MAXCHILD; i++)
						if (kids[i].pid) {
							close(kids[i].to);
							close(kids[i].from);
						}
					child_loop(p1[0], p2[1]);
				}
				close(p1[0]);
				close(p2[1]);
				if (pid < 0) {
					snprintf(out, sizeof out, "R fork-failed %d", errno);
					break;
				}
				kids[mm] = (struct child){ pid, p1[1], p2[0] };
				snprintf(out, sizeof out, "R %d", mm);
			} else {
				snprintf(out, sizeof out, "R child-exists");
			}
			break;
		case 'X':
			if (sscanf(line + 1, "%d", &mm) == 1 && mm > 0 && mm < MAXCHILD &&
			    kids[mm].pid) {
				if (write(kids[mm].to, "X\n", 2) < 0)
					kill(kids[mm].pid, SIGKILL);
				waitpid(kids[mm].pid, NULL, 0);
				close(kids[mm].to);
				close(kids[mm].from);
				kids[mm].pid = 0;
				snprintf(out, sizeof out, "R 0");
			} else {
				snprintf(out, sizeof out, "R no-mm");
			}
			break;
		case 'S':
			state();
			continue;
		case 'V':
			values();
			continue;
		case 'K': {
			static char spec[sizeof line];
			int stop = 0;
			if (sscanf(line + 1, "%ld %d %255s", &a, &stop, spec) == 3 && a >= 1) {
				concurrent(a, stop, spec);
				continue;
			}
			break;
		}
		case 'Q':
			kill_children();
			return 0;
		}
		if (!out[0])
			snprintf(out, sizeof out, "R bad-command");
		printf("%s\n", out);
	}
	kill_children();
	return 0;
}
