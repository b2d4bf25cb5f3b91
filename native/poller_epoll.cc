// The epoll backend of the readiness seam (poller.h): the only file that calls epoll_*. What a
// ready socket means is the core's business (loop.cc).
#include <unistd.h>

#include <cerrno>

#include "poller.h"

namespace c1m {

namespace {

// The interest set every connection is registered with, once, and never modified: edge-triggered
// read, write and peer-half-close. See loop.cc for the draining rules this implies.
constexpr uint32_t kSocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
// A listener is edge-triggered too: the core accepts until EAGAIN or its budget (Loop::accept_all).
constexpr uint32_t kListenerEvents = EPOLLIN | EPOLLET;

int epoll_add(int epfd, int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

}  // namespace

int EpollPoller::open() {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return -errno;
  fd_ = fd;
  return 0;
}

void EpollPoller::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

int EpollPoller::add_listener(int fd, uint64_t tag) { return epoll_add(fd_, fd, kListenerEvents, tag); }

int EpollPoller::add_socket(int fd, uint64_t tag) { return epoll_add(fd_, fd, kSocketEvents, tag); }

int EpollPoller::wait(Event* out, int max) {
  for (;;) {
    int n = epoll_wait(fd_, out, max, 0);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace c1m
