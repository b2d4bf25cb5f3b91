// The C reference echo server: the least a program can do to echo TCP on Linux with epoll, so
// the engine's native echo (epoll-native) has a floor to be compared with. One thread, one epoll
// set, edge-triggered: accept until EAGAIN, read until EAGAIN, write back at once, keep what the
// socket would not take and flush it on EPOLLOUT (reading that connection pauses meanwhile).
// No JS, no Node, no allocation per message. Built by node-gyp beside the addon.
//
// Usage: c1m_ref_echo HOST PORT BACKLOG COUNTERS_FILE [reuseport]
// The command line, counters file, "listening PORT" line and SIGTERM/SIGINT are ref_common.h's
// (shared with the io_uring reference, echo_server_uring.cc); EOF on stdin also ends it.

#include <netinet/tcp.h>
#include <sys/epoll.h>

#include <vector>

#include "ref/ref_common.h"

namespace {

constexpr int kMaxEvents = 1024;
constexpr int kAcceptsPerRound = 512;
constexpr size_t kReadBudget = 256 * 1024;  // bytes per connection per wakeup, then requeue
constexpr size_t kBuf = 64 * 1024;

struct Conn {
  char* pending = nullptr;  // bytes the socket would not take yet
  size_t pending_len = 0;
  bool open = false;
  bool ready = false;       // still readable (budget spent): serve it again before waiting
};

using ref::Counters;

std::vector<Conn> g_conns;
Counters g_local;
Counters* g_c = &g_local;  // the shared mapping once main has it (see counters_in)
int g_ep = -1;
std::vector<int> g_ready;  // fds whose read budget ran out (their edge is already consumed)
bool g_listener_ready = false;

Conn& conn(int fd) {
  if (size_t(fd) >= g_conns.size()) g_conns.resize(size_t(fd) * 2 + 1024);
  return g_conns[size_t(fd)];
}

void close_conn(int fd) {
  Conn& c = conn(fd);
  if (!c.open) return;
  free(c.pending);
  c = Conn();
  close(fd);
  g_c->active--;
  g_c->closed++;
}

// Writes what it can; the rest waits in pending (EPOLLOUT is always armed, edge-triggered).
bool send_all(int fd, const char* p, size_t n) {
  Conn& c = conn(fd);
  if (c.pending_len == 0) {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w > 0) {
        g_c->bytes_out += uint64_t(w);
        p += w;
        n -= size_t(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return false;
    }
    if (n == 0) return true;
  }
  char* grown = static_cast<char*>(realloc(c.pending, c.pending_len + n));
  if (!grown) return false;
  memcpy(grown + c.pending_len, p, n);
  c.pending = grown;
  c.pending_len += n;
  return true;
}

bool flush(int fd) {
  Conn& c = conn(fd);
  size_t off = 0;
  while (off < c.pending_len) {
    ssize_t w = send(fd, c.pending + off, c.pending_len - off, MSG_NOSIGNAL);
    if (w > 0) {
      g_c->bytes_out += uint64_t(w);
      off += size_t(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return false;
  }
  memmove(c.pending, c.pending + off, c.pending_len - off);
  c.pending_len -= off;
  return true;
}

void serve(int fd) {
  static char buf[kBuf];
  Conn& c = conn(fd);
  size_t got = 0;
  while (c.open && c.pending_len == 0) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      g_c->bytes_in += uint64_t(n);
      got += size_t(n);
      if (!send_all(fd, buf, size_t(n))) {
        close_conn(fd);
        return;
      }
      if (got >= kReadBudget) {
        // Fair share spent: serve it again after the others, without waiting for a new edge.
        if (!c.ready) g_ready.push_back(fd);
        c.ready = true;
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    close_conn(fd);  // EOF or error
    return;
  }
}

void accept_all(int lfd) {
  for (int i = 0; i < kAcceptsPerRound; ++i) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) g_c->err_accept++;
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Conn& c = conn(fd);
    c = Conn();
    c.open = true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(g_ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
      c.open = false;
      close(fd);
      g_c->err_accept++;
      continue;
    }
    g_c->accepted++;
    g_c->active++;
  }
  // Budget spent with the backlog maybe not empty: look again next round.
  g_listener_ready = true;
}

}  // namespace

int main(int argc, char** argv) {
  ref::Args args;
  if (!ref::parse_args(argc, argv, &args)) return 2;
  Counters* shared = ref::start(args, "c1m_ref_echo");
  if (!shared) return 1;
  g_c = shared;
  int port = 0;
  int lfd = ref::listen_on(args, "c1m_ref_echo", true, &port);
  if (lfd < 0) return 1;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);

  g_ep = epoll_create1(EPOLL_CLOEXEC);
  conn(lfd);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = lfd;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, lfd, &ev);
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = 0;
  epoll_ctl(g_ep, EPOLL_CTL_ADD, 0, &ev);
  ref::say_listening(port);

  static epoll_event events[kMaxEvents];
  bool control_open = true;
  while (!ref::g_stop && control_open) {
    const bool spare = g_ready.empty() && !g_listener_ready;
    int n = epoll_wait(g_ep, events, kMaxEvents, spare ? -1 : 0);
    if (n < 0 && errno != EINTR) break;
    // What ran out of budget last round goes first, then the new events.
    std::vector<int> again;
    again.swap(g_ready);
    for (int fd : again) {
      Conn& c = conn(fd);
      c.ready = false;
      if (c.open) serve(fd);
    }
    if (g_listener_ready) {
      g_listener_ready = false;
      accept_all(lfd);
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      uint32_t e = events[i].events;
      if (fd == lfd) {
        accept_all(lfd);
        continue;
      }
      if (fd == 0) {
        // The parent's end of stdin: nothing is ever sent on it, so readable means EOF (gone).
        char b[64];
        ssize_t r;
        while ((r = read(0, b, sizeof b)) > 0) {
        }
        if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) control_open = false;
        continue;
      }
      Conn& c = conn(fd);
      if (!c.open) continue;
      if ((e & EPOLLOUT) && c.pending_len > 0) {
        if (!flush(fd)) {
          close_conn(fd);
          continue;
        }
        if (c.pending_len == 0) e |= EPOLLIN;  // reading paused while it waited: look again
      }
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) serve(fd);
    }
  }
  for (size_t fd = 0; fd < g_conns.size(); ++fd)
    if (g_conns[fd].open) close_conn(int(fd));
  close(lfd);
  return 0;
}
