// Record and op layouts shared with the engine. The addon is their one source (native/records.h
// writes each list once and addon.cc exports it: recordKinds, opKinds, closeReasons, protocols,
// wsModes, requestFixedWords). This typed copy exists because its literal types type the API and
// because importing the package must not load the addon (options are validated, and the runner's
// parent process imports the engine, without it); test/engine-constants.test.ts fails the moment
// it and the addon disagree.

/** Record kinds (low 16 bits of word 0; the listener index is in the high 16). */
export const Rec = {
  Open: 1,
  Data: 2,
  Frame: 3,
  End: 4,
  Close: 5,
  Drain: 6,
  ListenerDrained: 7,
  Request: 8,
  WsOpen: 9,
  WsMessage: 10,
} as const;

/** Why a connection closed (word 3 of a Close record). */
export const CloseReason = {
  1: 'graceful',
  2: 'local',
  3: 'reset',
  4: 'error',
  5: 'protocol',
  6: 'backpressure',
  7: 'no-memory',
  8: 'timeout',
  9: 'header-timeout',
} as const;
export type CloseReasonName = (typeof CloseReason)[keyof typeof CloseReason];

/** Ops JS queues during a batch callback; executed natively when the callback returns. */
export const Op = {
  Write: 1,
  End: 2,
  Close: 3,
  WriteEnd: 4,
  Pause: 5,
  Resume: 6,
  Respond: 7,
  WsSend: 8,
  WsClose: 9,
} as const;

/** Native protocol codes. */
export const ProtoCode = { raw: 0, echo: 1, frame: 2, 'frame-echo': 3, http: 4, 'http-static': 5 } as const;
export type EngineProtocol = keyof typeof ProtoCode;

/** What an HTTP listener does with WebSocket upgrades. */
export const WsModeCode = { off: 0, js: 1, echo: 2, broadcast: 3 } as const;
export type WebSocketMode = keyof typeof WsModeCode;

/** Words of a request descriptor before its headers (native/records.h kReqFixedWords). */
export const REQ_FIXED_WORDS = 9;

/** 2^32: ids are fd + generation * 2^32, unique for 2^21 reuses of one fd. */
export const ID_SPLIT = 4294967296;

/** Splits a connection id into its fd and generation. */
export function fdOf(id: number): number {
  return id % ID_SPLIT;
}
export function genOf(id: number): number {
  return Math.floor(id / ID_SPLIT);
}
