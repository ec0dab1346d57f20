// SPDX-License-Identifier: GPL-2.0-only
/*
 * ABI handshake and a self-test that proves ctypes arrays cross the boundary.
 */
#include <stddef.h>

#include "fuzzlock.h"

int fl_abi_version(void)
{
	return FL_ABI_VERSION;
}

unsigned long long fl_schema_hash(void)
{
	return FL_SCHEMA_HASH;
}

/*
 * fl_selftest_sum - sum @n longs at @v.
 *
 * Returns 0 for @n <= 0 or a NULL @v.  The caller guarantees the sum fits in a
 * long (fuzzlock/native/abi.py checks before calling).
 */
long fl_selftest_sum(const long *v, int n)
{
	long sum = 0;
	int i;

	if (!v || n <= 0)
		return 0;
	for (i = 0; i < n; i++)
		sum += v[i];
	return sum;
}
