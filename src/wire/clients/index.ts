// Small, strict protocol clients: the conformance suite's hands and the runner's primer.

export * from './tcp.js';
export * from './frame.js';
export * from './http.js';
export * from './ws.js';
export { verifyProtocol } from './verify.js';
