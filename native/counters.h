// Engine counters: one plain struct of uint64 that lives inside a JS-owned ArrayBuffer, so JS
// reads every counter through one BigUint64Array view without a call per counter.
#pragma once
#include <cstdint>

namespace c1m {

// TLS (server connections only; a client group counts its own): tlsHandshakes full handshakes
// finished, tlsResumed resumed ones, tlsHandshakeFailed handshakes that failed (a bad or
// truncated ClientHello the peer closed or reset on, garbage, no shared cipher),
// tlsHandshakeTimeouts handshakes not finished within handshakeTimeoutMs (or ended by a shorter
// idle limit), tlsPlainHttp plain HTTP requests sent to a TLS port (answered 400 in plain text).
// On a TLS connection bytesIn counts plaintext delivered and bytesOut counts bytes on the wire
// (ciphertext).
// uringCoopTaskrun is 1 while the io_uring ring runs its task work cooperatively (COOP_TASKRUN,
// native/uring.cc setup_ring), 0 for the plain ring or no ring; summed over a run's workers, it
// counts the workers whose ring does.
// A handshake timeout also counts a handshake ended by the idle limit (with handshakeTimeoutMs 0,
// every idle close mid-handshake); a failed handshake also counts one the peer broke off (a reset,
// a FIN, an error, a peer that never read our flight).
// loopWaits is libuv's epoll_pwait calls on the thread's loop, read when the counters are read:
// one per turn (uv_metrics_info's loop_count) and a second in each turn whose poll blocked (Node
// has libuv time its idle polls, which first look without waiting). They wait around the
// engine's own epoll_wait, and are the only wait on io_uring (libuv's poll announces its
// completions).
// X-macro so the names JS sees and the struct fields can never drift apart.
#define C1M_COUNTERS(X)                                                                     \
  X(accepted) X(closed) X(active) X(bytesIn) X(bytesOut) X(reads) X(writes)                 \
  X(eagainReads) X(eagainWrites) X(epollWaits) X(events) X(rounds) X(batches) X(records)    \
  X(largestBatch) X(budgetRequeues) X(queuedBytes) X(queuedBytesPeak) X(pausedReads)        \
  X(closedGraceful) X(closedLocal) X(closedReset) X(closedError) X(closedProtocol)          \
  X(closedBackpressure) X(errAccept) X(errEmfile) X(errRead) X(errWrite) X(errNoMemory)     \
  X(staleIds) X(framesIn) X(listeners) X(httpRequests) X(httpResponses) X(httpErrors)       \
  X(wsUpgrades) X(wsMessagesIn) X(wsMessagesOut) X(wsProtocolErrors) X(published)          \
  X(deliveries) X(idleTimeouts) X(heartbeatCloses) X(pingsSent) X(pongsIn) X(engineBytes)       \
  X(wsCloseTimeouts) X(headerTimeouts) X(lingerTimeouts) X(finWaitTimeouts) X(lingerCloses)           \
  X(closedTimeout) X(drainCut) X(errNoRoom) X(topics) X(topicRefusals) X(httpContinues) \
  X(enters) X(uringRecvs) X(uringSends) X(uringRearms) X(uringNoBufs) X(uringCoopTaskrun)   \
  X(tlsHandshakes) X(tlsResumed) X(tlsHandshakeFailed) X(tlsHandshakeTimeouts) X(tlsPlainHttp) \
  X(loopWaits)

struct Counters {
#define C1M_FIELD(name) uint64_t name;
  C1M_COUNTERS(C1M_FIELD)
#undef C1M_FIELD
};

constexpr const char* kCounterNames[] = {
#define C1M_NAME(name) #name,
    C1M_COUNTERS(C1M_NAME)
#undef C1M_NAME
};
constexpr int kCounterCount = sizeof(kCounterNames) / sizeof(kCounterNames[0]);
static_assert(sizeof(Counters) == kCounterCount * sizeof(uint64_t));

}  // namespace c1m
