// The record kinds, op kinds, close reasons, protocol and WebSocket-mode codes and the record and
// request-descriptor layouts are written once, in native/records.h, and exported by the addon.
// src/engine/records.ts keeps a typed copy (its literal types type the API, and modules that
// never load the addon import it): this test is what keeps the copy honest, in both directions.
// A kind added natively and not in TypeScript fails here, as does a renamed or renumbered one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine, loadAddon, Rec, Op, CloseReason, ProtoCode, WsModeCode } from '../src/index.js';
import { REQ_FIXED_WORDS } from '../src/engine/records.js';

const addon = loadAddon();

test('record kinds: Rec in records.ts is what the addon exports', () => {
  assert.deepEqual({ ...addon.recordKinds }, { ...Rec });
});

test('op kinds: Op in records.ts is what the addon exports', () => {
  assert.deepEqual({ ...addon.opKinds }, { ...Op });
});

test('close reasons: CloseReason in records.ts is what the addon exports', () => {
  assert.deepEqual({ ...addon.closeReasons }, { ...CloseReason });
});

test('protocol and WebSocket-mode codes: ProtoCode and WsModeCode are what the addon exports', () => {
  assert.deepEqual({ ...addon.protocols }, { ...ProtoCode });
  assert.deepEqual({ ...addon.wsModes }, { ...WsModeCode });
});

test('layouts: a record is 5 words (Batch in engine.ts reads it so), a request descriptor REQ_FIXED_WORDS before its headers', () => {
  assert.equal(addon.recordWords, 5);
  assert.equal(addon.requestFixedWords, REQ_FIXED_WORDS);
});

test('counter names come from the addon alone: unique, and the engine reads exactly them', () => {
  const names = addon.counterNames;
  assert.equal(new Set(names).size, names.length);
  assert.deepEqual(Object.keys(Engine.get().counters()), [...names]);
});
