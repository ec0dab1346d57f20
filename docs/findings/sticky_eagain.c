// Live check of the model's "sticky -EAGAIN" finding in move_pages (v6.18/v6.19):
// a UFFDIO_MOVE racing with MADV_COLD (which clears the src PTE's young bit between
// move_pages_ptes' read of the src PTE and its recheck under double_pt_lock) retries
// internally, moves the page, and then returns EEXIST.
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
#include <unistd.h>

#define PG 4096UL
struct uffdio_move_ { uint64_t dst, src, len, mode; int64_t move; };
#define UFFDIO_MOVE_ 0xc028aa05UL
#ifndef MADV_COLD
#define MADV_COLD 20
#endif

static char *base;
static volatile int stop;

static void *coldener(void *arg)
{
	(void)arg;
	while (!stop)
		madvise(base, 2 * PG, MADV_COLD);
	return NULL;
}

static int present(int fd, void *addr)
{
	uint64_t e = 0;
	pread(fd, &e, 8, ((uintptr_t)addr / PG) * 8);
	return (e >> 63) & 1;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 200000;
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = { .api = UFFD_API, .features = 1 << 16 };
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) { perror("uffd"); return 2; }
	base = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(base, 2 * PG, MADV_NOHUGEPAGE);
	memset(base, 0x5a, PG);
	struct uffdio_register reg = { .range = { (uintptr_t)base, 2 * PG },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) { perror("register"); return 2; }
	pthread_t t;
	pthread_create(&t, NULL, coldener, NULL);
	long ok = 0, eexist_moved = 0, eexist = 0, other = 0;
	char *from = base, *to = base + PG;
	for (long i = 0; i < iters; i++) {
		struct uffdio_move_ m = { (uintptr_t)to, (uintptr_t)from, PG, 0, 0 };
		int rc = ioctl(uffd, UFFDIO_MOVE_, &m);
		int e = errno;
		int moved = present(pm, to) && !present(pm, from);
		if (rc == 0) {
			ok++;
		} else if (e == EEXIST && moved) {
			eexist_moved++;
			if (eexist_moved <= 3)
				printf("iteration %ld: UFFDIO_MOVE returned EEXIST (move = %lld) "
				       "but the page moved %p -> %p\n", i, (long long)m.move, from, to);
		} else if (e == EEXIST) {
			eexist++;
		} else {
			other++;
			if (other <= 3)
				fprintf(stderr, "rc %d errno %d move %lld moved %d\n", rc, e,
					(long long)m.move, moved);
		}
		if (present(pm, to) && !present(pm, from)) {
			char *x = from; from = to; to = x;
		}
		if (*(volatile unsigned char *)from != 0x5a) { printf("data lost!\n"); break; }
	}
	stop = 1;
	pthread_join(t, NULL);
	printf("iterations %ld: ok %ld, EEXIST-but-moved %ld, EEXIST %ld, other %ld\n",
	       iters, ok, eexist_moved, eexist, other);
	return eexist_moved ? 1 : 0;
}
