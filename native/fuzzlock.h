/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fuzzlock native backend: the C port of fuzzlock/model/, loaded with ctypes by
 * fuzzlock/native.py.  Every exported function is declared here and given
 * argtypes/restype there.
 */
#ifndef FUZZLOCK_H
#define FUZZLOCK_H

/*
 * Bumped whenever an exported signature or a shared structure layout changes;
 * fuzzlock/native.py refuses a library whose version differs from its own.
 */
#define FL_ABI_VERSION 1

int fl_abi_version(void);
long fl_selftest_sum(const long *v, int n);

#endif /* FUZZLOCK_H */
