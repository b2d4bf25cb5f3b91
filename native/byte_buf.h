// A growable byte queue (malloc-backed, no exceptions). Connections own one only while they
// hold a partial frame or unsent bytes; an idle connection owns none.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace c1m {

struct ByteBuf {
  uint8_t* data = nullptr;
  size_t head = 0;  // first unread byte
  size_t tail = 0;  // one past the last byte
  size_t cap = 0;
  size_t limit = 0;  // a pending unit's known total length (0: not known yet)

  size_t size() const { return tail - head; }
  bool empty() const { return tail == head; }
  const uint8_t* begin() const { return data + head; }

  // Makes room for `extra` more bytes at the tail. Returns false when memory runs out.
  bool reserve(size_t extra) {
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
    size_t ncap = cap ? cap : 4096;
    while (ncap < want) ncap *= 2;
    if (head > 0) {
      memmove(data, data + head, live);
      head = 0;
      tail = live;
    }
    auto* p = static_cast<uint8_t*>(realloc(data, ncap));
    if (!p) return false;
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
};

// Allocates an empty ByteBuf; nullptr when memory runs out.
inline ByteBuf* bytebuf_new() { return static_cast<ByteBuf*>(calloc(1, sizeof(ByteBuf))); }
// Frees a ByteBuf and its bytes; accepts nullptr.
inline void bytebuf_free(ByteBuf* b) {
  if (!b) return;
  free(b->data);
  free(b);
}

}  // namespace c1m
