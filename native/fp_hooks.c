// SPDX-License-Identifier: GPL-2.0-only
/*
 * libfuzzlock_native_fp.so only: the entry points gcc's -fsanitize=thread
 * instrumentation calls, implemented here instead of by libtsan, and wrappers
 * of the libc functions that read or write memory on behalf of instrumented
 * code (linked with -Wl,--wrap=NAME, instrumented objects built with
 * -fno-builtin so that gcc neither inlines nor synthesizes them unseen).  Each
 * hands the access to the footprint recorder of the step being recorded
 * (footprint.h); with no step recorded it returns at once.  This file must not
 * be instrumented.
 *
 * Formatting functions record what they write; the strings their %s
 * arguments point at are not recorded (model code formats only names and
 * messages, which cells.c leaves out).  The fp library is linked
 * with -z defs, so a hook that instrumented code needs and this file lacks
 * fails the build; tests/native/test_footprints.py checks that every libc
 * function the library imports is one of the wrapped or harmless ones.  The
 * hooks are hidden: calls bind inside the library (no PLT), and a libtsan
 * loaded into the process cannot take them over.
 */
#ifdef FL_FOOTPRINT

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "footprint.h"

#define FL_HOOK	__attribute__((visibility("hidden")))

static inline void fl_hook(const void *addr, size_t n, unsigned int rw)
{
	struct fl_fp *fp = fl_fp_active;

	if (__builtin_expect(fp != NULL, 0))
		fl_fp_mem(fp, addr, n, rw);
}

/* --- plain accesses ---------------------------------------------------------------- */

#define FL_ACCESS_HOOKS(n)							\
	FL_HOOK void __tsan_read##n(void *a) { fl_hook(a, n, FL_FP_READ); }	\
	FL_HOOK void __tsan_write##n(void *a) { fl_hook(a, n, FL_FP_WRITE); }	\
	FL_HOOK void __tsan_unaligned_read##n(void *a) { fl_hook(a, n, FL_FP_READ); } \
	FL_HOOK void __tsan_unaligned_write##n(void *a) { fl_hook(a, n, FL_FP_WRITE); } \
	FL_HOOK void __tsan_volatile_read##n(void *a) { fl_hook(a, n, FL_FP_READ); } \
	FL_HOOK void __tsan_volatile_write##n(void *a) { fl_hook(a, n, FL_FP_WRITE); }

void __tsan_read1(void *a);
void __tsan_write1(void *a);
void __tsan_unaligned_read1(void *a);
void __tsan_unaligned_write1(void *a);
void __tsan_volatile_read1(void *a);
void __tsan_volatile_write1(void *a);
FL_ACCESS_HOOKS(1)
void __tsan_read2(void *a);
void __tsan_write2(void *a);
void __tsan_unaligned_read2(void *a);
void __tsan_unaligned_write2(void *a);
void __tsan_volatile_read2(void *a);
void __tsan_volatile_write2(void *a);
FL_ACCESS_HOOKS(2)
void __tsan_read4(void *a);
void __tsan_write4(void *a);
void __tsan_unaligned_read4(void *a);
void __tsan_unaligned_write4(void *a);
void __tsan_volatile_read4(void *a);
void __tsan_volatile_write4(void *a);
FL_ACCESS_HOOKS(4)
void __tsan_read8(void *a);
void __tsan_write8(void *a);
void __tsan_unaligned_read8(void *a);
void __tsan_unaligned_write8(void *a);
void __tsan_volatile_read8(void *a);
void __tsan_volatile_write8(void *a);
FL_ACCESS_HOOKS(8)
void __tsan_read16(void *a);
void __tsan_write16(void *a);
void __tsan_unaligned_read16(void *a);
void __tsan_unaligned_write16(void *a);
void __tsan_volatile_read16(void *a);
void __tsan_volatile_write16(void *a);
FL_ACCESS_HOOKS(16)

void __tsan_read_range(void *a, unsigned long n);
void __tsan_write_range(void *a, unsigned long n);

FL_HOOK void __tsan_read_range(void *a, unsigned long n)
{
	fl_hook(a, n, FL_FP_READ);
}

FL_HOOK void __tsan_write_range(void *a, unsigned long n)
{
	fl_hook(a, n, FL_FP_WRITE);
}

/* --- bookkeeping the recorder does not need ---------------------------------------- */

void __tsan_init(void);
void __tsan_func_entry(void *pc);
void __tsan_func_exit(void);
void __tsan_vptr_update(void **vptr, void *val);
void __tsan_vptr_read(void **vptr);

FL_HOOK void __tsan_init(void)
{
}

FL_HOOK void __tsan_func_entry(void *pc)
{
	(void)pc;
}

FL_HOOK void __tsan_func_exit(void)
{
}

FL_HOOK void __tsan_vptr_update(void **vptr, void *val)
{
	(void)val;
	fl_hook(vptr, sizeof(*vptr), FL_FP_WRITE);
}

FL_HOOK void __tsan_vptr_read(void **vptr)
{
	fl_hook(vptr, sizeof(*vptr), FL_FP_READ);
}

/* --- atomics: performed sequentially consistent, recorded as accesses ------------- */

#define FL_RMW(bits, T, op, builtin)						\
	T __tsan_atomic##bits##_##op(volatile T *a, T v, int mo);		\
	FL_HOOK T __tsan_atomic##bits##_##op(volatile T *a, T v, int mo)	\
	{									\
		(void)mo;							\
		fl_hook((const void *)a, sizeof(T), FL_FP_READ | FL_FP_WRITE);	\
		return builtin(a, v, __ATOMIC_SEQ_CST);				\
	}

#define FL_ATOMICS(bits, T)							\
	T __tsan_atomic##bits##_load(const volatile T *a, int mo);		\
	FL_HOOK T __tsan_atomic##bits##_load(const volatile T *a, int mo)	\
	{									\
		(void)mo;							\
		fl_hook((const void *)a, sizeof(T), FL_FP_READ);		\
		return __atomic_load_n(a, __ATOMIC_SEQ_CST);			\
	}									\
	void __tsan_atomic##bits##_store(volatile T *a, T v, int mo);		\
	FL_HOOK void __tsan_atomic##bits##_store(volatile T *a, T v, int mo)	\
	{									\
		(void)mo;							\
		fl_hook((const void *)a, sizeof(T), FL_FP_WRITE);		\
		__atomic_store_n(a, v, __ATOMIC_SEQ_CST);			\
	}									\
	FL_RMW(bits, T, exchange, __atomic_exchange_n)				\
	FL_RMW(bits, T, fetch_add, __atomic_fetch_add)				\
	FL_RMW(bits, T, fetch_sub, __atomic_fetch_sub)				\
	FL_RMW(bits, T, fetch_and, __atomic_fetch_and)				\
	FL_RMW(bits, T, fetch_or, __atomic_fetch_or)				\
	FL_RMW(bits, T, fetch_xor, __atomic_fetch_xor)				\
	FL_RMW(bits, T, fetch_nand, __atomic_fetch_nand)			\
	int __tsan_atomic##bits##_compare_exchange_strong(volatile T *a, T *c, T v, \
							  int mo, int fmo);	\
	FL_HOOK int __tsan_atomic##bits##_compare_exchange_strong(volatile T *a, T *c, \
								  T v, int mo, int fmo) \
	{									\
		(void)mo;							\
		(void)fmo;							\
		fl_hook((const void *)a, sizeof(T), FL_FP_READ | FL_FP_WRITE);	\
		return __atomic_compare_exchange_n(a, c, v, 0, __ATOMIC_SEQ_CST,	\
						   __ATOMIC_SEQ_CST);		\
	}									\
	int __tsan_atomic##bits##_compare_exchange_weak(volatile T *a, T *c, T v, \
							int mo, int fmo);	\
	FL_HOOK int __tsan_atomic##bits##_compare_exchange_weak(volatile T *a, T *c, \
								T v, int mo, int fmo) \
	{									\
		return __tsan_atomic##bits##_compare_exchange_strong(a, c, v, mo, fmo); \
	}									\
	T __tsan_atomic##bits##_compare_exchange_val(volatile T *a, T c, T v, int mo, \
						     int fmo);			\
	FL_HOOK T __tsan_atomic##bits##_compare_exchange_val(volatile T *a, T c, T v, \
							     int mo, int fmo)	\
	{									\
		__tsan_atomic##bits##_compare_exchange_strong(a, &c, v, mo, fmo);	\
		return c;							\
	}

FL_ATOMICS(8, unsigned char)
FL_ATOMICS(16, unsigned short)
FL_ATOMICS(32, unsigned int)
FL_ATOMICS(64, unsigned long)

void __tsan_atomic_thread_fence(int mo);
void __tsan_atomic_signal_fence(int mo);

FL_HOOK void __tsan_atomic_thread_fence(int mo)
{
	(void)mo;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

FL_HOOK void __tsan_atomic_signal_fence(int mo)
{
	(void)mo;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* --- libc (-Wl,--wrap=NAME) --------------------------------------------------------- */

void *__real_memcpy(void *d, const void *s, size_t n);
void *__real_memmove(void *d, const void *s, size_t n);
void *__real_memset(void *d, int c, size_t n);
size_t __real_strlen(const char *s);
int __real_strcmp(const char *a, const char *b);
int __real_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

void *__wrap_memcpy(void *d, const void *s, size_t n);
void *__wrap_memmove(void *d, const void *s, size_t n);
void *__wrap_memset(void *d, int c, size_t n);
size_t __wrap_strlen(const char *s);
int __wrap_strcmp(const char *a, const char *b);
int __wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int __wrap_snprintf(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

FL_HOOK void *__wrap_memcpy(void *d, const void *s, size_t n)
{
	fl_hook(s, n, FL_FP_READ);
	fl_hook(d, n, FL_FP_WRITE);
	return __real_memcpy(d, s, n);
}

FL_HOOK void *__wrap_memmove(void *d, const void *s, size_t n)
{
	fl_hook(s, n, FL_FP_READ);
	fl_hook(d, n, FL_FP_WRITE);
	return __real_memmove(d, s, n);
}

FL_HOOK void *__wrap_memset(void *d, int c, size_t n)
{
	fl_hook(d, n, FL_FP_WRITE);
	return __real_memset(d, c, n);
}

FL_HOOK size_t __wrap_strlen(const char *s)
{
	size_t n = __real_strlen(s);

	fl_hook(s, n + 1, FL_FP_READ);
	return n;
}

FL_HOOK int __wrap_strcmp(const char *a, const char *b)
{
	fl_hook(a, __real_strlen(a) + 1, FL_FP_READ);
	fl_hook(b, __real_strlen(b) + 1, FL_FP_READ);
	return __real_strcmp(a, b);
}

FL_HOOK int __wrap_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	int r = __real_vsnprintf(buf, n, fmt, ap);

	if (r >= 0 && n)
		fl_hook(buf, (size_t)r + 1 < n ? (size_t)r + 1 : n, FL_FP_WRITE);
	return r;
}

FL_HOOK int __wrap_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = __wrap_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

#endif /* FL_FOOTPRINT */
