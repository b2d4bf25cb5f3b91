// The C reference echo server on io_uring (contender `c-ref-uring`): the least a program can do to
// echo TCP with completions, the floor the engine's io_uring backend is compared with, as
// echo_server.cc is for epoll. One thread, one ring: a multishot accept on the listener, a
// multishot recv per connection into a ring of provided buffers, one send per received buffer,
// and one io_uring_enter per loop iteration (io_uring_submit_and_wait submits the round's SQEs
// and waits for the next completion). No JS, no Node, no allocation per message.
//
// Usage: c1m_ref_echo_uring HOST PORT BACKLOG COUNTERS_FILE [reuseport]
//        c1m_ref_echo_uring --probe
// The command line, counters file, "listening PORT" line and SIGTERM/SIGINT are ref_common.h's
// (shared with the epoll reference); EOF on stdin also ends it. --probe sets up what the server
// needs (the ring, a provided-buffer ring, the opcodes, a multishot accept and a multishot recv on
// loopback), prints "ok" or the first call that failed with its errno name, and exits 0 or 1.
//
// The rules it keeps:
// - A received buffer stays ours until its send completes, then goes back to the buffer ring.
//   A short send resubmits the rest. One send in flight per connection, the others queue behind
//   it in arrival order (two sends in flight on one socket could complete out of order).
// - A multishot recv that ends without IORING_CQE_F_MORE is re-armed: at once, or, when it ended
//   on ENOBUFS (the buffer ring was empty), once buffers have come back. A connection holding
//   kMaxQueuedPerConn buffers (its peer is not reading) has its recv cancelled and re-armed when
//   its queue has drained to half: a slow reader holds about kMaxQueuedPerConn buffers, not all.
// - A connection is closed (close(2)) only when none of its requests is in flight, so no
//   completion ever names a closed fd, and the fd cannot be reused under a pending request.

#include <liburing.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <vector>

#include "ref/ref_common.h"

namespace {

constexpr unsigned kSqEntries = 4096;
constexpr unsigned kCqEntries = 4 * kSqEntries;
constexpr unsigned kBufCount = 4096;  // provided buffers (a power of two, at most 32768)
constexpr unsigned kBufSize = 4096;   // bytes each: 16 MiB in all, the bound on what is held
constexpr unsigned kBufGroup = 0;
constexpr unsigned kMaxQueuedPerConn = 64;
constexpr int kNoBuf = -1;

using ref::Counters;

// user_data: kind in the top byte, the connection's generation in the next three, fd below.
enum Kind : uint64_t { kAccept = 1, kRecv, kSend, kStdin, kCancel };
uint64_t tag(Kind k, uint32_t gen, int fd) { return (uint64_t(k) << 56) | (uint64_t(gen & 0xffffff) << 32) | uint32_t(fd); }
Kind tag_kind(uint64_t u) { return Kind(u >> 56); }
uint32_t tag_gen(uint64_t u) { return uint32_t(u >> 32) & 0xffffff; }
int tag_fd(uint64_t u) { return int(uint32_t(u)); }

struct Conn {
  uint32_t gen = 0;
  int head = kNoBuf, tail = kNoBuf;  // queued buffers, oldest first (linked through g_next)
  uint32_t head_off = 0;             // bytes of the head buffer already sent
  uint32_t queued = 0;
  bool open = false;
  bool recv_armed = false;     // a multishot recv is in the kernel
  bool send_inflight = false;  // the head buffer's send is in the kernel
  bool closing = false;        // EOF or an error: close once nothing is in flight
  bool starved = false;        // its recv ended on ENOBUFS: re-arm when buffers come back
  bool paused = false;         // its recv was cancelled because its queue is full
};

struct io_uring g_ring;
io_uring_buf_ring* g_br = nullptr;
char* g_bufs = nullptr;
std::vector<int> g_next(kBufCount, kNoBuf);  // queue links, by buffer id
std::vector<uint32_t> g_len(kBufCount, 0);   // bytes received into each buffer
unsigned g_returned = 0;                     // buffers added to the ring since the last advance
unsigned g_held = 0;                         // buffers received and not yet returned
std::vector<Conn> g_conns;
std::vector<int> g_starved;                  // fds waiting for buffers to re-arm their recv
Counters g_local;
Counters* g_c = &g_local;

Conn& conn(int fd) {
  if (size_t(fd) >= g_conns.size()) g_conns.resize(size_t(fd) * 2 + 1024);
  return g_conns[size_t(fd)];
}

// An SQE, submitting what is queued first when the submission queue is full.
io_uring_sqe* sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&g_ring);
  while (s == nullptr) {
    io_uring_submit(&g_ring);
    s = io_uring_get_sqe(&g_ring);
  }
  return s;
}

char* buf_addr(int bid) { return g_bufs + size_t(bid) * kBufSize; }

// Gives a buffer back to the kernel; made visible by the advance at the end of the round.
void buf_return(int bid) {
  io_uring_buf_ring_add(g_br, buf_addr(bid), kBufSize, uint16_t(bid), io_uring_buf_ring_mask(kBufCount), int(g_returned));
  g_returned++;
  g_held--;
}

void arm_accept(int lfd) {
  io_uring_sqe* s = sqe();
  io_uring_prep_multishot_accept(s, lfd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, tag(kAccept, 0, lfd));
}

void arm_recv(int fd) {
  Conn& c = conn(fd);
  io_uring_sqe* s = sqe();
  io_uring_prep_recv_multishot(s, fd, nullptr, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = kBufGroup;
  io_uring_sqe_set_data64(s, tag(kRecv, c.gen, fd));
  c.recv_armed = true;
  c.starved = false;
  c.paused = false;
}

void send_head(int fd) {
  Conn& c = conn(fd);
  io_uring_sqe* s = sqe();
  io_uring_prep_send(s, fd, buf_addr(c.head) + c.head_off, g_len[size_t(c.head)] - c.head_off, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(kSend, c.gen, fd));
  c.send_inflight = true;
}

void drop_queue(Conn& c) {
  while (c.head != kNoBuf) {
    int next = g_next[size_t(c.head)];
    buf_return(c.head);
    c.head = next;
  }
  c.tail = kNoBuf;
  c.queued = 0;
  c.head_off = 0;
}

// Closes the fd once nothing of it is in the kernel; until then it only stops new work.
void maybe_close(int fd) {
  Conn& c = conn(fd);
  if (!c.open || !c.closing || c.recv_armed || c.send_inflight) return;
  drop_queue(c);
  close(fd);
  const uint32_t gen = c.gen + 1;
  c = Conn();
  c.gen = gen;
  g_c->active--;
  g_c->closed++;
}

// An error: no more echo for this peer. shutdown() ends a recv still armed (its completion
// comes back without F_MORE), and the close follows the last completion.
void fail(int fd) {
  Conn& c = conn(fd);
  c.closing = true;
  if (!c.send_inflight) drop_queue(c);
  if (c.recv_armed) shutdown(fd, SHUT_RDWR);
  maybe_close(fd);
}

void on_accept(int lfd, const io_uring_cqe* cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(lfd);  // the multishot ended: arm it again
  if (cqe->res < 0) {
    if (cqe->res != -ECONNABORTED && cqe->res != -EINTR && cqe->res != -EAGAIN) g_c->err_accept++;
    return;
  }
  int fd = cqe->res;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  Conn& c = conn(fd);
  const uint32_t gen = c.gen;
  c = Conn();
  c.gen = gen;
  c.open = true;
  g_c->accepted++;
  g_c->active++;
  arm_recv(fd);
}

void on_recv(int fd, const io_uring_cqe* cqe) {
  Conn& c = conn(fd);
  const bool more = cqe->flags & IORING_CQE_F_MORE;
  if (!more) c.recv_armed = false;
  if (cqe->res > 0) {
    const int bid = int(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    g_held++;
    g_c->bytes_in += uint64_t(cqe->res);
    if (c.closing) {
      buf_return(bid);
    } else {
      g_len[size_t(bid)] = uint32_t(cqe->res);
      g_next[size_t(bid)] = kNoBuf;
      if (c.tail == kNoBuf) c.head = bid;
      else g_next[size_t(c.tail)] = bid;
      c.tail = bid;
      c.queued++;
      if (!c.send_inflight) send_head(fd);
      if (c.queued >= kMaxQueuedPerConn && c.recv_armed && !c.paused) {
        // Its peer is not reading: stop receiving for it until its queue drains.
        io_uring_sqe* s = sqe();
        io_uring_prep_cancel64(s, tag(kRecv, c.gen, fd), 0);
        io_uring_sqe_set_data64(s, tag(kCancel, c.gen, fd));
        c.paused = true;
      }
    }
    if (!more && !c.closing && !c.paused) arm_recv(fd);
    maybe_close(fd);
    return;
  }
  if (cqe->res == -ENOBUFS && !c.closing) {
    // The buffer ring ran dry (every buffer is waiting for a send): re-arm once some return.
    if (!more && !c.starved) {
      c.starved = true;
      g_starved.push_back(fd);
    }
    return;
  }
  if (cqe->res == -ECANCELED && c.paused && !c.closing) {
    // Re-armed when its queue drains, or now if it drained while the cancel was on its way (no
    // send completion is left to do it then).
    if (c.queued <= kMaxQueuedPerConn / 2) arm_recv(fd);
    return;
  }
  // 0 is the peer's FIN: what is queued is still sent, then the close. Anything else is an error.
  if (cqe->res == 0) {
    c.closing = true;
    maybe_close(fd);
  } else if (more) {
    return;  // a transient error the multishot survived
  } else {
    fail(fd);
  }
}

void on_send(int fd, const io_uring_cqe* cqe) {
  Conn& c = conn(fd);
  c.send_inflight = false;
  if (cqe->res < 0) {
    fail(fd);
    return;
  }
  g_c->bytes_out += uint64_t(cqe->res);
  c.head_off += uint32_t(cqe->res);
  if (c.head_off >= g_len[size_t(c.head)]) {
    // The whole buffer went out: back to the ring, and the next one in line.
    const int done = c.head;
    c.head = g_next[size_t(done)];
    if (c.head == kNoBuf) c.tail = kNoBuf;
    c.head_off = 0;
    c.queued--;
    buf_return(done);
  }
  if (c.head != kNoBuf) send_head(fd);  // the rest of a short send, or the next buffer
  if (c.paused && !c.recv_armed && !c.closing && c.queued <= kMaxQueuedPerConn / 2) arm_recv(fd);
  maybe_close(fd);
}

bool g_control_open = true;

// Whether a completion is for the connection now in its fd's slot. It always is, since an fd is
// closed only with nothing in flight; the generation makes that an invariant checked, not hoped.
bool current(int fd, uint64_t u) {
  const Conn& c = conn(fd);
  return c.open && (c.gen & 0xffffff) == tag_gen(u);
}

void arm_stdin() {
  io_uring_sqe* s = sqe();
  io_uring_prep_poll_add(s, 0, POLLIN);
  io_uring_sqe_set_data64(s, tag(kStdin, 0, 0));
}

void on_stdin(const io_uring_cqe* cqe) {
  // The parent's end of stdin: nothing is ever sent on it, so readable means EOF (gone).
  if (cqe->res < 0) {
    g_control_open = false;
    return;
  }
  char b[64];
  ssize_t r;
  while ((r = read(0, b, sizeof b)) > 0) {
  }
  if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) g_control_open = false;
  else arm_stdin();
}

// The ring with the cheapest task-running mode the kernel has: DEFER_TASKRUN (6.1) runs
// completions' task work only inside our io_uring_enter, COOP_TASKRUN (5.19) without interrupting
// us; older kernels get the plain ring. -errno of the last attempt when none can be set up.
int ring_setup() {
  const unsigned tries[] = {
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN,
      0,
  };
  int r = -EINVAL;
  for (unsigned flags : tries) {
    io_uring_params p{};
    p.flags = flags | IORING_SETUP_CQSIZE;
    p.cq_entries = kCqEntries;
    r = io_uring_queue_init_params(kSqEntries, &g_ring, &p);
    if (r != -EINVAL) return r;  // 0, or a refusal (EPERM, ENOSYS, ENOMEM) flags will not change
  }
  return r;
}

// The provided-buffer ring (group kBufGroup), every buffer in it. -errno on failure.
int buffers_setup() {
  const size_t ring_bytes = kBufCount * sizeof(io_uring_buf);
  void* ring = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED) return -errno;
  g_br = static_cast<io_uring_buf_ring*>(ring);
  io_uring_buf_ring_init(g_br);
  io_uring_buf_reg reg{};
  reg.ring_addr = uint64_t(uintptr_t(ring));
  reg.ring_entries = kBufCount;
  reg.bgid = kBufGroup;
  int r = io_uring_register_buf_ring(&g_ring, &reg, 0);
  if (r < 0) return r;
  g_bufs = static_cast<char*>(malloc(size_t(kBufCount) * kBufSize));
  if (g_bufs == nullptr) return -ENOMEM;
  for (unsigned i = 0; i < kBufCount; ++i)
    io_uring_buf_ring_add(g_br, buf_addr(int(i)), kBufSize, uint16_t(i), io_uring_buf_ring_mask(kBufCount), int(i));
  io_uring_buf_ring_advance(g_br, int(kBufCount));
  return 0;
}

const char* errno_name(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "unknown errno";
}

// One completion, waited for at most a second (the probe must never hang).
int probe_wait(io_uring_cqe** cqe) {
  __kernel_timespec ts{};
  ts.tv_sec = 1;
  return io_uring_submit_and_wait_timeout(&g_ring, cqe, 1, &ts, nullptr);
}

// --probe: everything the server needs, tried for real on loopback. Returns the exit code.
int probe() {
  int r = ring_setup();
  if (r < 0) return printf("io_uring_setup: %s\n", errno_name(-r)), 1;
  io_uring_probe* p = io_uring_get_probe_ring(&g_ring);
  if (p == nullptr) return printf("io_uring_register(IORING_REGISTER_PROBE): %s\n", errno_name(errno ? errno : EINVAL)), 1;
  const struct {
    int op;
    const char* name;
  } ops[] = {{IORING_OP_ACCEPT, "IORING_OP_ACCEPT"}, {IORING_OP_RECV, "IORING_OP_RECV"}, {IORING_OP_SEND, "IORING_OP_SEND"},
             {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"}, {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"}};
  for (const auto& op : ops) {
    if (!io_uring_opcode_supported(p, op.op)) {
      io_uring_free_probe(p);
      return printf("io_uring_get_probe: the kernel does not support %s\n", op.name), 1;
    }
  }
  io_uring_free_probe(p);
  r = buffers_setup();
  if (r < 0) return printf("io_uring_register_buf_ring: %s\n", errno_name(-r)), 1;

  // A listener on loopback, a multishot accept on it, one connection, a multishot recv on the
  // accepted end: the completions must come back with IORING_CQE_F_MORE (multishot accept is
  // 5.19, multishot recv 6.0; older kernels fail the SQE with EINVAL).
  ref::Args args;
  args.host = "127.0.0.1";
  args.port = "0";
  args.backlog = 4;
  int port = 0;
  int lfd = ref::listen_on(args, "c1m_ref_echo_uring --probe", false, &port);
  if (lfd < 0) return printf("listen on 127.0.0.1: %s\n", errno_name(errno)), 1;
  arm_accept(lfd);
  int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(uint16_t(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (cfd < 0 || connect(cfd, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) return printf("connect to 127.0.0.1:%d: %s\n", port, errno_name(errno)), 1;
  io_uring_cqe* cqe = nullptr;
  r = probe_wait(&cqe);
  if (r < 0) return printf("multishot accept: no completion (%s)\n", errno_name(-r)), 1;
  if (cqe->res < 0) return printf("multishot accept: %s\n", errno_name(-cqe->res)), 1;
  if (!(cqe->flags & IORING_CQE_F_MORE)) return printf("multishot accept: the kernel ended it after one connection (it needs 5.19 or later)\n"), 1;
  const int afd = cqe->res;
  io_uring_cqe_seen(&g_ring, cqe);
  arm_recv(afd);
  if (send(cfd, "x", 1, MSG_NOSIGNAL) != 1) return printf("send on loopback: %s\n", errno_name(errno)), 1;
  r = probe_wait(&cqe);
  if (r < 0) return printf("multishot recv: no completion (%s)\n", errno_name(-r)), 1;
  if (cqe->res < 0) return printf("multishot recv: %s (it needs Linux 6.0 or later)\n", errno_name(-cqe->res)), 1;
  if (!(cqe->flags & IORING_CQE_F_MORE) || !(cqe->flags & IORING_CQE_F_BUFFER))
    return printf("multishot recv: the kernel ended it after one completion (it needs Linux 6.0 or later)\n"), 1;
  io_uring_cqe_seen(&g_ring, cqe);
  close(cfd);
  close(afd);
  close(lfd);
  io_uring_queue_exit(&g_ring);
  printf("ok\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--probe") == 0) return probe();
  ref::Args args;
  if (!ref::parse_args(argc, argv, &args)) return 2;
  Counters* shared = ref::start(args, "c1m_ref_echo_uring");
  if (!shared) return 1;
  g_c = shared;
  int r = ring_setup();
  if (r < 0) {
    fprintf(stderr, "c1m_ref_echo_uring: io_uring_setup: %s (%s)\n", errno_name(-r), strerror(-r));
    return 1;
  }
  r = buffers_setup();
  if (r < 0) {
    fprintf(stderr, "c1m_ref_echo_uring: io_uring_register_buf_ring: %s (%s)\n", errno_name(-r), strerror(-r));
    return 1;
  }
  // Blocking sockets: io_uring waits for readiness itself (it arms an internal poll), and
  // O_NONBLOCK would only add a failed attempt before it does.
  int port = 0;
  int lfd = ref::listen_on(args, "c1m_ref_echo_uring", false, &port);
  if (lfd < 0) return 1;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  conn(lfd);
  arm_accept(lfd);
  arm_stdin();
  ref::say_listening(port);

  while (!ref::g_stop && g_control_open) {
    // The round's one syscall: submit what the last round queued, wait for a completion.
    r = io_uring_submit_and_wait(&g_ring, 1);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
      fprintf(stderr, "c1m_ref_echo_uring: io_uring_enter: %s\n", strerror(-r));
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&g_ring, head, cqe) {
      seen++;
      const uint64_t u = io_uring_cqe_get_data64(cqe);
      const int fd = tag_fd(u);
      switch (tag_kind(u)) {
        case kAccept:
          on_accept(fd, cqe);
          break;
        case kRecv:
          if (current(fd, u)) on_recv(fd, cqe);
          break;
        case kSend:
          if (current(fd, u)) on_send(fd, cqe);
          break;
        case kStdin:
          on_stdin(cqe);
          break;
        case kCancel:
          break;  // the cancelled recv reports for itself (-ECANCELED)
      }
    }
    io_uring_cq_advance(&g_ring, seen);
    if (g_returned > 0) {
      io_uring_buf_ring_advance(g_br, int(g_returned));
      g_returned = 0;
      // Buffers are back: the recvs that ran dry can go again.
      std::vector<int> again;
      again.swap(g_starved);
      for (int fd : again) {
        Conn& c = conn(fd);
        if (c.open && c.starved && !c.closing && !c.recv_armed) arm_recv(fd);
      }
    }
  }
  // SIGTERM or the parent gone: every connection ends now (echo holds nothing back). shutdown()
  // sends the FIN although a request in the ring still holds the socket; the process exit tears
  // the ring down.
  for (size_t fd = 0; fd < g_conns.size(); ++fd) {
    if (!g_conns[fd].open) continue;
    shutdown(int(fd), SHUT_RDWR);
    close(int(fd));
    g_conns[fd].open = false;
    g_c->active--;
    g_c->closed++;
  }
  close(lfd);
  io_uring_queue_exit(&g_ring);
  return 0;
}
