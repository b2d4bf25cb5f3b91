// The only file that talks to epoll: create, register once, wait. Policy lives in loop.cc.
#pragma once
#include <sys/epoll.h>
#include <cstdint>

namespace c1m::backend {

// The interest set every socket is registered with, once, and never modified: edge-triggered
// read, write and peer-half-close. See loop.cc for the draining rules this implies.
constexpr uint32_t kSocketEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// Returns a new close-on-exec epoll fd, or -errno.
int poll_create();
// Registers fd with `events`; `tag` comes back in epoll_event.data.u64. Returns 0 or -errno.
int poll_add(int epfd, int fd, uint32_t events, uint64_t tag);
// Removes fd from the interest set (closing it does that too). Returns 0 or -errno.
int poll_del(int epfd, int fd);
// Non-blocking wait (timeout 0) for up to max events; retries EINTR. Returns count or -errno.
int poll_wait(int epfd, epoll_event* events, int max);

}  // namespace c1m::backend
