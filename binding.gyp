{
  # The epoll engine addon. C++20, exceptions off, hidden visibility; Release is -O3.
  # A sanitizer build is one flag away: `npm run build:asan` (scripts/build-asan.sh passes
  # -Dc1m_sanitize=1, which adds ASan + UBSan to every target).
  # c1m_uring is 1 when liburing's development files are installed (scripts/has-liburing.mjs):
  # the io_uring pieces are built only then, and everything else builds either way.
  "variables": { "c1m_sanitize%": 0, "c1m_uring%": "<!(node scripts/has-liburing.mjs)" },
  "target_defaults": {
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++1y"],
    "cflags": ["-Wall", "-Wextra", "-fvisibility=hidden", "-fno-exceptions"],
    "cflags_cc": ["-std=c++20", "-fno-exceptions", "-Wno-missing-field-initializers"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
    "configurations": {
      "Release": { "cflags": ["-O3"], "cflags_cc": ["-O3"] },
      "Debug": { "cflags": ["-O0", "-g3"], "cflags_cc": ["-O0", "-g3"], "defines": ["C1M_DEBUG=1"] }
    },
    "conditions": [
      ["c1m_sanitize==1", {
        "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined", "-g"],
        "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined", "-g"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "c1m",
      "sources": [
        "native/addon.cc",
        "native/poller_epoll.cc",
        "native/loop.cc",
        "native/protocols.cc",
        "native/timers.cc",
        "native/topics.cc",
        "native/connector.cc",
        "native/tls.cc",
        "native/proto/http.cc",
        "native/proto/ws.cc",
        "native/proto/sha1.cc",
        "native/uring.cc"
      ],
      # The io_uring backend is compiled in only where liburing can be linked; without it the
      # addon still builds and a uring listener is a clear error (native/uring.h).
      "conditions": [
        ["c1m_uring==1", { "defines": ["C1M_URING=1"], "libraries": ["-luring"] }]
      ]
    },
    {
      # Self-tests of the pure native pieces (timer wheel, histogram), run by test/native-selftest.test.ts.
      "target_name": "c1m_selftest_structs",
      "type": "executable",
      "sources": ["native/tests/structs_selftest.cc"]
    },
    {
      # Self-tests of the pure protocol parsers (frame, HTTP, WebSocket, SHA-1, base64).
      "target_name": "c1m_selftest_proto",
      "type": "executable",
      "sources": ["native/tests/proto_selftest.cc", "native/proto/http.cc", "native/proto/ws.cc", "native/proto/sha1.cc"]
    },
    {
      # Runs a program with io_uring_setup denied by seccomp (as Docker's default profile does):
      # test/io-uring.test.ts checks that the io_uring probe reports such a denial.
      "target_name": "c1m_test_deny_io_uring",
      "type": "executable",
      "sources": ["native/tests/deny_io_uring.cc"]
    },
    {
      # The C reference echo server (contender `c-ref`): plain epoll, no Node, the floor the
      # engine's native echo is compared with.
      "target_name": "c1m_ref_echo",
      "type": "executable",
      "sources": ["native/ref/echo_server.cc"]
    }
  ],
  "conditions": [
    ["c1m_uring==1", {
      "targets": [
        {
          # The C reference echo server on io_uring (contender `c-ref-uring`) and, with --probe,
          # the check of whether io_uring can run here (src/system/io-uring.ts runs it).
          "target_name": "c1m_ref_echo_uring",
          "type": "executable",
          "sources": ["native/ref/echo_server_uring.cc"],
          "libraries": ["-luring"]
        }
      ]
    }]
  ]
}
