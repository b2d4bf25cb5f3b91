// `c-ref-uring`: the C reference echo server on io_uring (native/ref/echo_server_uring.cc), the
// floor for raw TCP echo on completions as c-ref is on readiness: one thread, one ring, multishot
// accept and receive into provided buffers, one io_uring_enter per round, no Node and no JS. The
// same contender code as c-ref drives it (refEchoContender); only its executable and its probe
// differ: where io_uring cannot run (built without liburing-dev, a kernel before 6.0,
// kernel.io_uring_disabled, a seccomp profile that denies io_uring_setup) it is unavailable with
// that reason and its fix.

import { assertIoUring, REF_ECHO_URING_PATH } from '../system/io-uring.js';
import { refEchoContender } from './cref.js';

export const crefUringContender = refEchoContender({
  name: 'c-ref-uring',
  description: 'a C reference echo server on io_uring (one thread, multishot accept and receive, provided buffers, no Node): the floor for raw TCP echo on completions',
  path: REF_ECHO_URING_PATH,
  probe: async () => assertIoUring(),
});
