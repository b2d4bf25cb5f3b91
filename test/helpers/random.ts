// Deterministic numbers for test data: the xorshift32 generator of the native self-test, bit for
// bit, and the same scaled to [0, 1).

/** Unsigned 32-bit values from xorshift32 (13, 17, 5), as native/tests/structs_selftest.cc draws them. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Numbers in [0, 1) from xorshift32. */
export function unitRandom(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 4294967296;
}
