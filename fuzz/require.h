// The fuzz targets' invariant check: REQUIRE(cond) aborts with the target's name, the line and
// the condition ("<target> invariant broken at line N: cond", which scripts/fuzz.sh looks for).
// A target defines C1M_FUZZ_TARGET (its name) before including this.
#pragma once
#include <cstdio>
#include <cstdlib>

#ifndef C1M_FUZZ_TARGET
#error "define C1M_FUZZ_TARGET before including fuzz/require.h"
#endif

[[noreturn]] inline void fuzz_fail(const char* what, int line) {
  std::fprintf(stderr, "%s invariant broken at line %d: %s\n", C1M_FUZZ_TARGET, line, what);
  std::abort();
}

#define REQUIRE(cond) \
  do {                \
    if (!(cond)) fuzz_fail(#cond, __LINE__); \
  } while (0)
