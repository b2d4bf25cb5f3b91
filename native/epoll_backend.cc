#include "epoll_backend.h"

#include <cerrno>
#include <unistd.h>

namespace c1m::backend {

int poll_create() {
  int fd = epoll_create1(EPOLL_CLOEXEC);
  return fd < 0 ? -errno : fd;
}

int poll_add(int epfd, int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int poll_del(int epfd, int fd) {
  return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr) < 0 ? -errno : 0;
}

int poll_wait(int epfd, epoll_event* events, int max) {
  for (;;) {
    int n = epoll_wait(epfd, events, max, 0);
    if (n >= 0) return n;
    if (errno != EINTR) return -errno;
  }
}

}  // namespace c1m::backend
