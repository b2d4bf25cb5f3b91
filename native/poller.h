// The readiness seam: the one interface between the engine core and whatever tells it that a
// socket can make progress. The core opens the source, registers each socket once, and asks for
// batches of ready tags; it never calls epoll_* (or another backend's syscalls) itself. uSockets
// keeps the same split: eventing/epoll_kqueue.c creates, changes and waits; loop.c decides what a
// ready fd means. Ours: this header and poller_epoll.cc, then Loop::slot_ready in loop.cc.
//
// The backend is chosen at compile time (`using Poller` at the end): the core calls it directly,
// with no virtual call per event. Another backend provides exactly the members EpollPoller has.
//
// Readiness is edge-triggered: a socket is reported once per transition, never again for bytes
// that were already waiting, so the core drains what it is told about (loop.cc writes that rule
// down where it is kept). There is no "remove": closing a socket removes it, and the core closes
// each fd exactly once.
//
// The completion backend (io_uring) sits beside this one, not behind it: uring.h, chosen per
// listener (ListenOptions::uring), so the connector and epoll listeners keep this set while a
// uring listener's connections live on the ring. Its one new meaning, "bytes were already
// received into buffer B", reaches the read paths through Loop::conn_recv instead of recv; the
// tags, the still-ready list and the rounds stay as they are (loop.cc, "The io_uring backend").
#pragma once
#include <sys/epoll.h>

#include <cstdint>

namespace c1m {

// What an event reports about its socket. The epoll backend's values are epoll's own bits, so
// nothing is translated per event.
enum ReadyBits : uint32_t {
  kReadyIn = EPOLLIN,          // readable: bytes, a connection to accept, or the end of the stream
  kReadyOut = EPOLLOUT,        // writable: the send buffer has room again (or a connect completed)
  kReadyPeerEnd = EPOLLRDHUP,  // the peer shut down its writing side
  kReadyHup = EPOLLHUP,        // both directions are shut
  kReadyError = EPOLLERR,      // an error is pending (SO_ERROR says which)
};

// The epoll backend (poller_epoll.cc): one edge-triggered epoll set.
class EpollPoller {
 public:
  using Event = epoll_event;  // one ready socket; read it with event_tag() and event_bits()

  // Creates the readiness set (close-on-exec). Returns 0 or -errno.
  int open();
  // Closes the readiness set; the sockets registered in it stay open. Safe when not open.
  void close();
  // True between a successful open() and close().
  bool is_open() const { return fd_ >= 0; }
  // The fd Node's loop watches (one uv_poll_t, readable): readable while wait() has events to report.
  int watch_fd() const { return fd_; }
  // Registers a listening socket, once: reported when connections wait to be accepted. Returns 0 or -errno.
  int add_listener(int fd, uint64_t tag);
  // Registers a connected (or connecting) socket, once and never modified: reported at each readable, writable or hang-up edge. Returns 0 or -errno.
  int add_socket(int fd, uint64_t tag);
  // Fills out[0, max) with ready sockets without blocking; retries EINTR. Returns the count or -errno.
  int wait(Event* out, int max);
  // The tag the event's socket was registered with.
  static uint64_t event_tag(const Event& e) { return e.data.u64; }
  // The event's ReadyBits.
  static uint32_t event_bits(const Event& e) { return e.events; }

 private:
  int fd_ = -1;
};

using Poller = EpollPoller;

}  // namespace c1m
