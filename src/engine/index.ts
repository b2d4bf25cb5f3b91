// The engine's public face: the epoll server, the batch engine under it, the connector, their
// options and records, and the addon loader. Whatever needs only the engine (the epoll
// contenders, the native driver) imports it from here, not from the package face (src/index.ts),
// which also carries the runner's scenario helpers and would load them into every engine process.
// Importing this module does not load the addon: loadAddon() (or the first server or client
// group) does.

export { createServer, EpollServer } from './server.js';
export type { ServerHandlers, ServerAddress, CloseOptions } from './server.js';
export { Engine, Batch } from './engine.js';
export { HttpRequest, encodeHeaders } from './http.js';
export type { BatchHandler, EngineCounters } from './engine.js';
export { resolveServerOptions, MAX_FRAME_LIMIT, ENGINE_BACKENDS, TICKET_KEY_BYTES } from './options.js';
export type { ServerOptions, ResolvedServerOptions, EngineBackend, ServerTlsOptions, ResolvedServerTls } from './options.js';
export { Rec, CloseReason, Op, ProtoCode, WsModeCode, fdOf, genOf } from './records.js';
export type { CloseReasonName, EngineProtocol, WebSocketMode } from './records.js';
export { loadAddon, addonPath, uringStatus } from './native.js';
export type { UringStatus, UringSizes } from './native.js';
export { ClientGroup } from './client.js';
export type { ClientGroupOptions, ClientGroupStats, ClientProtocol, ClientLoadMode, ClientTlsOptions } from './client.js';
