// Live check of the model's prediction: two UFFDIO_MOVEs from the same src page, one with
// ALLOW_SRC_HOLES. If the hole-mode move gets an internal -EAGAIN (the other move changed
// the src PTE), every retry finds a hole and "moves" it (1 page), but move_pages' sticky
// err makes it go round at the same address forever: the ioctl never returns (until a
// fatal signal: cond_resched + fatal_signal_pending in the loop).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PG 4096UL
struct uffdio_move_ { uint64_t dst, src, len, mode; int64_t move; };
#define UFFDIO_MOVE_ 0xc028aa05UL

static char *base;
static int uffd;
static volatile long b_calls, a_calls;
static volatile int stop;

static int move(char *to, char *from, uint64_t mode)
{
	struct uffdio_move_ m = { (uintptr_t)to, (uintptr_t)from, PG, mode, 0 };
	return ioctl(uffd, UFFDIO_MOVE_, &m) ? -errno : (int)m.move;
}

static pthread_barrier_t go, done;

/* One round: the page is at src; A moves it to base+PG while B moves src -> base+2PG with
 * ALLOW_SRC_HOLES.  Both then wait; main puts the page back at src. */
static void *mover_a(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_barrier_wait(&go);
		if (stop)
			break;
		move(base + PG, base, 0);
		a_calls++;
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static void *mover_b(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_barrier_wait(&go);
		if (stop)
			break;
		move(base + 2 * PG, base, 2 /* ALLOW_SRC_HOLES */);
		b_calls++;
		pthread_barrier_wait(&done);
	}
	return NULL;
}

static volatile long rounds;

static void *rounder(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_barrier_wait(&go);
		pthread_barrier_wait(&done);
		/* put the page back at src from wherever it is */
		if (move(base, base + PG, 0) < 0)
			move(base, base + 2 * PG, 0);
		rounds++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int seconds = argc > 1 ? atoi(argv[1]) : 20;
	uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API, .features = 1 << 16 };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("uffd"); return 2; }
	base = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(base, 4 * PG, MADV_NOHUGEPAGE);
	memset(base, 0x5a, PG);
	struct uffdio_register reg = { .range = { (uintptr_t)base, 4 * PG },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 2; }
	pthread_t a, b, r;
	pthread_barrier_init(&go, NULL, 3);
	pthread_barrier_init(&done, NULL, 3);
	pthread_create(&a, NULL, mover_a, NULL);
	pthread_create(&b, NULL, mover_b, NULL);
	pthread_create(&r, NULL, rounder, NULL);
	long last = -1;
	int stuck = 0;
	for (int t = 0; t < seconds * 10; t++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		if (b_calls == last) {
			if (++stuck >= 30) {
				char cmd[256];
				snprintf(cmd, sizeof(cmd), "for t in /proc/%d/task/*; do echo $t state=$(cut -d' ' -f3 $t/stat) utime=$(cut -d' ' -f14 $t/stat) stime=$(cut -d' ' -f15 $t/stat); done", (int)getpid());
				if (system(cmd) < 0)
					perror("system");
				sleep(2);
				if (system(cmd) < 0)
					perror("system");
				printf("LIVELOCK: mover B has been inside one UFFDIO_MOVE (ALLOW_SRC_HOLES) for "
				       "3 s after %ld calls (mover A: %ld calls)\n", b_calls, a_calls);
				fflush(stdout);
				_exit(1);	/* the fatal signal ends the kernel loop (-EINTR) */
			}
		} else {
			stuck = 0;
			last = b_calls;
		}
	}
	printf("no livelock in %d s: mover A %ld calls, mover B %ld calls\n", seconds, a_calls, b_calls);
	_exit(0);
}
