// TLS through OpenSSL with an in-memory BIO (see tls.h for what Tls owns and why its BIO has no
// buffer of its own).
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace c1m {

namespace {

// An encrypted private key would make OpenSSL's default callback prompt on the terminal: no
// passphrase is given instead, and the key is refused with a clear error.
int no_passphrase(char*, int, int, void*) { return 0; }

// A client that does not verify: the chain is accepted without being built.
int accept_any_chain(X509_STORE_CTX*, void*) { return 1; }

// OpenSSL's reason for the newest error on this thread's queue, with `what` in front; the queue
// is cleared (Node's own crypto shares it).
std::string ssl_error(const char* what) {
  std::string msg = what;
  unsigned long e = ERR_peek_last_error();
  if (e) {
    const char* r = ERR_reason_error_string(e);
    msg += ": ";
    msg += r ? r : "OpenSSL error " + std::to_string(e);
  }
  ERR_clear_error();
  return msg;
}

constexpr size_t kSinkKeep = 1u << 20;  // a sink grown past this is given back after use

}  // namespace

Tls::~Tls() {
  for (Conn& c : conns_) {
    if (c.ssl) SSL_free(c.ssl);
    bytebuf_free(c.cin);
  }
  conns_.clear();
  if (method_) BIO_meth_free(method_);
}

const char* Tls::library() { return OpenSSL_version(OPENSSL_VERSION); }

// ---------------------------------------------------------------------------------------------
// Contexts

TlsContext* Tls::server_context(const std::string& cert_pem, const std::string& key_pem, bool tickets, const std::string& ticket_keys,
                                std::string* err) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) {
    *err = ssl_error("tls: cannot create a server context");
    return nullptr;
  }
  auto bail = [&](const char* what) {
    *err = ssl_error(what);
    SSL_CTX_free(ctx);
    return nullptr;
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Record buffers are freed whenever they are empty: an idle connection keeps none.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // The client's order of cipher suites decides, as it does for uWS (BoringSSL) and node:tls: every
  // contender then negotiates the same suite with the same driver (the connector offers a
  // browser's order, AES-128-GCM first; see client_context), so their handshakes are the same work.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  // No server-side session cache: resumption is by tickets only, so a run with tickets off
  // resumes nothing (in TLS 1.3 SSL_OP_NO_TICKET alone would switch to stateful tickets kept in
  // this cache), and a million connections leave no million cached sessions.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (!tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  } else if (!ticket_keys.empty()) {
    // The key tickets are sealed with (name, HMAC key, AES key: kTicketKeyBytes in OpenSSL's
    // layout) instead of one of this context's own: servers given the same key resume each
    // other's tickets, as the processes of one service behind one port do.
    if (ticket_keys.size() != Tls::kTicketKeyBytes) {
      *err = "tls.ticketKeys: must be " + std::to_string(Tls::kTicketKeyBytes) + " bytes, got " + std::to_string(ticket_keys.size());
      SSL_CTX_free(ctx);
      return nullptr;
    }
    std::string keys = ticket_keys;  // OpenSSL's ctrl takes a mutable buffer
    if (SSL_CTX_set_tlsext_ticket_keys(ctx, keys.data(), long(keys.size())) != 1) return bail("tls.ticketKeys: refused");
  }

  BIO* cb = BIO_new_mem_buf(cert_pem.data(), int(cert_pem.size()));
  if (!cb) return bail("tls: out of memory");
  X509* leaf = PEM_read_bio_X509(cb, nullptr, no_passphrase, nullptr);
  if (!leaf) {
    BIO_free(cb);
    return bail("tls.cert: no PEM certificate could be read");
  }
  const int used = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (!used) {
    BIO_free(cb);
    return bail("tls.cert: the certificate was refused");
  }
  // Any further certificates in the PEM are the chain, sent after the leaf.
  while (X509* x = PEM_read_bio_X509(cb, nullptr, no_passphrase, nullptr)) {
    if (!SSL_CTX_add0_chain_cert(ctx, x)) {
      X509_free(x);
      BIO_free(cb);
      return bail("tls.cert: a chain certificate was refused");
    }
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BIO_free(cb);

  BIO* kb = BIO_new_mem_buf(key_pem.data(), int(key_pem.size()));
  if (!kb) return bail("tls: out of memory");
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, no_passphrase, nullptr);
  BIO_free(kb);
  if (!key) return bail("tls.key: no unencrypted PEM private key could be read");
  const int key_used = SSL_CTX_use_PrivateKey(ctx, key);
  EVP_PKEY_free(key);
  if (!key_used) return bail("tls.key: the private key was refused");
  if (!SSL_CTX_check_private_key(ctx)) return bail("tls.key does not match tls.cert");

  auto* c = new TlsContext;
  c->ctx = ctx;
  c->server = true;
  return c;
}

TlsContext* Tls::client_context(bool resume, const std::string& servername, std::string* err) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    *err = ssl_error("tls: cannot create a client context");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // A browser's order of TLS 1.3 suites (Chrome and Firefox offer AES-128-GCM first); OpenSSL's
  // default offers AES-256-GCM-SHA384 first. Servers that follow the client (all of ours) then
  // negotiate what most real clients get.
  if (!SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")) {
    *err = ssl_error("tls: the TLS 1.3 cipher suites were refused");
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // The peer is not verified (the run's certificate is self-signed): with no chain built, a
  // connection keeps no verified chain of its own.
  SSL_CTX_set_cert_verify_callback(ctx, accept_any_chain, nullptr);
  auto* c = new TlsContext;
  c->ctx = ctx;
  c->resume = resume;
  c->servername = servername;
  if (resume) {
    // Sessions come to on_new_session (in TLS 1.3 only after the handshake, with a ticket); none
    // is kept in OpenSSL's own cache.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);  // TLS 1.2 servers then issue none
  }
  SSL_CTX_set_ex_data(ctx, 0, c);
  return c;
}

void Tls::context_free(TlsContext* c) {
  if (!c) return;
  if (c->kept) SSL_SESSION_free(c->kept);
  // Connections still open hold their own reference to the SSL_CTX; it never points back here.
  SSL_CTX_set_ex_data(c->ctx, 0, nullptr);
  SSL_CTX_free(c->ctx);
  delete c;
}

// A client with resume was given a session: the newest resumable one is kept for new connections.
int Tls::on_new_session(SSL* ssl, SSL_SESSION* sess) {
  auto* c = static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0));
  if (!c || !SSL_SESSION_is_resumable(sess)) return 0;
  // The connection it came on is told (a churn waits for its own ticket before it closes).
  if (BIO* b = SSL_get_rbio(ssl)) {
    auto* self = static_cast<Tls*>(BIO_get_data(b));
    const uintptr_t fd = reinterpret_cast<uintptr_t>(SSL_get_app_data(ssl));
    if (self && fd < self->conns_.size() && self->conns_[fd].ssl == ssl) self->conns_[fd].ticket = true;
  }
  if (c->kept) SSL_SESSION_free(c->kept);
  c->kept = sess;
  return 1;  // the reference is ours now
}

// ---------------------------------------------------------------------------------------------
// The BIO: reads from the window feed() lends, writes to the sink. It never holds bytes.

bool Tls::ensure_method() {
  if (method_) return true;
  method_ = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "c1m window");
  if (!method_) return false;
  BIO_meth_set_write_ex(method_, bio_write);
  BIO_meth_set_read_ex(method_, bio_read);
  BIO_meth_set_ctrl(method_, bio_ctrl);
  return true;
}

int Tls::bio_write(BIO* b, const char* p, size_t n, size_t* written) {
  auto* t = static_cast<Tls*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  t->sink_.insert(t->sink_.end(), p, p + n);
  *written = n;
  return 1;
}

int Tls::bio_read(BIO* b, char* p, size_t n, size_t* got) {
  auto* t = static_cast<Tls*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (t->win_n_ == 0) {
    // Nothing lent: SSL sees "try again" (SSL_ERROR_WANT_READ), never an end of stream.
    BIO_set_retry_read(b);
    *got = 0;
    return 0;
  }
  const size_t k = std::min(n, t->win_n_);
  memcpy(p, t->win_, k);
  t->win_ += k;
  t->win_n_ -= k;
  *got = k;
  return 1;
}

long Tls::bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // the sink is sent by the caller after every call
    default: return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Connections

int Tls::open(uint32_t fd, TlsContext* c) {
  if (!ensure_method()) return -ENOMEM;
  if (fd >= conns_.size()) conns_.resize(std::max<size_t>(fd + 1, conns_.size() + 1024));
  Conn& k = conns_[fd];
  if (k.ssl) close(fd);
  SSL* ssl = SSL_new(c->ctx);
  if (!ssl) {
    ERR_clear_error();
    return -ENOMEM;
  }
  BIO* b = BIO_new(method_);
  if (!b) {
    SSL_free(ssl);
    ERR_clear_error();
    return -ENOMEM;
  }
  BIO_set_data(b, this);
  BIO_set_init(b, 1);
  SSL_set_bio(ssl, b, b);  // one BIO both ways: SSL takes our one reference
  SSL_set_app_data(ssl, reinterpret_cast<void*>(uintptr_t(fd)));
  if (c->server) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    if (!c->servername.empty() && !SSL_set_tlsext_host_name(ssl, c->servername.c_str())) ERR_clear_error();
    // Each connection offers its own copy of the kept session: OpenSSL's client marks a TLS 1.3
    // session it has resumed as used (it encourages single-use tickets), and on the shared one
    // that would leave every connection started before a newer ticket comes to a full
    // handshake. The server takes the same ticket any number of times (stateless tickets).
    if (c->resume && c->kept) {
      SSL_SESSION* mine = SSL_SESSION_dup(c->kept);
      if (!mine || !SSL_set_session(ssl, mine)) ERR_clear_error();  // no copy: a full handshake
      SSL_SESSION_free(mine);  // SSL_set_session took its own reference
    }
  }
  k = Conn{};
  k.ssl = ssl;
  live_++;
  return 0;
}

void Tls::close(uint32_t fd) {
  if (!has(fd)) return;
  Conn& c = conns_[fd];
  SSL_free(c.ssl);
  bytebuf_free(c.cin);
  c = Conn{};
  live_--;
}

void Tls::fail(Conn& c, const char* fallback) {
  unsigned long e = ERR_peek_last_error();
  const char* r = e ? ERR_reason_error_string(e) : nullptr;
  c.why = r ? r : fallback;
  c.state = kFailed;
  ERR_clear_error();
}

bool Tls::start(uint32_t fd) {
  Conn& c = conns_[fd];
  c.state = kHandshake;
  win_ = nullptr;
  win_n_ = 0;
  ERR_clear_error();
  const int r = SSL_do_handshake(c.ssl);
  if (r == 1) return true;  // cannot happen before the server spoke; harmless if it did
  if (SSL_get_error(c.ssl, r) == SSL_ERROR_WANT_READ) return true;
  fail(c, "the ClientHello could not be made");
  return false;
}

Tls::Feed Tls::feed(uint32_t fd, const uint8_t* in, size_t n, uint8_t* out, size_t cap) {
  Conn& c = conns_[fd];
  Feed f{Step::kMore, false, 0, 0};
  if (c.state == kFailed) {
    f.step = Step::kFailed;
    return f;
  }
  if (c.state == kEnded) {
    f.step = Step::kEnded;
    return f;
  }
  if (c.state == kFresh && n > 0) c.state = kHandshake;  // still fresh until a first byte is fed
  win_ = in;
  win_n_ = n;
  bool ended = false;
  // SSL_read_ex also drives the handshake (and, in TLS 1.3, takes tickets and key updates after
  // it): every record it can make out of the window is read, up to the plaintext buffer's end.
  while (f.got < cap) {
    size_t r = 0;
    ERR_clear_error();
    const int ok = SSL_read_ex(c.ssl, out + f.got, cap - f.got, &r);
    if (ok) {
      f.got += r;
      continue;
    }
    const int e = SSL_get_error(c.ssl, ok);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      ended = true;
      ERR_clear_error();
      break;
    }
    fail(c, e == SSL_ERROR_SYSCALL ? "unexpected end of the TLS stream" : "TLS protocol error");
    f.step = Step::kFailed;
    break;
  }
  f.used = n - win_n_;
  win_ = nullptr;
  win_n_ = 0;
  if (c.state == kHandshake && SSL_is_init_finished(c.ssl)) {
    c.state = kOpen;
    f.established = true;
  }
  if (f.step == Step::kFailed) return f;
  if (ended) {
    c.state = kEnded;
    f.step = Step::kEnded;
  } else if (f.got == cap) {
    f.step = Step::kFull;
  }
  return f;
}

bool Tls::encrypt(uint32_t fd, const uint8_t* p, size_t n) {
  Conn& c = conns_[fd];
  if (c.state != kOpen && c.state != kEnded) return false;
  while (n > 0) {
    size_t w = 0;
    ERR_clear_error();
    if (!SSL_write_ex(c.ssl, p, n, &w)) {
      fail(c, "TLS write failed");
      return false;
    }
    p += w;
    n -= w;
  }
  return true;
}

void Tls::close_notify(uint32_t fd) {
  if (!has(fd)) return;
  Conn& c = conns_[fd];
  if (c.notified || (c.state != kOpen && c.state != kEnded)) return;
  c.notified = true;
  win_ = nullptr;
  win_n_ = 0;
  ERR_clear_error();
  SSL_shutdown(c.ssl);  // 0: ours is sent (into the sink), the peer's not yet seen: all we wait for
  ERR_clear_error();
}

bool Tls::got_ticket(uint32_t fd) const {
  if (!has(fd)) return false;
  const Conn& c = conns_[fd];
  return c.ticket || (SSL_session_reused(c.ssl) == 1 && SSL_version(c.ssl) < TLS1_3_VERSION);
}

bool Tls::resumed(uint32_t fd) const { return has(fd) && SSL_session_reused(conns_[fd].ssl) == 1; }

void Tls::sink_clear() {
  sink_.clear();
  if (sink_.capacity() > kSinkKeep) sink_.shrink_to_fit();
}

uint64_t Tls::memory_bytes() const {
  return heap_chunk(conns_.capacity() * sizeof(Conn)) + heap_chunk(sink_.capacity());
}

}  // namespace c1m
