// N-API surface of the engine. One EnvState per Node environment (main thread or worker):
// no statics, an async cleanup hook closes every fd and libuv handle when the environment ends.
// TypeScript validates every argument first (src/engine/options.ts); the guards here are the
// second line and throw TypeError/RangeError instead of crashing.
#include <napi.h>
#include <uv.h>

#include <arpa/inet.h>
#include <malloc.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "loop.h"

namespace {

using c1m::Loop;

constexpr uint32_t kRecordCap = 16384;
constexpr size_t kDefaultArenaBytes = 4u << 20;
// The most connections a client group ramps to, and the most publishers it has (LIMITS in src/limits.ts).
constexpr uint32_t kMaxConnections = 10'000'000;
constexpr uint32_t kOpsCap = 16384;
constexpr size_t kOutArenaBytes = 1u << 20;
constexpr uint32_t kMetaWords = 256u << 10;  // request descriptors of one batch

struct EnvState {
  napi_env env = nullptr;
  Loop loop;
  bool initialized = false;
  Napi::FunctionReference on_batch;
  Napi::ObjectReference views;  // keeps the shared ArrayBuffers alive for the Loop's life
  napi_async_context async_ctx = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
};

EnvState* state_of(const Napi::Env& env) { return env.GetInstanceData<EnvState>(); }

void no_finalize(Napi::Env, EnvState*) {}

Napi::Value throw_type(const Napi::Env& env, const std::string& msg) {
  Napi::TypeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value throw_range(const Napi::Env& env, const std::string& msg) {
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

// Calls the JS batch handler through MakeCallback, so promise jobs and nextTicks queued by the
// handler run when it returns, as after any libuv callback. An exception becomes an uncaught
// exception of the environment, never a silent loss.
void dispatch_to_js(void* ctx, uint32_t count) {
  auto* st = static_cast<EnvState*>(ctx);
  napi_env env = st->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value fn = st->on_batch.Value();
  napi_value recv, arg, result;
  napi_get_global(env, &recv);  // make_callback needs an object receiver
  napi_create_uint32(env, count, &arg);
  napi_status s = napi_make_callback(env, st->async_ctx, recv, fn, 1, &arg, &result);
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

void on_loop_closed(void* arg) {
  auto* st = static_cast<EnvState*>(arg);
  napi_remove_async_cleanup_hook(st->cleanup);
  delete st;
}

void on_env_cleanup(napi_async_cleanup_hook_handle, void* arg) {
  auto* st = static_cast<EnvState*>(arg);
  st->on_batch.Reset();
  st->views.Reset();
  if (st->async_ctx) napi_async_destroy(st->env, st->async_ctx);
  st->async_ctx = nullptr;
  if (st->initialized) {
    st->loop.shutdown(on_loop_closed, st);
  } else {
    on_loop_closed(st);
  }
}

bool get_u32(const Napi::Value& v, uint32_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != double(uint32_t(d))) return false;
  *out = uint32_t(d);
  return true;
}

// init(onBatch, arenaBytes?) -> { records, arena, ops, outArena, counters, counterNames, ... }
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = state_of(env);
  if (info.Length() < 1 || !info[0].IsFunction()) return throw_type(env, "init: onBatch must be a function");
  if (st->initialized) {
    st->on_batch.Reset(info[0].As<Napi::Function>(), 1);
    return st->views.Value();
  }
  size_t arena_bytes = kDefaultArenaBytes;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    uint32_t a;
    if (!get_u32(info[1], &a) || a < (256u << 10)) return throw_range(env, "init: arenaBytes must be an integer >= 262144");
    arena_bytes = a;
  }
  auto records = Napi::ArrayBuffer::New(env, size_t(kRecordCap) * c1m::kRecordWords * 4);
  auto arena = Napi::ArrayBuffer::New(env, arena_bytes);
  auto ops = Napi::ArrayBuffer::New(env, size_t(kOpsCap + 1) * c1m::kRecordWords * 4);
  auto out_arena = Napi::ArrayBuffer::New(env, kOutArenaBytes);
  auto counters = Napi::ArrayBuffer::New(env, sizeof(c1m::Counters));
  auto meta = Napi::ArrayBuffer::New(env, size_t(kMetaWords) * 4);
  memset(counters.Data(), 0, sizeof(c1m::Counters));
  memset(ops.Data(), 0, ops.ByteLength());

  auto names = Napi::Array::New(env, c1m::kCounterCount);
  for (int i = 0; i < c1m::kCounterCount; ++i) names.Set(uint32_t(i), c1m::kCounterNames[i]);
  auto views = Napi::Object::New(env);
  views.Set("records", records);
  views.Set("arena", arena);
  views.Set("meta", meta);
  views.Set("ops", ops);
  views.Set("outArena", out_arena);
  views.Set("counters", counters);
  views.Set("counterNames", names);
  views.Set("recordWords", c1m::kRecordWords);
  views.Set("recordCap", kRecordCap);
  views.Set("opsCap", kOpsCap);

  Loop::Views v{};
  v.records = static_cast<uint32_t*>(records.Data());
  v.record_cap = kRecordCap;
  v.arena = static_cast<uint8_t*>(arena.Data());
  v.arena_cap = arena_bytes;
  v.meta = static_cast<uint32_t*>(meta.Data());
  v.meta_cap = kMetaWords;
  v.ops = static_cast<uint32_t*>(ops.Data());
  v.ops_cap = kOpsCap;
  v.out_arena = static_cast<uint8_t*>(out_arena.Data());
  v.out_arena_cap = kOutArenaBytes;
  v.counters = static_cast<c1m::Counters*>(counters.Data());

  uv_loop_t* uv = nullptr;
  if (napi_get_uv_event_loop(env, &uv) != napi_ok || !uv) return throw_type(env, "init: no libuv loop in this environment");
  napi_value resource_name;
  napi_create_string_utf8(env, "c1m.batch", NAPI_AUTO_LENGTH, &resource_name);
  napi_async_init(env, nullptr, resource_name, &st->async_ctx);
  int r = st->loop.init(uv, v, Loop::JsHooks{dispatch_to_js, st});
  if (r < 0) {
    Napi::Error::New(env, std::string("init: ") + strerror(-r)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  st->initialized = true;
  st->on_batch.Reset(info[0].As<Napi::Function>(), 1);
  st->views.Reset(views, 1);
  return views;
}

EnvState* ready_state(const Napi::CallbackInfo& info, const char* fn) {
  EnvState* st = state_of(info.Env());
  if (!st->initialized) {
    Napi::Error::New(info.Env(), std::string(fn) + ": engine not initialized").ThrowAsJavaScriptException();
    return nullptr;
  }
  return st;
}

// Reads an optional unsigned integer option; false (with a RangeError thrown) when present but bad.
bool opt_u32(const Napi::Object& o, const char* key, uint32_t* out, uint32_t min, uint32_t max) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  uint32_t x;
  if (!get_u32(v, &x) || x < min || x > max) {
    Napi::RangeError::New(o.Env(), std::string("listen: ") + key + " must be an integer " + std::to_string(min) + ".." +
                                       std::to_string(max)).ThrowAsJavaScriptException();
    return false;
  }
  *out = x;
  return true;
}

bool opt_str(const Napi::Object& o, const char* key, std::string* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (!v.IsString()) {
    Napi::TypeError::New(o.Env(), std::string("listen: ") + key + " must be a string").ThrowAsJavaScriptException();
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

// Why the io_uring backend cannot run, from the -errno its setup returned.
std::string uring_reason(int r) {
  switch (-r) {
    case ENOSYS: return "this addon was built without liburing (install liburing-dev, then rebuild: npm run build:native)";
    case EPERM: return "io_uring_setup was refused (EPERM): kernel.io_uring_disabled, or a seccomp filter (a container runtime's default profile)";
    default: return std::string(strerror(-r)) + " (errno " + std::to_string(-r) + ") setting up the ring and its provided-buffer ring";
  }
}

#ifdef C1M_URING
// uringSupport() -> 0 when this kernel runs the io_uring backend (a ring with a provided-buffer
// ring), else -errno. Exported only by a build with liburing.
Napi::Value UringSupport(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), Loop::uring_support()); }
#endif

// The server TLS context of listen()'s `tls` option { cert, key (PEM strings), tickets,
// handshakeTimeoutMs, ticketKeys (a Buffer, optional) }; nullptr with a JS exception thrown when
// it is malformed or OpenSSL refuses it.
c1m::TlsContext* listen_tls(const Napi::Object& o, c1m::ListenOptions* opt) {
  Napi::Env env = o.Env();
  Napi::Value t = o.Get("tls");
  if (!t.IsObject()) {
    Napi::TypeError::New(env, "listen: tls must be an object { cert, key, tickets, handshakeTimeoutMs }").ThrowAsJavaScriptException();
    return nullptr;
  }
  Napi::Object to = t.As<Napi::Object>();
  if (!to.Get("cert").IsString() || !to.Get("key").IsString()) {
    Napi::TypeError::New(env, "listen: tls.cert and tls.key must be PEM strings").ThrowAsJavaScriptException();
    return nullptr;
  }
  bool tickets = true;
  if (!to.Get("tickets").IsUndefined()) {
    if (!to.Get("tickets").IsBoolean()) {
      Napi::TypeError::New(env, "listen: tls.tickets must be a boolean").ThrowAsJavaScriptException();
      return nullptr;
    }
    tickets = to.Get("tickets").As<Napi::Boolean>().Value();
  }
  uint32_t hs = opt->tls_handshake_timeout_ms;
  if (!to.Get("handshakeTimeoutMs").IsUndefined() && (!get_u32(to.Get("handshakeTimeoutMs"), &hs) || hs > (1u << 30))) {
    Napi::RangeError::New(env, "listen: tls.handshakeTimeoutMs must be an integer 0..1073741824").ThrowAsJavaScriptException();
    return nullptr;
  }
  std::string ticket_keys;
  Napi::Value tk = to.Get("ticketKeys");
  if (!tk.IsUndefined() && !tk.IsNull()) {
    if (!tk.IsBuffer()) {
      Napi::TypeError::New(env, "listen: tls.ticketKeys must be a Buffer").ThrowAsJavaScriptException();
      return nullptr;
    }
    Napi::Buffer<char> b = tk.As<Napi::Buffer<char>>();
    ticket_keys.assign(b.Data(), b.Length());
  }
  opt->tls_handshake_timeout_ms = hs;
  std::string err;
  c1m::TlsContext* c = c1m::Tls::server_context(to.Get("cert").As<Napi::String>().Utf8Value(),
                                                to.Get("key").As<Napi::String>().Utf8Value(), tickets, ticket_keys, &err);
  if (!c) Napi::Error::New(env, "listen: " + err).ThrowAsJavaScriptException();
  return c;
}

// listen(host, port, options) -> [index, port]. Options (all optional): proto 0..5, ws 0..3,
// backlog, flags (1 reusePort, 2 ipv6Only, 4 noDelay, 8 allowHalfOpen), maxFrame, readBudget,
// highWater, maxQueued, maxHeaderBytes, maxBody, idleTimeoutMs, pingIntervalMs, wsCloseTimeoutMs, staticPath,
// staticBody, staticType, tls { cert, key, tickets, handshakeTimeoutMs, ticketKeys }.
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "listen");
  if (!st) return env.Undefined();
  if (info.Length() < 3 || !info[0].IsString()) return throw_type(env, "listen: host must be a string");
  uint32_t port;
  if (!get_u32(info[1], &port) || port > 65535) return throw_range(env, "listen: port must be an integer 0..65535");
  if (!info[2].IsObject()) return throw_type(env, "listen: options must be an object");
  Napi::Object o = info[2].As<Napi::Object>();
  const size_t arena = st->views.Value().Get("arena").As<Napi::ArrayBuffer>().ByteLength();
  c1m::ListenOptions opt;
  // Defaults come from ListenOptions (the one place they are written in native code).
  uint32_t proto = 0, ws = 0, backlog = uint32_t(opt.backlog), flags = 4, max_frame = opt.max_frame, budget = opt.read_budget,
           hw = uint32_t(opt.high_water), mq = uint32_t(opt.max_queued), max_head = opt.max_header_bytes, max_body = opt.max_body,
           idle = opt.idle_timeout_ms, ping = opt.ping_interval_ms, ws_close = opt.ws_close_timeout_ms,
           head_to = opt.header_timeout_ms, linger = opt.linger_ms, topic_name = opt.max_topic_name, topics = opt.max_topics,
           backend = 0;
  if (!opt_u32(o, "proto", &proto, 0, 5) || !opt_u32(o, "ws", &ws, 0, 3) || !opt_u32(o, "backlog", &backlog, 1, 1u << 20) ||
      !opt_u32(o, "flags", &flags, 0, 15) || !opt_u32(o, "maxFrame", &max_frame, 0, uint32_t(arena - 64)) ||
      !opt_u32(o, "readBudget", &budget, 1, 0xffffffffu) || !opt_u32(o, "highWater", &hw, 0, 0xffffffffu) ||
      !opt_u32(o, "maxQueued", &mq, 0, 0xffffffffu) || !opt_u32(o, "maxHeaderBytes", &max_head, 256, 1u << 20) ||
      !opt_u32(o, "maxBody", &max_body, 0, uint32_t(arena / 2)) || !opt_u32(o, "idleTimeoutMs", &idle, 0, 1u << 30) ||
      !opt_u32(o, "pingIntervalMs", &ping, 0, 1u << 30) || !opt_u32(o, "wsCloseTimeoutMs", &ws_close, 1, 1u << 30) ||
      !opt_u32(o, "headerTimeoutMs", &head_to, 0, 1u << 30) || !opt_u32(o, "lingerMs", &linger, 1, 1u << 30) ||
      !opt_u32(o, "maxTopicNameBytes", &topic_name, 1, 1u << 20) || !opt_u32(o, "maxTopics", &topics, 1, 1u << 30) ||
      !opt_u32(o, "backend", &backend, 0, 1) ||
      !opt_str(o, "staticPath", &opt.static_path) ||
      !opt_str(o, "staticBody", &opt.static_body) || !opt_str(o, "staticType", &opt.static_type))
    return env.Undefined();
  if (size_t(max_head) + max_body > arena / 2) return throw_range(env, "listen: maxHeaderBytes + maxBody must fit in half the engine's arena");
  opt.proto = c1m::Proto(proto);
  opt.ws = c1m::WsMode(ws);
  opt.backlog = int(backlog);
  opt.reuse_port = flags & 1;
  opt.ipv6_only = flags & 2;
  opt.no_delay = flags & 4;
  opt.allow_half_open = flags & 8;
  opt.max_frame = max_frame;
  opt.read_budget = budget;
  opt.high_water = hw;
  opt.max_queued = mq;
  opt.max_header_bytes = max_head;
  opt.max_body = max_body;
  opt.idle_timeout_ms = idle;
  opt.ping_interval_ms = ping;
  opt.ws_close_timeout_ms = ws_close;
  opt.header_timeout_ms = head_to;
  opt.linger_ms = linger;
  opt.max_topic_name = topic_name;
  opt.max_topics = topics;
  opt.uring = backend == 1;
  const bool want_tls = !o.Get("tls").IsUndefined() && !o.Get("tls").IsNull();
  c1m::TlsContext* tls = nullptr;
  if (want_tls && !(tls = listen_tls(o, &opt))) return env.Undefined();
  if (opt.uring) {
    // The ring is opened once per engine, by its first uring listener: a failure names why.
    int u = st->loop.uring_open();
    if (u < 0) {
      auto err = Napi::Error::New(env, "listen: the io_uring backend cannot run here: " + uring_reason(u));
      err.Set("errno", Napi::Number::New(env, -u));
      err.Set("code", Napi::String::New(env, "C1M_URING_UNAVAILABLE"));
      err.ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int bound = 0;
  int r = st->loop.listen(host.c_str(), int(port), opt, &bound, tls);  // the context is the loop's now
  if (r < 0) {
    auto err = Napi::Error::New(env, "listen " + host + ":" + std::to_string(port) + ": " + strerror(-r));
    err.Set("errno", Napi::Number::New(env, -r));
    err.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = Napi::Array::New(env, 2);
  out.Set(0u, r);
  out.Set(1u, bound);
  return out;
}

Napi::Value CloseListener(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "closeListener");
  if (!st) return env.Undefined();
  uint32_t index;
  if (info.Length() < 2 || !get_u32(info[0], &index)) return throw_type(env, "closeListener: index must be an integer");
  return Napi::Number::New(env, double(st->loop.close_listener(int(index), info[1].ToBoolean())));
}

// accountMemory(): refreshes the counters computed when read: engineBytes, topics and loopWaits.
Napi::Value AccountMemory(const Napi::CallbackInfo& info) {
  EnvState* st = ready_state(info, "accountMemory");
  if (st) st->loop.account_memory();
  return info.Env().Undefined();
}

// heapStats() -> { inUseBytes }: what glibc's malloc has handed out right now (mallinfo2: arena
// chunks in use plus mmapped chunks), the allocator's own count the engine's figure is checked against.
Napi::Value HeapStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct mallinfo2 mi = mallinfo2();
  auto o = Napi::Object::New(env);
  o.Set("inUseBytes", Napi::Number::New(env, double(mi.uordblks + mi.hblkhd)));
  return o;
}

bool id_args(const Napi::CallbackInfo& info, const char* fn, uint32_t* fd, uint32_t* gen) {
  if (info.Length() < 2 || !get_u32(info[0], fd) || !get_u32(info[1], gen)) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": connection id parts must be integers").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// write(fd, gen, bytes: Uint8Array) -> queued bytes, -1 stale/closed, -2 after end()
Napi::Value Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "write");
  if (!st) return env.Undefined();
  uint32_t fd, gen;
  if (!id_args(info, "write", &fd, &gen)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsTypedArray()) return throw_type(env, "write: data must be a Uint8Array");
  auto ta = info[2].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return throw_type(env, "write: data must be a Uint8Array");
  auto u8 = ta.As<Napi::Uint8Array>();
  return Napi::Number::New(env, double(st->loop.write(fd, gen, u8.Data(), u8.ByteLength())));
}

template <bool (Loop::*Op)(uint32_t, uint32_t)>
Napi::Value IdOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "connection op");
  if (!st) return env.Undefined();
  uint32_t fd, gen;
  if (!id_args(info, "connection op", &fd, &gen)) return env.Undefined();
  return Napi::Boolean::New(env, (st->loop.*Op)(fd, gen));
}

Napi::Value Queued(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "queued");
  if (!st) return env.Undefined();
  uint32_t fd, gen;
  if (!id_args(info, "queued", &fd, &gen)) return env.Undefined();
  return Napi::Number::New(env, double(st->loop.queued(fd, gen)));
}

Napi::Value Flush(const Napi::CallbackInfo& info) {
  EnvState* st = ready_state(info, "flush");
  if (st) st->loop.run_ops();
  return info.Env().Undefined();
}

bool u8_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, Napi::Uint8Array* out) {
  if (info.Length() <= i || !info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i + 1) + " must be a Uint8Array")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

// respond(fd, gen, status, headerLines: Uint8Array, body: Uint8Array) -> bool
Napi::Value Respond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "respond");
  uint32_t fd, gen, status;
  Napi::Uint8Array h, b;
  if (!st || !id_args(info, "respond", &fd, &gen)) return env.Undefined();
  if (info.Length() < 3 || !get_u32(info[2], &status) || status < 100 || status > 999) return throw_range(env, "respond: status must be 100..999");
  if (!u8_arg(info, 3, "respond", &h) || !u8_arg(info, 4, "respond", &b)) return env.Undefined();
  return Napi::Boolean::New(env, st->loop.protocols().respond(fd, gen, uint16_t(status), h.Data(), h.ByteLength(), b.Data(), b.ByteLength()));
}

// wsSend(fd, gen, opcode 1|2, data) -> bool
Napi::Value WsSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "wsSend");
  uint32_t fd, gen, opcode;
  Napi::Uint8Array d;
  if (!st || !id_args(info, "wsSend", &fd, &gen)) return env.Undefined();
  if (info.Length() < 3 || !get_u32(info[2], &opcode) || (opcode != 1 && opcode != 2)) return throw_range(env, "wsSend: opcode must be 1 (text) or 2 (binary)");
  if (!u8_arg(info, 3, "wsSend", &d)) return env.Undefined();
  return Napi::Boolean::New(env, st->loop.protocols().ws_send(fd, gen, uint8_t(opcode), d.Data(), d.ByteLength()));
}

// wsClose(fd, gen, code, reason) -> bool
Napi::Value WsClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "wsClose");
  uint32_t fd, gen, code;
  Napi::Uint8Array r;
  if (!st || !id_args(info, "wsClose", &fd, &gen)) return env.Undefined();
  if (info.Length() < 3 || !get_u32(info[2], &code) || code < 1000 || code > 4999) return throw_range(env, "wsClose: code must be 1000..4999");
  if (!u8_arg(info, 3, "wsClose", &r)) return env.Undefined();
  return Napi::Boolean::New(env, st->loop.protocols().ws_close(fd, gen, uint16_t(code), r.Data(), r.ByteLength()));
}

// subscribe(fd, gen, topic) -> 1 joined (or already a member), 0 stale id or not a WebSocket,
// -1 name longer than the listener's maxTopicNameBytes, -2 maxTopics reached.
// unsubscribe(fd, gen, topic) -> 1 left, 0 not a member (or a stale id).
template <typename R, R (c1m::Topics::*Op)(uint32_t, uint32_t, std::string_view)>
Napi::Value TopicOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "subscribe");
  uint32_t fd, gen;
  if (!st || !id_args(info, "subscribe", &fd, &gen)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsString()) return throw_type(env, "subscribe: topic must be a string");
  std::string t = info[2].As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, double(int((st->loop.topics().*Op)(fd, gen, t))));
}

// publish(topic, data, opcode) -> deliveries
Napi::Value Publish(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "publish");
  Napi::Uint8Array d;
  uint32_t opcode;
  if (!st) return env.Undefined();
  if (info.Length() < 3 || !info[0].IsString()) return throw_type(env, "publish: topic must be a string");
  if (!u8_arg(info, 1, "publish", &d)) return env.Undefined();
  if (!get_u32(info[2], &opcode) || (opcode != 1 && opcode != 2)) return throw_range(env, "publish: opcode must be 1 (text) or 2 (binary)");
  std::string t = info[0].As<Napi::String>().Utf8Value();
  return Napi::Number::New(env, double(st->loop.topics().publish(t, uint8_t(opcode), d.Data(), d.ByteLength())));
}

Napi::Value TopicSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "topicSize");
  if (!st) return env.Undefined();
  if (info.Length() < 1 || !info[0].IsString()) return throw_type(env, "topicSize: topic must be a string");
  return Napi::Number::New(env, double(st->loop.topics().size(info[0].As<Napi::String>().Utf8Value())));
}

// clientGroup({ proto 0..4, targets: [[host, port]...], sources: [ip...], msgBytes, depth,
// connectTimeoutMs, handshakeTimeoutMs, responseTimeoutMs, heartbeatMs, rooms, publishers, path, host,
// tls: { resume, servername } }) -> index
Napi::Value ClientGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "clientGroup");
  if (!st) return env.Undefined();
  if (info.Length() < 1 || !info[0].IsObject()) return throw_type(env, "clientGroup: options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  c1m::ClientOptions opt;
  uint32_t proto = 0;
  auto u32 = [&](const char* key, uint32_t* out, uint32_t min, uint32_t max) {
    Napi::Value v = o.Get(key);
    if (v.IsUndefined()) return true;
    if (!get_u32(v, out) || *out < min || *out > max) {
      Napi::RangeError::New(env, std::string("clientGroup: ") + key + " must be an integer " + std::to_string(min) + ".." + std::to_string(max))
          .ThrowAsJavaScriptException();
      return false;
    }
    return true;
  };
  // The same ranges as src/limits.ts (test/limits.test.ts checks they refuse exactly outside them).
  if (!u32("proto", &proto, 0, 4) || !u32("msgBytes", &opt.msg_bytes, 1, 16u << 20) || !u32("depth", &opt.depth, 1, 4096) ||
      !u32("connectTimeoutMs", &opt.connect_timeout_ms, 1, 1u << 30) || !u32("handshakeTimeoutMs", &opt.handshake_timeout_ms, 1, 1u << 30) ||
      !u32("responseTimeoutMs", &opt.response_timeout_ms, 1, 1u << 30) ||
      !u32("heartbeatMs", &opt.heartbeat_ms, 0, 1u << 30) || !u32("rooms", &opt.rooms, 1, 1u << 24) ||
      !u32("publishers", &opt.publishers, 0, kMaxConnections))
    return env.Undefined();
  opt.proto = c1m::ClientProto(proto);
  if (o.Get("path").IsString()) opt.path = o.Get("path").As<Napi::String>().Utf8Value();
  if (o.Get("host").IsString()) opt.host = o.Get("host").As<Napi::String>().Utf8Value();
  if (!o.Get("targets").IsArray()) return throw_type(env, "clientGroup: targets must be an array of [host, port]");
  auto targets = o.Get("targets").As<Napi::Array>();
  for (uint32_t i = 0; i < targets.Length(); ++i) {
    Napi::Value t = targets.Get(i);
    uint32_t port;
    if (!t.IsArray() || t.As<Napi::Array>().Length() != 2 || !t.As<Napi::Array>().Get(0u).IsString() ||
        !get_u32(t.As<Napi::Array>().Get(1u), &port) || port == 0 || port > 65535)
      return throw_type(env, "clientGroup: each target must be [host, port 1..65535]");
    std::string host = t.As<Napi::Array>().Get(0u).As<Napi::String>().Utf8Value();
    sockaddr_storage ss{};
    auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host.c_str(), &a4->sin_addr) == 1) {
      a4->sin_family = AF_INET;
      a4->sin_port = htons(uint16_t(port));
    } else if (inet_pton(AF_INET6, host.c_str(), &a6->sin6_addr) == 1) {
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(uint16_t(port));
    } else {
      return throw_type(env, "clientGroup: target host must be an IP literal, got " + host);
    }
    opt.targets.push_back(ss);
  }
  if (opt.targets.empty()) return throw_range(env, "clientGroup: at least one target is needed");
  if (o.Get("sources").IsArray()) {
    auto src = o.Get("sources").As<Napi::Array>();
    for (uint32_t i = 0; i < src.Length(); ++i) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      if (!src.Get(i).IsString() || inet_pton(AF_INET, src.Get(i).As<Napi::String>().Utf8Value().c_str(), &a.sin_addr) != 1)
        return throw_type(env, "clientGroup: sources must be IPv4 literals");
      opt.sources.push_back(a);
    }
  }
  c1m::TlsContext* tls = nullptr;
  Napi::Value tv = o.Get("tls");
  if (!tv.IsUndefined() && !tv.IsNull()) {
    if (!tv.IsObject()) return throw_type(env, "clientGroup: tls must be an object { resume, servername? }");
    Napi::Object to = tv.As<Napi::Object>();
    Napi::Value resume = to.Get("resume"), name = to.Get("servername");
    if (!resume.IsUndefined() && !resume.IsBoolean()) return throw_type(env, "clientGroup: tls.resume must be a boolean");
    if (!name.IsUndefined() && !name.IsString()) return throw_type(env, "clientGroup: tls.servername must be a string");
    std::string err;
    tls = c1m::Tls::client_context(resume.IsBoolean() && resume.As<Napi::Boolean>().Value(),
                                   name.IsString() ? name.As<Napi::String>().Utf8Value() : std::string(), &err);
    if (!tls) {
      Napi::Error::New(env, "clientGroup: " + err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  int g = st->loop.connector().open_group(std::move(opt), tls);  // the context is the group's now
  if (g < 0) return throw_range(env, std::string("clientGroup: ") + strerror(-g));
  return Napi::Number::New(env, g);
}

bool group_arg(const Napi::CallbackInfo& info, const char* fn, int* g) {
  uint32_t x;
  if (info.Length() < 1 || !get_u32(info[0], &x)) {
    Napi::TypeError::New(info.Env(), std::string(fn) + ": group must be an integer").ThrowAsJavaScriptException();
    return false;
  }
  *g = int(x);
  return true;
}

Napi::Value ClientRamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "clientRamp");
  int g;
  if (!st || !group_arg(info, "clientRamp", &g)) return env.Undefined();
  if (info.Length() < 3 || !info[1].IsNumber() || !info[2].IsNumber()) return throw_type(env, "clientRamp: target and rate must be numbers");
  double target = info[1].As<Napi::Number>().DoubleValue(), rate = info[2].As<Napi::Number>().DoubleValue();
  if (!(target >= 0 && target <= kMaxConnections) || !(rate >= 0))
    return throw_range(env, "clientRamp: target must be 0.." + std::to_string(kMaxConnections) + " and rate >= 0");
  return Napi::Boolean::New(env, st->loop.connector().ramp(g, uint64_t(target), rate));
}

Napi::Value ClientRun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "clientRun");
  int g;
  uint32_t mode;
  if (!st || !group_arg(info, "clientRun", &g)) return env.Undefined();
  if (info.Length() < 3 || !get_u32(info[1], &mode) || mode > 4 || !info[2].IsNumber()) return throw_range(env, "clientRun: mode 0..4 and a numeric rate");
  return Napi::Boolean::New(env, st->loop.connector().run(g, c1m::LoadMode(mode), info[2].As<Napi::Number>().DoubleValue()));
}

template <bool (c1m::Connector::*Op)(int)>
Napi::Value ClientOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "client op");
  int g;
  if (!st || !group_arg(info, "client op", &g)) return env.Undefined();
  return Napi::Boolean::New(env, (st->loop.connector().*Op)(g));
}

// clientStats(g, withLatency = true) -> counts, connect errors by errno name, and the latency
// histogram (encoded; omitted with withLatency false: what a ramp polls every few ms).
Napi::Value ClientStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "clientStats");
  int g;
  if (!st || !group_arg(info, "clientStats", &g)) return env.Undefined();
  const c1m::ClientGroup* G = st->loop.connector().group(g);
  if (!G) return env.Null();
  const c1m::ClientStats& s = G->st;
  auto o = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, double(v))); };
  num("started", s.started);
  num("established", s.established);
  num("failed", s.failed);
  num("closed", s.closed);
  num("pending", s.pending);
  num("active", s.active);
  num("attemptsLeft", G->attempts_left);
  num("window", uint64_t(G->window));
  num("windowMin", G->window_min);
  num("ops", s.ops);
  num("sent", s.sent);
  num("dropped", s.dropped);
  num("timedOut", s.timed_out);
  num("lost", s.lost);
  num("unanswered", s.unanswered);
  num("answered", s.answered);
  num("backlog", uint64_t(G->backlog.size()));
  num("bytesIn", s.bytes_in);
  num("bytesOut", s.bytes_out);
  num("errConnect", s.err_connect);
  num("errRead", s.err_read);
  num("errWrite", s.err_write);
  num("errTimeout", s.err_timeout);
  num("errProtocol", s.err_protocol);
  num("peerClosed", s.peer_closed);
  num("closedInHandshake", s.closed_in_handshake);
  num("inFlight", G->in_flight);
  num("tlsHandshakes", s.tls_handshakes);
  num("tlsResumed", s.tls_resumed);
  num("tlsHandshakeFailed", s.tls_failed);
  auto tls_errs = Napi::Object::New(env);
  for (const auto& [why, n] : G->tls_errors) tls_errs.Set(why, Napi::Number::New(env, double(n)));
  o.Set("tlsErrors", tls_errs);
  auto errs = Napi::Object::New(env);
  for (const auto& [e, n] : G->connect_errnos) {
    const char* name = strerrorname_np(e);
    errs.Set(name ? name : std::to_string(e).c_str(), Napi::Number::New(env, double(n)));
  }
  o.Set("connectErrors", errs);
  if (info.Length() > 1 && info[1].IsBoolean() && !info[1].As<Napi::Boolean>().Value()) return o;
  std::vector<uint64_t> enc;
  G->hist.encode(enc);
  auto h = Napi::Float64Array::New(env, enc.size());
  for (size_t i = 0; i < enc.size(); ++i) h[i] = double(enc[i]);
  o.Set("histogram", h);
  return o;
}

// The engine's vocabulary as JS sees it, generated from the very lists its enums are made of
// (records.h), so the addon is the one source: src/engine/records.ts keeps a typed copy and
// test/engine-constants.test.ts fails when the two disagree.
void export_vocabulary(Napi::Env env, Napi::Object exports) {
  auto kinds = Napi::Object::New(env);
#define C1M_SET(name, code) kinds.Set(#name, uint32_t(code));
  C1M_RECORD_KINDS(C1M_SET)
#undef C1M_SET
  auto ops = Napi::Object::New(env);
#define C1M_SET(name, code) ops.Set(#name, uint32_t(code));
  C1M_OP_KINDS(C1M_SET)
#undef C1M_SET
  auto reasons = Napi::Object::New(env);  // code -> name, as a kRecClose record carries it
#define C1M_SET(name, js, code) reasons.Set(uint32_t(code), js);
  C1M_CLOSE_REASONS(C1M_SET)
#undef C1M_SET
  auto protocols = Napi::Object::New(env);
#define C1M_SET(name, js, code) protocols.Set(js, uint32_t(code));
  C1M_PROTOCOLS(C1M_SET)
#undef C1M_SET
  auto ws_modes = Napi::Object::New(env);
#define C1M_SET(name, js, code) ws_modes.Set(js, uint32_t(code));
  C1M_WS_MODES(C1M_SET)
#undef C1M_SET
  auto names = Napi::Array::New(env, c1m::kCounterCount);
  for (int i = 0; i < c1m::kCounterCount; ++i) names.Set(uint32_t(i), c1m::kCounterNames[i]);
  exports.Set("recordKinds", kinds);
  exports.Set("opKinds", ops);
  exports.Set("closeReasons", reasons);
  exports.Set("protocols", protocols);
  exports.Set("wsModes", ws_modes);
  exports.Set("recordWords", c1m::kRecordWords);
  exports.Set("requestFixedWords", c1m::kReqFixedWords);
  exports.Set("counterNames", names);
  // The io_uring backend's fixed sizes (native/uring.h), present in every build.
  auto uring = Napi::Object::New(env);
  uring.Set("sqEntries", c1m::UringBackend::kSqEntries);
  uring.Set("cqEntries", c1m::UringBackend::kCqEntries);
  uring.Set("buffers", c1m::UringBackend::kBuffers);
  uring.Set("bufferBytes", c1m::UringBackend::kBufferBytes);
  uring.Set("holdCap", uint32_t(c1m::UringBackend::kHoldCap));
#ifdef C1M_URING
  uring.Set("built", true);
#else
  uring.Set("built", false);
#endif
  exports.Set("uringSizes", uring);
  // The TLS library listeners and client groups use: Node's own OpenSSL (native/tls.h).
  exports.Set("tlsLibrary", c1m::Tls::library());
}

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  auto* st = new EnvState();
  st->env = env;
  env.SetInstanceData<EnvState, no_finalize>(st);
  napi_add_async_cleanup_hook(env, on_env_cleanup, st, &st->cleanup);
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
#ifdef C1M_URING
  exports.Set("uringSupport", Napi::Function::New(env, UringSupport, "uringSupport"));
#endif
  exports.Set("closeListener", Napi::Function::New(env, CloseListener, "closeListener"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("end", Napi::Function::New(env, IdOp<&Loop::end>, "end"));
  exports.Set("close", Napi::Function::New(env, IdOp<&Loop::close>, "close"));
  exports.Set("pause", Napi::Function::New(env, IdOp<&Loop::pause>, "pause"));
  exports.Set("resume", Napi::Function::New(env, IdOp<&Loop::resume>, "resume"));
  exports.Set("queued", Napi::Function::New(env, Queued, "queued"));
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
  exports.Set("respond", Napi::Function::New(env, Respond, "respond"));
  exports.Set("wsSend", Napi::Function::New(env, WsSend, "wsSend"));
  exports.Set("wsClose", Napi::Function::New(env, WsClose, "wsClose"));
  exports.Set("subscribe", Napi::Function::New(env, TopicOp<int, &c1m::Topics::subscribe>, "subscribe"));
  exports.Set("unsubscribe", Napi::Function::New(env, TopicOp<bool, &c1m::Topics::unsubscribe>, "unsubscribe"));
  exports.Set("accountMemory", Napi::Function::New(env, AccountMemory, "accountMemory"));
  exports.Set("heapStats", Napi::Function::New(env, HeapStats, "heapStats"));
  exports.Set("publish", Napi::Function::New(env, Publish, "publish"));
  exports.Set("topicSize", Napi::Function::New(env, TopicSize, "topicSize"));
  exports.Set("clientGroup", Napi::Function::New(env, ClientGroup, "clientGroup"));
  exports.Set("clientRamp", Napi::Function::New(env, ClientRamp, "clientRamp"));
  exports.Set("clientRun", Napi::Function::New(env, ClientRun, "clientRun"));
  exports.Set("clientReset", Napi::Function::New(env, ClientOp<&c1m::Connector::reset>, "clientReset"));
  exports.Set("clientStop", Napi::Function::New(env, ClientOp<&c1m::Connector::stop>, "clientStop"));
  exports.Set("clientFinish", Napi::Function::New(env, ClientOp<&c1m::Connector::finish>, "clientFinish"));
  exports.Set("clientClose", Napi::Function::New(env, ClientOp<&c1m::Connector::close_group>, "clientClose"));
  exports.Set("clientStats", Napi::Function::New(env, ClientStats, "clientStats"));
  export_vocabulary(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(c1m, Module)
