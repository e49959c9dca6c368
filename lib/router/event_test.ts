import assert from "node:assert/strict";
import { parseEvent, rawMemberText, wantsIntegration } from "./event.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("parseEvent reads appId, messageId and integrations", () => {
  const p = parseEvent(enc('{"appId":"a1","messageId":"m1","integrations":{"Segment":false},"x":[1,2]}'));
  assert.ok(p.ok);
  assert.equal(p.event.appId, "a1");
  assert.equal(p.event.messageId, "m1");
  assert.deepEqual(p.event.integrations, { Segment: false });
});

Deno.test("parseEvent names why a message cannot be routed", () => {
  assert.deepEqual(parseEvent(null), { ok: false, reason: "empty" });
  assert.deepEqual(parseEvent(enc("not json")), { ok: false, reason: "not_json" });
  assert.deepEqual(parseEvent(enc("[1]")), { ok: false, reason: "not_object" });
  assert.deepEqual(parseEvent(enc('{"messageId":"m"}')), { ok: false, reason: "missing_app_id" });
  assert.deepEqual(parseEvent(enc('{"appId":42}')), { ok: false, reason: "missing_app_id" });
});

Deno.test("wantsIntegration follows Segment's opt-out rules", () => {
  assert.equal(wantsIntegration(undefined, "Segment"), true);
  assert.equal(wantsIntegration({ Segment: false }, "Segment"), false);
  assert.equal(wantsIntegration({ Segment: false }, "Amplitude"), true);
  assert.equal(wantsIntegration({ All: false, Amplitude: true }, "Amplitude"), true);
  assert.equal(wantsIntegration({ All: false, Amplitude: true }, "Segment"), false);
  assert.equal(wantsIntegration({ All: true, Segment: false }, "Segment"), false);
  assert.equal(wantsIntegration({ Segment: { some: "options" } }, "Segment"), true);
});

Deno.test("rawMemberText returns a member's exact text", () => {
  const inner = '{ "appId" : "a", "n": 1.50, "s": "x\\"}y", "arr": [ {"}": 1} ] }';
  const text = `{"retryCount":1,"integration":"seg","message":${inner}}`;
  assert.equal(rawMemberText(text, "message"), inner);
  assert.equal(rawMemberText(text, "integration"), '"seg"');
  assert.equal(rawMemberText(text, "retryCount"), "1");
  assert.equal(rawMemberText(' { "a" : 1 , "message" : true } ', "message"), "true");
  assert.equal(rawMemberText('{"a":1}', "message"), undefined);
  assert.equal(rawMemberText("[1]", "message"), undefined);
});
