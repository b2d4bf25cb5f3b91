// libFuzzer target for the engine's TLS layer (native/tls.{h,cc}): our in-memory BIO, feed()'s
// contract with the core and OpenSSL's handling of what arrives through it. The fuzzer build links
// Debian's OpenSSL 3.0 (libssl-dev); the addon runs on Node's own 3.0 build, the same API.
//
// The first input byte picks one of two modes:
// - raw: the rest of the input is a client's byte stream to a fresh server connection, fed in
//   pieces of input-chosen sizes with an input-chosen plaintext buffer;
// - handshake: a client and a server connection of ours talk to each other through two byte
//   queues, in pieces of input-chosen sizes, with up to four input-chosen bytes of either stream
//   flipped; once both are established the client sends the rest of the input, the server sends
//   back what it decrypted, and the client ends with close_notify. A mode bit first lets a clean
//   conversation fetch a session ticket, so the fuzzed one is a resumed handshake.
// Every feed() call is checked against its contract (used <= offered, got <= cap, kMore means the
// whole offer was used, kFull means the buffer is full), and when no byte was flipped the handshake
// must finish and the bytes must come back exactly, ended by close_notify. ASan/UBSan and the leak
// checker watch the rest.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#define C1M_FUZZ_TARGET "tls_fuzz"
#include "require.h"
#include "tls.h"

namespace {

constexpr uint32_t kServer = 3;
constexpr uint32_t kClient = 4;
constexpr size_t kMaxPayload = 1 << 16;

c1m::Tls* g_tls = nullptr;
c1m::TlsContext* g_server = nullptr;
c1m::TlsContext* g_client = nullptr;

std::string pem_of(int (*write)(BIO*, void*), void* obj) {
  BIO* m = BIO_new(BIO_s_mem());
  REQUIRE(m && write(m, obj) == 1);
  char* p = nullptr;
  const long n = BIO_get_mem_data(m, &p);
  std::string s(p, size_t(n));
  BIO_free(m);
  return s;
}

// A self-signed ECDSA P-256 certificate for "localhost", made once per process.
void make_contexts() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* x = X509_new();
  REQUIRE(x);
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  REQUIRE(X509_sign(x, key, EVP_sha256()) > 0);
  const std::string cert = pem_of([](BIO* b, void* o) { return PEM_write_bio_X509(b, static_cast<X509*>(o)); }, x);
  const std::string pkey = pem_of([](BIO* b, void* o) { return PEM_write_bio_PrivateKey(b, static_cast<EVP_PKEY*>(o), nullptr, nullptr, 0, nullptr, nullptr); }, key);
  X509_free(x);
  EVP_PKEY_free(key);
  std::string err;
  g_server = c1m::Tls::server_context(cert, pkey, true, "", &err);
  REQUIRE(g_server);
  g_client = c1m::Tls::client_context(true, "localhost", &err);
  REQUIRE(g_client);
  g_tls = new c1m::Tls();
}

struct Reader {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    n--;
    return *p++;
  }
  uint16_t u16() { return uint16_t(byte() | (byte() << 8)); }
};

struct Flip {
  size_t at;
  uint8_t x;  // never 0: a flip changes the byte
};

// The bytes one side produced and the other has not yet consumed, with the flips of this
// direction applied as they pass.
struct Pipe {
  std::vector<uint8_t> q;
  size_t produced = 0;
  std::vector<Flip> flips;
  bool flipped = false;

  // Moves what the last TLS call put in the shared sink into this pipe.
  void take_sink() {
    const uint8_t* d = g_tls->sink_data();
    const size_t n = g_tls->sink_size();
    for (size_t i = 0; i < n; ++i) {
      uint8_t b = d[i];
      for (const Flip& f : flips) {
        if (f.at == produced + i) {
          b ^= f.x;
          flipped = true;
        }
      }
      q.push_back(b);
    }
    produced += n;
    g_tls->sink_clear();
  }
};

// Feeds fd what `in` holds, `chunk` bytes per call, into a plaintext buffer of `cap` bytes, as the
// core does: what a call did not use is offered first next time, and kFull is called again even
// with nothing new. Plaintext goes to *plain; whatever fd produced goes to `out`. Returns the last
// step; *moved is set when a byte was consumed or produced.
c1m::Tls::Step pump(uint32_t fd, Pipe& in, Pipe& out, size_t chunk, size_t cap, std::vector<uint8_t>* plain, bool* established, bool* moved) {
  std::vector<uint8_t> buf(cap);
  c1m::Tls::Step step = c1m::Tls::Step::kMore;
  for (int idle = 0; idle < 64;) {
    const size_t offer = std::min(chunk, in.q.size());
    const size_t sink_before = g_tls->sink_size();
    REQUIRE(sink_before == 0);
    const c1m::Tls::Feed f = g_tls->feed(fd, in.q.data(), offer, buf.data(), cap);
    REQUIRE(f.used <= offer);
    REQUIRE(f.got <= cap);
    if (f.step == c1m::Tls::Step::kMore) REQUIRE(f.used == offer);
    if (f.step == c1m::Tls::Step::kFull) REQUIRE(f.got == cap);
    if (f.established) *established = true;
    // A call that takes, gives and writes nothing is idle; a few in a row are fine (OpenSSL may
    // hold a record's plaintext between kFull calls), an endless run is a stall.
    if (f.used > 0 || f.got > 0 || g_tls->sink_size() > 0) {
      *moved = true;
      idle = 0;
    } else {
      idle++;
    }
    plain->insert(plain->end(), buf.begin(), buf.begin() + long(f.got));
    in.q.erase(in.q.begin(), in.q.begin() + long(f.used));
    out.take_sink();
    step = f.step;
    if (step == c1m::Tls::Step::kFailed || step == c1m::Tls::Step::kEnded) return step;
    if (step == c1m::Tls::Step::kMore && in.q.empty()) return step;
  }
  fuzz_fail("feed made no progress in 64 calls in a row", __LINE__);
}

void raw_mode(Reader r) {
  const size_t chunk = 1 + r.byte() % 64 * 37;
  const size_t cap = 1 + r.u16() % 20000;
  Pipe in, out;
  in.q.assign(r.p, r.p + r.n);
  REQUIRE(g_tls->open(kServer, g_server) == 0);
  std::vector<uint8_t> plain;
  bool established = false, moved = false;
  pump(kServer, in, out, chunk, cap, &plain, &established, &moved);
  // A handshake cannot finish without a client's Finished, which random bytes do not make, and
  // no plaintext exists before it.
  if (!established) REQUIRE(plain.empty());
  g_tls->close(kServer);
}

// One conversation of handshake mode: piece sizes, plaintext buffers, flips and the payload.
struct Talk {
  size_t chunk_cs, chunk_sc, cap_s, cap_c;
  std::vector<Flip> to_server, to_client;
  std::vector<uint8_t> payload;
};

// A client and a server connection of ours talk through two queues (see the head of the file).
// With expect_resume, an unflipped conversation must resume the client's kept session.
void converse(const Talk& t, bool expect_resume) {
  Pipe cs, sc;  // client to server, server to client
  cs.flips = t.to_server;
  sc.flips = t.to_client;
  REQUIRE(g_tls->open(kServer, g_server) == 0);
  REQUIRE(g_tls->open(kClient, g_client) == 0);
  REQUIRE(g_tls->start(kClient));
  cs.take_sink();
  std::vector<uint8_t> at_server, at_client;
  bool s_est = false, c_est = false;
  c1m::Tls::Step ss = c1m::Tls::Step::kMore, sc_step = c1m::Tls::Step::kMore;
  auto exchange = [&] {
    for (int round = 0; round < 64; ++round) {
      bool moved = false;
      if (ss != c1m::Tls::Step::kFailed && ss != c1m::Tls::Step::kEnded) ss = pump(kServer, cs, sc, t.chunk_cs, t.cap_s, &at_server, &s_est, &moved);
      if (sc_step != c1m::Tls::Step::kFailed && sc_step != c1m::Tls::Step::kEnded) sc_step = pump(kClient, sc, cs, t.chunk_sc, t.cap_c, &at_client, &c_est, &moved);
      if (!moved) return;
    }
  };
  exchange();
  if (!cs.flipped && !sc.flipped) {
    REQUIRE(s_est && c_est);
    REQUIRE(at_server.empty() && at_client.empty());
    if (expect_resume) REQUIRE(g_tls->resumed(kServer));
  }
  if (s_est && c_est && ss != c1m::Tls::Step::kFailed && sc_step != c1m::Tls::Step::kFailed) {
    // The client sends the payload; the server sends back what it decrypted; the client ends.
    if (!t.payload.empty() && g_tls->encrypt(kClient, t.payload.data(), t.payload.size())) cs.take_sink();
    g_tls->sink_clear();
    exchange();
    if (!at_server.empty() && ss != c1m::Tls::Step::kFailed && g_tls->encrypt(kServer, at_server.data(), at_server.size())) sc.take_sink();
    g_tls->sink_clear();
    exchange();
    g_tls->close_notify(kClient);
    cs.take_sink();
    exchange();
    if (!cs.flipped && !sc.flipped) {
      REQUIRE(at_server == t.payload);
      REQUIRE(at_client == t.payload);
      REQUIRE(ss == c1m::Tls::Step::kEnded);
    }
  }
  g_tls->close(kServer);
  g_tls->close(kClient);
  g_tls->sink_clear();
}

// Handshake mode. Each input stands alone (so a finding replays): the session an earlier input
// left is dropped, and mode bit 2 first has a clean conversation fetch a ticket, which the
// input's conversation then offers (a resumed handshake, checked to resume when unflipped).
void handshake_mode(Reader r, bool resume) {
  Talk t;
  t.chunk_cs = 1 + r.byte() % 64 * 23;
  t.chunk_sc = 1 + r.byte() % 64 * 23;
  t.cap_s = 1 + r.u16() % 20000;
  t.cap_c = 1 + r.u16() % 20000;
  const int nflips = r.byte() % 5;
  for (int i = 0; i < nflips; ++i) {
    const bool to_server = r.byte() & 1;
    const size_t at = r.u16() % 4096;
    const uint8_t x = uint8_t(r.byte() | 1);
    (to_server ? t.to_server : t.to_client).push_back({at, x});
  }
  t.payload.assign(r.p, r.p + std::min(r.n, kMaxPayload));
  if (g_client->kept) {
    SSL_SESSION_free(g_client->kept);
    g_client->kept = nullptr;
  }
  if (resume) converse(Talk{4096, 4096, 16384, 16384, {}, {}, {'t'}}, false);
  converse(t, resume);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  make_contexts();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader r{data, size};
  const uint8_t mode = r.byte();
  if (mode & 1) handshake_mode(r, mode & 2);
  else raw_mode(r);
  return 0;
}
