// N-API surface of the engine. One EnvState per Node environment (main thread or worker):
// no statics, an async cleanup hook closes every fd and libuv handle when the environment ends.
// TypeScript validates every argument first (src/engine/options.ts); the guards here are the
// second line and throw TypeError/RangeError instead of crashing.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "loop.h"

namespace {

using c1m::Loop;

constexpr uint32_t kRecordCap = 16384;
constexpr size_t kDefaultArenaBytes = 4u << 20;
constexpr uint32_t kOpsCap = 16384;
constexpr size_t kOutArenaBytes = 1u << 20;

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
  memset(counters.Data(), 0, sizeof(c1m::Counters));
  memset(ops.Data(), 0, ops.ByteLength());

  auto names = Napi::Array::New(env, c1m::kCounterCount);
  for (int i = 0; i < c1m::kCounterCount; ++i) names.Set(uint32_t(i), c1m::kCounterNames[i]);
  auto views = Napi::Object::New(env);
  views.Set("records", records);
  views.Set("arena", arena);
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

// listen(host, port, proto, backlog, flags, maxFrame, readBudget, highWater, maxQueued) -> [index, port]
// flags: 1 reusePort, 2 ipv6Only, 4 noDelay, 8 allowHalfOpen
Napi::Value Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EnvState* st = ready_state(info, "listen");
  if (!st) return env.Undefined();
  if (info.Length() < 9 || !info[0].IsString()) return throw_type(env, "listen: host must be a string");
  uint32_t port, proto, backlog, flags, max_frame, budget, hw, mq;
  if (!get_u32(info[1], &port) || port > 65535) return throw_range(env, "listen: port must be an integer 0..65535");
  if (!get_u32(info[2], &proto) || proto > 3) return throw_range(env, "listen: unknown protocol");
  if (!get_u32(info[3], &backlog) || backlog < 1) return throw_range(env, "listen: backlog must be >= 1");
  if (!get_u32(info[4], &flags)) return throw_type(env, "listen: bad flags");
  if (!get_u32(info[5], &max_frame)) return throw_range(env, "listen: bad maxFrame");
  if (!get_u32(info[6], &budget) || budget < 1) return throw_range(env, "listen: readBudget must be >= 1");
  if (!get_u32(info[7], &hw)) return throw_range(env, "listen: bad highWater");
  if (!get_u32(info[8], &mq)) return throw_range(env, "listen: bad maxQueued");
  if ((proto == 2) && size_t(max_frame) + 4 > (st->views.Value().Get("arena").As<Napi::ArrayBuffer>().ByteLength()))
    return throw_range(env, "listen: maxFrame does not fit in the engine's arena");
  c1m::ListenOptions o;
  o.proto = c1m::Proto(proto);
  o.backlog = int(backlog);
  o.reuse_port = flags & 1;
  o.ipv6_only = flags & 2;
  o.no_delay = flags & 4;
  o.allow_half_open = flags & 8;
  o.max_frame = max_frame;
  o.read_budget = budget;
  o.high_water = hw;
  o.max_queued = mq;
  std::string host = info[0].As<Napi::String>().Utf8Value();
  int bound = 0;
  int r = st->loop.listen(host.c_str(), int(port), o, &bound);
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
  return Napi::Boolean::New(env, st->loop.close_listener(int(index), info[1].ToBoolean()));
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

Napi::Object Module(Napi::Env env, Napi::Object exports) {
  auto* st = new EnvState();
  st->env = env;
  env.SetInstanceData<EnvState, no_finalize>(st);
  napi_add_async_cleanup_hook(env, on_env_cleanup, st, &st->cleanup);
  exports.Set("init", Napi::Function::New(env, Init, "init"));
  exports.Set("listen", Napi::Function::New(env, Listen, "listen"));
  exports.Set("closeListener", Napi::Function::New(env, CloseListener, "closeListener"));
  exports.Set("write", Napi::Function::New(env, Write, "write"));
  exports.Set("end", Napi::Function::New(env, IdOp<&Loop::end>, "end"));
  exports.Set("close", Napi::Function::New(env, IdOp<&Loop::close>, "close"));
  exports.Set("pause", Napi::Function::New(env, IdOp<&Loop::pause>, "pause"));
  exports.Set("resume", Napi::Function::New(env, IdOp<&Loop::resume>, "resume"));
  exports.Set("queued", Napi::Function::New(env, Queued, "queued"));
  exports.Set("flush", Napi::Function::New(env, Flush, "flush"));
  return exports;
}

}  // namespace

NODE_API_MODULE(c1m, Module)
