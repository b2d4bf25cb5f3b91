// The io_uring backend (uring.h): ring setup and teardown, the provided-buffer ring, request
// preparation and reaping. The only file that calls io_uring_*.
#include "uring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "byte_buf.h"

namespace c1m {

#ifndef C1M_URING

int UringBackend::probe() { return -ENOSYS; }
int UringBackend::open(uint64_t*) { return -ENOSYS; }
void UringBackend::close() {}
void UringBackend::reserve(size_t) {}
void UringBackend::arm_accept(int, uint64_t) {}
void UringBackend::arm_recv(int, uint64_t) {}
void UringBackend::send(int, uint64_t, const uint8_t*, size_t) {}
void UringBackend::cancel(uint64_t) {}
int UringBackend::submit() { return 0; }
unsigned UringBackend::pending() const { return 0; }
unsigned UringBackend::reap(Completion*, unsigned) { return 0; }
void UringBackend::hold(uint32_t, uint16_t, uint32_t) {}
size_t UringBackend::take(uint32_t, uint8_t*, size_t) { return 0; }
void UringBackend::release(uint32_t) {}
void UringBackend::give_back(uint16_t) {}
size_t UringBackend::held_bytes(uint32_t) const { return 0; }
uint64_t UringBackend::memory_bytes() const { return 0; }

#else

namespace {

constexpr unsigned kBufGroup = 0;
constexpr size_t kBufRingBytes = UringBackend::kBuffers * sizeof(io_uring_buf);
constexpr size_t kBufBytes = size_t(UringBackend::kBuffers) * UringBackend::kBufferBytes;

// Completions of sockets (a multishot receive woken by arriving data) are posted by task work
// that runs in our thread. By default the kernel interrupts the thread for it wherever it is (an
// IPI, or the exit of whatever syscall it is in), so the receive runs while the data's softirq on
// the other CPU holds the socket's lock: measured with perf at http-hello depth 1 over 100
// connections, 10.9 % of the server's samples spun on that lock and 7.6 % were interrupt exits,
// and requests per server CPU-second were 148k against epoll's 216k. COOP_TASKRUN (5.19) lets the
// work wait for the thread's next entry into the kernel (libuv's epoll_wait wakes for it as
// before): 219k. DEFER_TASKRUN, the C reference's mode (it waits in io_uring_enter), does not fit
// a ring watched by libuv: under it the ring's fd never polls readable, and a registered eventfd
// woke epoll 8.7 ms (p50) after the data in a test program on this 6.18 kernel, against 8 µs for
// the ring's fd under COOP_TASKRUN. Older kernels get the plain ring. *coop says which.
int setup_ring(io_uring* ring, unsigned sq, unsigned cq, bool* coop) {
  io_uring_params p{};
  int r = -EINVAL;
  for (const unsigned extra : {unsigned(IORING_SETUP_COOP_TASKRUN), 0u}) {
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | extra;
    p.cq_entries = cq;
    r = io_uring_queue_init_params(sq, ring, &p);
    if (r == -EINVAL) continue;  // a kernel without the flag
    if (r < 0) return r;
    *coop = extra != 0;
    break;
  }
  if (r < 0) return r;
  // Multishot receive into provided buffers and the NODROP overflow are what the core relies on.
  if (!(p.features & IORING_FEAT_NODROP)) {
    io_uring_queue_exit(ring);
    return -EOPNOTSUPP;
  }
  return 0;
}

// Registers a buffer ring of `entries` at br (page-aligned memory). 0 or -errno.
int register_buf_ring(io_uring* ring, io_uring_buf_ring* br, unsigned entries) {
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(br);
  reg.ring_entries = entries;
  reg.bgid = kBufGroup;
  return io_uring_register_buf_ring(ring, &reg, 0);
}

}  // namespace

int UringBackend::probe() {
  io_uring ring{};
  bool coop = false;
  int r = setup_ring(&ring, 8, 16, &coop);
  if (r < 0) return r;
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    r = -errno;
  } else {
    r = register_buf_ring(&ring, static_cast<io_uring_buf_ring*>(mem), 8);
    if (r == 0) io_uring_unregister_buf_ring(&ring, kBufGroup);
    munmap(mem, 4096);
  }
  io_uring_queue_exit(&ring);
  return r;
}

int UringBackend::open(uint64_t* enters) {
  if (fd_ >= 0) return 0;
  int r = setup_ring(&ring_, kSqEntries, kCqEntries, &coop_);
  if (r < 0) return r;
  void* ringmem = mmap(nullptr, kBufRingBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* bufs = mmap(nullptr, kBufBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ringmem == MAP_FAILED || bufs == MAP_FAILED) {
    r = -errno;
    if (ringmem != MAP_FAILED) munmap(ringmem, kBufRingBytes);
    if (bufs != MAP_FAILED) munmap(bufs, kBufBytes);
    io_uring_queue_exit(&ring_);
    return r;
  }
  br_ = static_cast<io_uring_buf_ring*>(ringmem);
  bufs_ = static_cast<uint8_t*>(bufs);
  io_uring_buf_ring_init(br_);
  r = register_buf_ring(&ring_, br_, kBuffers);
  if (r < 0) {
    munmap(ringmem, kBufRingBytes);
    munmap(bufs, kBufBytes);
    br_ = nullptr;
    bufs_ = nullptr;
    io_uring_queue_exit(&ring_);
    return r;
  }
  const int mask = io_uring_buf_ring_mask(kBuffers);
  for (unsigned i = 0; i < kBuffers; ++i) io_uring_buf_ring_add(br_, bufs_ + size_t(i) * kBufferBytes, kBufferBytes, uint16_t(i), mask, int(i));
  io_uring_buf_ring_advance(br_, int(kBuffers));
  len_.assign(kBuffers, 0);
  next_.assign(kBuffers, kNone);
  held_total_ = 0;
  enters_ = enters;
  fd_ = ring_.ring_fd;
  return 0;
}

void UringBackend::close() {
  if (fd_ < 0) return;
  // Every request still holding a buffer or a socket is cancelled and waited for (bounded), so
  // no send reads memory the core frees after this returns.
  io_uring_sync_cancel_reg reg{};
  reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  reg.timeout.tv_sec = 1;
  reg.timeout.tv_nsec = 0;
  reg.fd = -1;
  io_uring_register_sync_cancel(&ring_, &reg);
  io_uring_unregister_buf_ring(&ring_, kBufGroup);
  io_uring_queue_exit(&ring_);
  munmap(br_, kBufRingBytes);
  munmap(bufs_, kBufBytes);
  br_ = nullptr;
  bufs_ = nullptr;
  for (Conn& c : conns_) {
    bytebuf_free(c.more);
    c = Conn{};
  }
  fd_ = -1;
}

void UringBackend::reserve(size_t fd) {
  if (fd < conns_.size()) return;
  conns_.resize(std::max(fd + 1024, conns_.size() * 3 / 2));
}

io_uring_sqe* UringBackend::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (s) return s;
  // The submission queue is full: submit it now (one more io_uring_enter, counted) and go on.
  submit();
  return io_uring_get_sqe(&ring_);
}

void UringBackend::arm_accept(int fd, uint64_t conn_tag) {
  io_uring_sqe* s = sqe();
  if (!s) return;
  io_uring_prep_multishot_accept(s, fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, make_tag(kOpAccept, conn_tag));
  conns_[uint32_t(fd)].epoch = epoch_;
}

void UringBackend::arm_recv(int fd, uint64_t conn_tag) {
  io_uring_sqe* s = sqe();
  if (!s) return;
  io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufGroup;
  io_uring_sqe_set_data64(s, make_tag(kOpRecv, conn_tag));
  conns_[uint32_t(fd)].state |= kArmed;
  conns_[uint32_t(fd)].epoch = epoch_;
}

void UringBackend::send(int fd, uint64_t conn_tag, const uint8_t* p, size_t n) {
  io_uring_sqe* s = sqe();
  if (!s) return;
  io_uring_prep_send(s, fd, p, n > 0x7fffffff ? 0x7fffffff : n, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, make_tag(kOpSend, conn_tag));
  conns_[uint32_t(fd)].epoch = epoch_;
}

void UringBackend::cancel(uint64_t tag) {
  io_uring_sqe* s = sqe();
  if (!s) return;
  io_uring_prep_cancel64(s, tag, 0);
  s->flags |= IOSQE_CQE_SKIP_SUCCESS;
  io_uring_sqe_set_data64(s, make_tag(kOpCancel, tag_conn(tag)));
}

int UringBackend::submit() {
  if (io_uring_sq_ready(&ring_) == 0) return 0;
  for (;;) {
    int r = io_uring_submit(&ring_);
    if (enters_) (*enters_)++;
    if (r == -EINTR) continue;
    epoch_++;
    return r;
  }
}

unsigned UringBackend::pending() const { return fd_ >= 0 ? io_uring_sq_ready(&ring_) : 0; }

unsigned UringBackend::reap(Completion* out, unsigned max) {
  io_uring_cqe* cqes[256];
  unsigned got = 0;
  while (got < max) {
    unsigned want = std::min<unsigned>(max - got, 256);
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, want);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) out[got + i] = Completion{cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    io_uring_cq_advance(&ring_, n);
    got += n;
    if (n < want) break;
  }
  return got;
}

void UringBackend::hold(uint32_t fd, uint16_t bid, uint32_t len) {
  Conn& c = conns_[fd];
  len_[bid] = len;
  next_[bid] = kNone;
  if (c.tail == kNone) {
    c.head = c.tail = bid;
    c.head_off = 0;
  } else {
    next_[c.tail] = bid;
    c.tail = bid;
  }
  c.held++;
  held_total_++;
}

void UringBackend::give_back(uint16_t bid) {
  io_uring_buf_ring_add(br_, bufs_ + size_t(bid) * kBufferBytes, kBufferBytes, bid, io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(br_, 1);
}

size_t UringBackend::take(uint32_t fd, uint8_t* dst, size_t want) {
  Conn& c = conns_[fd];
  size_t got = 0;
  while (got < want && c.head != kNone) {
    const uint16_t bid = c.head;
    const size_t avail = len_[bid] - c.head_off;
    const size_t n = std::min(avail, want - got);
    memcpy(dst + got, bufs_ + size_t(bid) * kBufferBytes + c.head_off, n);
    got += n;
    if (n < avail) {
      c.head_off = uint16_t(c.head_off + n);
      break;
    }
    c.head = next_[bid];
    if (c.head == kNone) c.tail = kNone;
    c.head_off = 0;
    c.held--;
    held_total_--;
    give_back(bid);
  }
  return got;
}

void UringBackend::release(uint32_t fd) {
  Conn& c = conns_[fd];
  while (c.head != kNone) {
    const uint16_t bid = c.head;
    c.head = next_[bid];
    held_total_--;
    give_back(bid);
  }
  c.tail = kNone;
  c.held = 0;
  c.head_off = 0;
}

size_t UringBackend::held_bytes(uint32_t fd) const {
  const Conn& c = conns_[fd];
  size_t n = 0;
  for (uint16_t b = c.head; b != kNone; b = next_[b]) n += len_[b];
  return n - c.head_off;
}

uint64_t UringBackend::memory_bytes() const {
  if (fd_ < 0) return heap_chunk(conns_.capacity() * sizeof(Conn));
  uint64_t b = heap_chunk(conns_.capacity() * sizeof(Conn)) + heap_chunk(len_.capacity() * 4) + heap_chunk(next_.capacity() * 2);
  // mmap'd, not malloc'd: the receive buffers and the ring that lends them to the kernel. (Bytes
  // queued behind a send in flight are ByteBufs, counted with the core's.)
  return b + kBufRingBytes + kBufBytes;
}

#endif

}  // namespace c1m
