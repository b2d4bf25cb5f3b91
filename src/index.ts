// c1m as a library: the epoll engine's TypeScript API.
export { createServer, EpollServer } from './engine/server.js';
export type { ServerHandlers, ServerAddress, CloseOptions } from './engine/server.js';
export { Engine, Batch } from './engine/engine.js';
export { HttpRequest, encodeHeaders } from './engine/http.js';
export type { BatchHandler, EngineCounters } from './engine/engine.js';
export { resolveServerOptions, MAX_FRAME_LIMIT } from './engine/options.js';
export type { ServerOptions, ResolvedServerOptions } from './engine/options.js';
export { Rec, CloseReason, Op, ProtoCode, WsModeCode, fdOf, genOf } from './engine/records.js';
export type { CloseReasonName, EngineProtocol, WebSocketMode } from './engine/records.js';
export { loadAddon, addonPath } from './native.js';
export { ClientGroup } from './engine/client.js';
export type { ClientGroupOptions, ClientGroupStats, ClientProtocol, ClientLoadMode } from './engine/client.js';
export { defineScenario } from './runner/scenario.js';
export { LIMITS, checkLimit } from './limits.js';
export type { Limit, LimitName } from './limits.js';
