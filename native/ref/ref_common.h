// What the C reference echo servers share, so that one contender (src/contenders/cref.ts) drives
// both the epoll one (echo_server.cc) and the io_uring one (echo_server_uring.cc): the command
// line, the shared counters file, the listening socket and its "listening PORT" line, and the
// signals that end the loop. Each server keeps only its I/O model.
//
// Command line: PROG HOST PORT BACKLOG COUNTERS_FILE [reuseport]
// Counters: six little-endian uint64 (accepted, active, closed, bytesIn, bytesOut, errAccept) in
// COUNTERS_FILE, mapped shared, so the parent reads them at any moment without asking.
// Shutdown: SIGTERM or SIGINT sets ref::g_stop; EOF on stdin (the parent is gone) is each
// server's to watch with its own I/O model.

#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <new>

namespace ref {

struct Counters {
  // The order of the counters file (src/contenders/cref.ts reads it by position).
  uint64_t accepted = 0, active = 0, closed = 0, bytes_in = 0, bytes_out = 0, err_accept = 0;
};

struct Args {
  const char* host = nullptr;
  const char* port = nullptr;
  int backlog = 0;
  const char* counters = nullptr;
  bool reuseport = false;
};

// Set by SIGTERM/SIGINT; the loop checks it after every wait (which the signal interrupts).
inline volatile sig_atomic_t g_stop = 0;

// Parses the command line into out; on a wrong one says why on stderr and returns false (the
// caller exits 2).
inline bool parse_args(int argc, char** argv, Args* out) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s HOST PORT BACKLOG COUNTERS_FILE [reuseport]\n", argv[0]);
    return false;
  }
  in_addr ip{};
  if (inet_pton(AF_INET, argv[1], &ip) != 1) {
    fprintf(stderr, "%s: host must be an IPv4 address, got %s\n", argv[0], argv[1]);
    return false;
  }
  out->host = argv[1];
  out->port = argv[2];
  out->backlog = atoi(argv[3]);
  out->counters = argv[4];
  out->reuseport = argc > 5 && strcmp(argv[5], "reuseport") == 0;
  return true;
}

// Maps the counters file shared (created or truncated, zeroed); nullptr with errno on failure.
inline Counters* map_counters(const char* path) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  if (ftruncate(fd, sizeof(Counters)) < 0) {
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, sizeof(Counters), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? nullptr : new (p) Counters();
}

// SIGTERM/SIGINT set g_stop without SA_RESTART, so a blocking wait returns EINTR; SIGPIPE is
// ignored (a peer that went away is an error value, not a death).
inline void install_signals() {
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

// What both servers do first: the counters file mapped and the signals installed. nullptr, after
// saying why on stderr, when the counters file cannot be mapped.
inline Counters* start(const Args& args, const char* prog) {
  Counters* c = map_counters(args.counters);
  if (c == nullptr) {
    fprintf(stderr, "%s: cannot map counters file %s: %s\n", prog, args.counters, strerror(errno));
    return nullptr;
  }
  install_signals();
  return c;
}

// A listening IPv4 socket on args' host and port (SO_REUSEADDR, SO_REUSEPORT when asked), or -1
// after saying why on stderr. *port_out gets the port bound (port 0 picks one).
inline int listen_on(const Args& args, const char* prog, bool nonblocking, int* port_out) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(atoi(args.port)));
  if (inet_pton(AF_INET, args.host, &addr.sin_addr) != 1) {
    fprintf(stderr, "%s: host must be an IPv4 address, got %s\n", prog, args.host);
    return -1;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (lfd < 0) {
    fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (args.reuseport) setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(lfd, args.backlog) < 0) {
    fprintf(stderr, "%s: cannot listen on %s:%s: %s\n", prog, args.host, args.port, strerror(errno));
    close(lfd);
    return -1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &alen);
  *port_out = int(ntohs(addr.sin_port));
  return lfd;
}

// The readiness line the contender waits for.
inline void say_listening(int port) {
  printf("listening %d\n", port);
  fflush(stdout);
}

}  // namespace ref
