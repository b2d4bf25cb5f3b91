// A growable byte queue (malloc-backed, no exceptions). Connections own one only while they
// hold a partial frame or unsent bytes; an idle connection owns none.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace c1m {

// Bytes glibc's malloc takes for a request of n bytes (its chunk: the size field, 16-byte
// alignment, a 32-byte minimum). The engine counts its memory in chunks, so its own figure can
// be checked against the allocator's (mallinfo2) and an allocation's overhead is not forgotten.
constexpr size_t heap_chunk(size_t n) { return n == 0 ? 0 : ((n + 8 + 15) & ~size_t(15)) < 32 ? 32 : ((n + 8 + 15) & ~size_t(15)); }

struct ByteBuf {
  uint8_t* data = nullptr;
  size_t head = 0;  // first unread byte
  size_t tail = 0;  // one past the last byte
  size_t cap = 0;
  size_t limit = 0;  // a pending unit's known total length (0: not known yet)
  // The owner's running total of heap bytes held by its buffers (nullptr: not counted). Every
  // change of cap moves it, so the engine's memory figure needs no scan.
  int64_t* acct = nullptr;

  size_t size() const { return tail - head; }
  bool empty() const { return tail == head; }
  const uint8_t* begin() const { return data + head; }

  // Makes room for `extra` more bytes at the tail; an empty buffer starts at `first` bytes (or
  // the power-of-two multiple of it that fits). Returns false when memory runs out.
  bool reserve(size_t extra, size_t first = 4096) {
    if (cap - tail >= extra) return true;
    size_t live = size();
    if (head > 0 && cap - live >= extra && head >= live) {
      // Slide instead of growing when the consumed prefix is at least as big as what is left.
      memmove(data, data + head, live);
      head = 0;
      tail = live;
      return true;
    }
    size_t want = live + extra;
    size_t ncap = cap ? cap : first;
    while (ncap < want) ncap *= 2;
    if (head > 0) {
      memmove(data, data + head, live);
      head = 0;
      tail = live;
    }
    auto* p = static_cast<uint8_t*>(realloc(data, ncap));
    if (!p) return false;
    if (acct) *acct += int64_t(heap_chunk(ncap)) - int64_t(heap_chunk(cap));
    data = p;
    cap = ncap;
    return true;
  }
  // Appends n bytes. Returns false when memory runs out (nothing is appended then).
  bool append(const void* src, size_t n) {
    if (!reserve(n)) return false;
    memcpy(data + tail, src, n);
    tail += n;
    return true;
  }
  // Drops n bytes from the head.
  void consume(size_t n) {
    head += n;
    if (head == tail) head = tail = 0;
  }
  // Frees the bytes (not the struct) and forgets them.
  void release() {
    if (acct) *acct -= int64_t(heap_chunk(cap));
    free(data);
    data = nullptr;
    head = tail = cap = limit = 0;
  }
};

// Allocates an empty ByteBuf counted in *acct (nullptr: uncounted); nullptr when memory runs out.
inline ByteBuf* bytebuf_new(int64_t* acct) {
  auto* b = static_cast<ByteBuf*>(calloc(1, sizeof(ByteBuf)));
  if (!b) return nullptr;
  b->acct = acct;
  if (acct) *acct += int64_t(heap_chunk(sizeof(ByteBuf)));
  return b;
}
// Frees a ByteBuf and its bytes; accepts nullptr.
inline void bytebuf_free(ByteBuf* b) {
  if (!b) return;
  b->release();
  if (b->acct) *b->acct -= int64_t(heap_chunk(sizeof(ByteBuf)));
  free(b);
}

}  // namespace c1m
