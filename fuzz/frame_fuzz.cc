// libFuzzer target for c1m::frame::parse (native/proto/frame.h): the input is a byte stream of
// length-prefixed frames. Checks the parser's invariants frame by frame, and that feeding the
// same stream in pieces (as a socket would) yields the same frames as parsing it whole.
#include <cstdio>
#include <cstdlib>
#include <vector>

#define C1M_FUZZ_TARGET "frame_fuzz"
#include "require.h"
#include "proto/frame.h"

namespace {

constexpr uint32_t kMaxPayload = 1024;

struct Frame {
  size_t offset;
  uint32_t len;
};

// Parses whole frames out of p[0, n); returns where parsing stopped and whether it hit kTooLarge.
size_t parse_all(const uint8_t* p, size_t n, std::vector<Frame>* frames, bool* too_large) {
  using namespace c1m::frame;
  size_t pos = 0;
  *too_large = false;
  for (;;) {
    size_t avail = n - pos;
    Result r = parse(p + pos, avail, kMaxPayload);
    if (!r.header_known) {
      REQUIRE(avail < kHeaderBytes);
      REQUIRE(r.status == Status::kIncomplete);
      return pos;
    }
    REQUIRE(avail >= kHeaderBytes);
    REQUIRE(r.payload_len == read_len(p + pos));
    REQUIRE(r.total_len == kHeaderBytes + size_t(r.payload_len));
    if (r.status == Status::kTooLarge) {
      REQUIRE(r.payload_len > kMaxPayload);
      *too_large = true;
      return pos;
    }
    REQUIRE(r.payload_len <= kMaxPayload);
    if (r.status == Status::kIncomplete) {
      REQUIRE(r.total_len > avail);
      return pos;
    }
    REQUIRE(r.status == Status::kComplete);
    REQUIRE(r.total_len <= avail);
    // A frame that is complete is incomplete one byte short, and complete with anything after it.
    REQUIRE(parse(p + pos, r.total_len - 1, kMaxPayload).status == Status::kIncomplete);
    REQUIRE(parse(p + pos, r.total_len, kMaxPayload).status == Status::kComplete);
    frames->push_back({pos, r.payload_len});
    pos += r.total_len;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the piece size of the simulated socket reads; the rest is the stream.
  size_t piece = 1 + data[0] % 17;
  const uint8_t* p = data + 1;
  size_t n = size - 1;

  std::vector<Frame> whole;
  bool whole_too_large;
  size_t whole_end = parse_all(p, n, &whole, &whole_too_large);
  REQUIRE(whole_end <= n);

  // Stream it: after each piece arrives, consume every complete frame from the buffer start.
  std::vector<Frame> streamed;
  size_t consumed = 0;
  bool streamed_too_large = false;
  for (size_t arrived = 0; arrived < n && !streamed_too_large;) {
    arrived = arrived + piece < n ? arrived + piece : n;
    std::vector<Frame> got;
    size_t used = parse_all(p + consumed, arrived - consumed, &got, &streamed_too_large);
    for (Frame f : got) streamed.push_back({f.offset + consumed, f.len});
    consumed += used;
  }
  REQUIRE(streamed.size() == whole.size());
  for (size_t i = 0; i < whole.size(); i++) {
    REQUIRE(streamed[i].offset == whole[i].offset && streamed[i].len == whole[i].len);
  }
  REQUIRE(streamed_too_large == whole_too_large);

  if (n >= 4) {
    uint8_t buf[4];
    c1m::frame::write_len(buf, c1m::frame::read_len(p));
    REQUIRE(buf[0] == p[0] && buf[1] == p[1] && buf[2] == p[2] && buf[3] == p[3]);
  }
  return 0;
}
