// The completion backend (io_uring): the only file pair that calls io_uring_* (uring.cc). It
// owns the ring, the provided-buffer ring that multishot receives fill, and per fd the list of
// buffers received and not yet consumed. What a completion means is the core's business
// (loop.cc, "The io_uring backend"): the core arms, sends and cancels through this class, reaps
// completions in batches, and reads received bytes through take(), the same seam its read
// paths use for ::recv under epoll.
//
// Built only when liburing's development files are installed (binding.gyp: c1m_uring, define
// C1M_URING). Without it the class still exists and open() fails with ENOSYS, so the core has
// one code path and a uring listener on such a build is a clear error, not a missing symbol.
//
// Kernel state: each armed multishot receive holds a request in the ring (and a reference on its
// socket) for as long as it is armed; a send holds its buffer, which this class never moves or
// frees before the send's completion (the core keeps it in the slot's `out`, see loop.cc).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef C1M_URING
#include <liburing.h>
#endif

namespace c1m {

struct ByteBuf;

class UringBackend {
 public:
  // The ring's sizes: fixed, exported to JS (uringSizes) and counted in engineBytes.
  static constexpr unsigned kSqEntries = 4096;        // submission slots; a full queue is submitted early
  static constexpr unsigned kCqEntries = 16384;       // completion slots (the kernel keeps overflow, NODROP)
  static constexpr unsigned kBuffers = 8192;          // provided receive buffers (a power of two, at most 32768)
  static constexpr unsigned kBufferBytes = 4096;      // bytes of each (32 MiB in all, mmap'd: pages are touched as used)
  // Received buffers a connection may hold before its multishot receive is cancelled (re-armed
  // once they are read), so the rest waits in the kernel's socket buffer, as under epoll, instead
  // of one peer emptying the shared ring: kHoldCap while it is read (its round budget, 256 KiB,
  // may leave some for next round), kHoldPaused while it is not (paused, ending, doomed).
  static constexpr uint16_t kHoldCap = 64;
  static constexpr uint16_t kHoldPaused = 4;

  // What a completion's tag says: the op kind rides in the top byte, fd + generation below.
  enum Op : uint8_t { kOpAccept = 1, kOpRecv = 2, kOpSend = 3, kOpCancel = 4 };
  static uint64_t make_tag(Op op, uint64_t conn_tag) { return conn_tag | (uint64_t(op) << 56); }
  static Op tag_op(uint64_t t) { return Op(t >> 56); }
  static uint64_t tag_conn(uint64_t t) { return t & ((uint64_t(1) << 56) - 1); }

  struct Completion {
    uint64_t tag;
    int32_t res;
    uint32_t flags;  // IORING_CQE_F_* (more, buffer id in the high half)
  };

  // Per fd receive state (24 bytes, only meaningful for fds on the ring).
  struct Conn {
    uint16_t head = kNone;  // oldest held buffer
    uint16_t tail = kNone;  // newest held buffer
    uint16_t held = 0;      // buffers held
    uint8_t state = 0;      // kArmed | kEof | kCancelling | kTouched | kSending | kShort
    uint8_t flight_reap = 0;  // the low byte of Loop's reap count when the send in flight was queued
    uint16_t head_off = 0;  // bytes of the head buffer already consumed (< kBufferBytes)
    int16_t err = 0;        // an error (errno) the receive ended with, reported after the held bytes
    uint32_t epoch = 0;     // submit_epoch() when a request naming this fd was last queued
    ByteBuf* more = nullptr;  // bytes written while a send is in flight (see Loop::uring_send)
  };
  static_assert(sizeof(Conn) == 24);
  // kShort: the send in flight came back short once (the socket was full): its rest is queued in
  // epoll's sense, what maxQueuedBytes and highWaterMark bound (see Loop::uring_backlog).
  enum : uint8_t { kArmed = 1, kEof = 2, kCancelling = 4, kTouched = 8, kSending = 16, kShort = 32 };
  static constexpr uint16_t kNone = 0xffff;

  // Sets up a small ring and a buffer ring and tears them down: 0 when this kernel and build can
  // run the backend, else -errno (-ENOSYS: built without liburing).
  static int probe();

  // Sets up the ring and the buffer ring; counts io_uring_enter calls in *enters. 0 or -errno.
  int open(uint64_t* enters);
  // Cancels every request synchronously (bounded), then tears the ring down. Safe when not open.
  void close();
  bool is_open() const { return fd_ >= 0; }
  // The fd Node's loop watches (one uv_poll_t, readable): readable while completions wait.
  int watch_fd() const { return fd_; }
  // True when the ring runs its completions' task work cooperatively (COOP_TASKRUN, see setup_ring).
  bool coop_taskrun() const { return coop_; }

  // Per-fd state: valid for fd < size after reserve(fd).
  void reserve(size_t fd);
  Conn& conn(uint32_t fd) { return conns_[fd]; }
  const Conn& conn_const(uint32_t fd) const { return conns_[fd]; }

  // Queue requests (submitted by submit(), or early when the submission queue is full).
  void arm_accept(int fd, uint64_t conn_tag);
  void arm_recv(int fd, uint64_t conn_tag);
  void send(int fd, uint64_t conn_tag, const uint8_t* p, size_t n);
  // Cancels the request with this tag (its completion says -ECANCELED); success is not reported.
  void cancel(uint64_t tag);
  // Submits what is queued: one io_uring_enter, or none when nothing is. Returns what it submitted or -errno.
  int submit();
  // Requests queued and not yet submitted.
  unsigned pending() const;
  // True while a request that names fd by number is queued and not yet submitted: closing the fd
  // then would let the kernel resolve the number to whatever reuses it (cancels name a tag, not an fd).
  bool names_fd(uint32_t fd) const { return fd < conns_.size() && conns_[fd].epoch == epoch_ && pending() > 0; }

  // Copies up to max completions into out and consumes them from the ring (no syscall unless
  // the kernel flagged an overflow). Returns the count.
  unsigned reap(Completion* out, unsigned max);

  // Receive buffers. hold() appends a completed buffer to fd's list; take() copies up to `want`
  // bytes of fd's held buffers into dst, in order, returning each buffer to the ring once it is
  // used up; release() returns all of fd's buffers (its connection closed). give_back() returns
  // a buffer no connection will read (a stale completion).
  void hold(uint32_t fd, uint16_t bid, uint32_t len);
  size_t take(uint32_t fd, uint8_t* dst, size_t want);
  void release(uint32_t fd);
  void give_back(uint16_t bid);
  // Bytes received and held for fd.
  size_t held_bytes(uint32_t fd) const;

  // User-space bytes this backend holds (buffers, the buffer ring, per-fd state), in malloc/mmap terms.
  uint64_t memory_bytes() const;
  // Buffers currently held by connections (not in the kernel's ring).
  unsigned buffers_held() const { return held_total_; }

 private:
  int fd_ = -1;
  bool coop_ = false;
  uint64_t* enters_ = nullptr;
  std::vector<Conn> conns_;
  std::vector<uint32_t> len_;   // bytes in each buffer (set when it completes)
  std::vector<uint16_t> next_;  // the held list's links
  uint8_t* bufs_ = nullptr;     // kBuffers * kBufferBytes, mmap'd (untouched pages cost nothing)
  unsigned held_total_ = 0;
  uint32_t epoch_ = 1;  // bumped by every submit
#ifdef C1M_URING
  io_uring ring_{};
  io_uring_buf_ring* br_ = nullptr;
  io_uring_sqe* sqe();
#endif
};

}  // namespace c1m
