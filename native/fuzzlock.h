/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * fuzzlock native backend: the C port of fuzzlock/model/, loaded with ctypes by
 * fuzzlock/native/.  Every exported function, shared structure, enum and limit
 * is declared in fuzzlock_schema.h, generated from fuzzlock/schema.py.
 *
 * FL_ABI_VERSION and FL_SCHEMA_HASH (generated too) are what fl_abi_version()
 * and fl_schema_hash() return; fuzzlock/native/abi.py refuses a library whose
 * values differ from its own.
 */
#ifndef FUZZLOCK_H
#define FUZZLOCK_H

#include "fuzzlock_schema.h"

#endif /* FUZZLOCK_H */
