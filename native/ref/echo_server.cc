// The C reference echo server: the least a program can do to echo TCP on Linux with epoll, so
// the engine's native echo (epoll-native) has a floor to be compared with. One thread, one epoll
// set, edge-triggered: accept until EAGAIN, read until EAGAIN, write back at once, keep what the
// socket would not take and flush it on EPOLLOUT (reading that connection pauses meanwhile).
// No JS, no Node, no allocation per message. Built by node-gyp beside the addon.
//
// Usage: c1m_ref_echo HOST PORT BACKLOG COUNTERS_FILE [reuseport]
// Prints "listening PORT" on stdout when ready. The counters (accepted, active, closed, bytesIn,
// bytesOut, errAccept: six little-endian uint64) live in COUNTERS_FILE, mapped shared, so the
// parent reads them at any moment without asking. EOF on stdin or SIGTERM/SIGINT ends it.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

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

struct Counters {
  // The order of the counters file (src/contenders/cref.ts reads it by position).
  uint64_t accepted = 0, active = 0, closed = 0, bytes_in = 0, bytes_out = 0, err_accept = 0;
};

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

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

// The counters, in a file mapped shared (the parent reads it whenever it likes).
Counters* counters_in(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, sizeof(Counters)) < 0) return nullptr;
  void* p = mmap(nullptr, sizeof(Counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : new (p) Counters();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s HOST PORT BACKLOG COUNTERS_FILE [reuseport]\n", argv[0]);
    return 2;
  }
  Counters* shared = counters_in(argv[4]);
  if (!shared) {
    fprintf(stderr, "c1m_ref_echo: cannot map counters file %s: %s\n", argv[4], strerror(errno));
    return 1;
  }
  g_c = shared;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "c1m_ref_echo: host must be an IPv4 address, got %s\n", argv[1]);
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (argc > 5 && strcmp(argv[5], "reuseport") == 0) setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(lfd, atoi(argv[3])) < 0) {
    fprintf(stderr, "c1m_ref_echo: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror(errno));
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
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
  printf("listening %d\n", int(ntohs(addr.sin_port)));
  fflush(stdout);

  static epoll_event events[kMaxEvents];
  bool control_open = true;
  while (!g_stop && control_open) {
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
