// Runs a program with io_uring_setup denied by a seccomp filter, as Docker's and Kubernetes'
// default profiles deny it: test/io-uring.test.ts runs the io_uring probe under it to check that
// such a denial is reported as one (reason and fix), end to end. Linux only, no privilege needed
// (no_new_privs is set first).
//
// Usage: c1m_test_deny_io_uring EPERM|ENOSYS PROGRAM [ARGS…]

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define C1M_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define C1M_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "c1m_test_deny_io_uring knows x86_64 and aarch64 only"
#endif

int main(int argc, char** argv) {
  if (argc < 3 || (strcmp(argv[1], "EPERM") != 0 && strcmp(argv[1], "ENOSYS") != 0)) {
    fprintf(stderr, "usage: %s EPERM|ENOSYS PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  const unsigned err = strcmp(argv[1], "EPERM") == 0 ? EPERM : ENOSYS;
  sock_filter filter[] = {
      // Another architecture's syscall numbers mean other calls: let those through untouched.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, C1M_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{};
  prog.len = sizeof filter / sizeof filter[0];
  prog.filter = filter;
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    fprintf(stderr, "%s: cannot install the seccomp filter: %s\n", argv[0], strerror(errno));
    return 1;
  }
  execv(argv[2], argv + 2);
  fprintf(stderr, "%s: cannot run %s: %s\n", argv[0], argv[2], strerror(errno));
  return 1;
}
