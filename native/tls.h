// TLS for the engine's connections, server and client side: the one home of TLS. It uses the
// OpenSSL that Node itself exports to addons (headers from node-gyp's include path, symbols from
// the node binary), never a second copy linked in.
//
// Tls owns the contexts' creation (a server's certificate, key and ticket policy; a client's
// session kept for resumption), one TLS state per connection (indexed by fd, like the slot
// table), and the in-memory BIO that stands between OpenSSL and the socket. The core moves the
// bytes: ciphertext it received is lent to feed(), which returns plaintext; plaintext is sealed by
// encrypt(); every record OpenSSL produces (handshake flights, tickets, alerts, sealed data) is
// appended to one sink the core sends and clears right after the call that filled it.
//
// Idle cost: the BIO is one small object per connection with no buffer of its own (it reads from
// the window the core lends for the length of one call and writes to the shared sink), OpenSSL
// releases its record buffers whenever they are empty (SSL_MODE_RELEASE_BUFFERS), and ciphertext a
// call could not use (SSL stopped because the plaintext buffer was full) is kept per connection
// only while some is left.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "byte_buf.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;

namespace c1m {

// One configuration shared by many connections. A server context holds the certificate and key
// and whether session tickets are issued; a client context holds the name it asks for (SNI) and,
// with resume, the newest resumable session a server gave it, offered by each new connection.
struct TlsContext {
  SSL_CTX* ctx = nullptr;
  bool server = false;
  bool resume = false;
  std::string servername;
  SSL_SESSION* kept = nullptr;  // client, resume: the newest session with a ticket (owned)
};

class Tls {
 public:
  // What one feed() call came to.
  enum class Step : uint8_t {
    kMore,    // it used all the ciphertext it was lent and wants more (plaintext may have come)
    kFull,    // the plaintext buffer is full: call again (ciphertext may be left over)
    kEnded,   // the peer sent close_notify: no more plaintext will come
    kFailed,  // a fatal error (a handshake failure, a bad record): the alert, if any, is in the sink
  };
  struct Feed {
    Step step;
    bool established;  // the handshake finished in this call
    size_t used;       // ciphertext bytes taken from the window
    size_t got;        // plaintext bytes written
  };

  Tls() = default;
  ~Tls();
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;

  // The OpenSSL this addon runs on (Node's own), e.g. "OpenSSL 3.0.19 30 Sep 2025".
  static const char* library();

  // ---- Contexts ----

  // Bytes of a ticket key: 16 of name, 32 of HMAC key, 32 of AES key (SSL_CTX_set_tlsext_ticket_keys).
  static constexpr size_t kTicketKeyBytes = 80;

  // A server context from a PEM certificate (chain) and a PEM private key; tickets: whether
  // session tickets are issued (TLS 1.3 resumes only by tickets; no session cache is kept either
  // way, so with tickets off nothing resumes); ticket_keys: empty (a random key of this context's
  // own) or kTicketKeyBytes to seal tickets with, shared with other servers. nullptr with *err
  // set when the PEM, the pair or the key is bad.
  static TlsContext* server_context(const std::string& cert_pem, const std::string& key_pem, bool tickets, const std::string& ticket_keys,
                                    std::string* err);
  // A client context: the peer is not verified (the run's certificate is self-signed); resume
  // keeps the newest session a server issues and offers it on every new connection.
  static TlsContext* client_context(bool resume, const std::string& servername, std::string* err);
  // Frees a context (accepts nullptr). Connections still open keep OpenSSL's own reference to it.
  static void context_free(TlsContext* c);

  // ---- Connections ----

  // Starts TLS on fd with context c (server: waits for the ClientHello; client: the ClientHello is
  // produced by start()). Returns 0 or -ENOMEM.
  int open(uint32_t fd, TlsContext* c);
  // Forgets fd's TLS state (accepts an fd without one).
  void close(uint32_t fd);
  bool has(uint32_t fd) const { return fd < conns_.size() && conns_[fd].ssl != nullptr; }
  // Client: writes the ClientHello into the sink. False on failure.
  bool start(uint32_t fd);
  // Lends SSL the ciphertext [in, in+n) and reads plaintext into [out, out+cap). What the call
  // does not take stays the caller's; it must be offered first next time (see pending()).
  Feed feed(uint32_t fd, const uint8_t* in, size_t n, uint8_t* out, size_t cap);
  // Ciphertext an earlier call left over, kept per connection (nullptr when none). The caller
  // offers it before anything new and consumes what feed() used.
  ByteBuf*& pending(uint32_t fd) { return conns_[fd].cin; }
  // Seals n bytes of plaintext into records appended to the sink. False on failure.
  bool encrypt(uint32_t fd, const uint8_t* p, size_t n);
  // Appends our close_notify to the sink, once, if the handshake finished.
  void close_notify(uint32_t fd);
  // Whether nothing has been fed yet (the first bytes decide a plain HTTP request), whether the
  // handshake finished, and whether it resumed a session.
  bool fresh(uint32_t fd) const { return conns_[fd].state == kFresh; }
  bool established(uint32_t fd) const { return conns_[fd].state == kOpen || conns_[fd].state == kEnded; }
  bool resumed(uint32_t fd) const;
  // Client with resume: whether a session (in TLS 1.3 a ticket, after the handshake) came on fd.
  // A resumed TLS 1.2 session gets none (OpenSSL reports no new session): it counts as had.
  bool got_ticket(uint32_t fd) const;
  // Why the connection failed (OpenSSL's reason, or ours); "" before any failure.
  const char* failure(uint32_t fd) const { return conns_[fd].why ? conns_[fd].why : ""; }

  // The records produced since the last sink_clear().
  const uint8_t* sink_data() const { return sink_.data(); }
  size_t sink_size() const { return sink_.size(); }
  void sink_clear();

  // Heap bytes Tls holds besides OpenSSL's own (the per-fd table, kept ciphertext, the sink).
  uint64_t memory_bytes() const;
  // Live TLS connections.
  uint64_t live() const { return live_; }

 private:
  enum : uint8_t { kFresh = 0, kHandshake = 1, kOpen = 2, kEnded = 3, kFailed = 4 };
  struct Conn {
    SSL* ssl = nullptr;
    ByteBuf* cin = nullptr;    // ciphertext left over by feed(), only while some is
    const char* why = nullptr; // failure reason (static strings: OpenSSL's or ours)
    uint8_t state = kFresh;
    bool notified = false;     // our close_notify was produced
    bool ticket = false;       // client, resume: a session (ticket) came on this connection
  };

  static int bio_write(BIO* b, const char* p, size_t n, size_t* written);
  static int bio_read(BIO* b, char* p, size_t n, size_t* got);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);
  static int on_new_session(SSL* ssl, SSL_SESSION* sess);
  bool ensure_method();
  void fail(Conn& c, const char* fallback);

  BIO_METHOD* method_ = nullptr;
  std::vector<Conn> conns_;          // indexed by fd
  std::vector<uint8_t> sink_;        // records produced by the current call
  const uint8_t* win_ = nullptr;     // the ciphertext lent to the current feed()
  size_t win_n_ = 0;
  uint64_t live_ = 0;
};

}  // namespace c1m
