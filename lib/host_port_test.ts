import assert from "node:assert/strict";
import { hostPortProblem, splitHostPort } from "./host_port.ts";

Deno.test("hostPortProblem accepts host names, IPv4 and bracketed IPv6 with a port, and names each problem", () => {
  for (
    const ok of ["kafka-1:9092", "b-1.msk.eu-west-1.amazonaws.com:9096", "127.0.0.1:1", "[::1]:65535", "[fe80::1]:9"]
  ) {
    assert.equal(hostPortProblem(ok), null, ok);
  }
  const cases: Array<[string, string]> = [
    ["", "empty entry"],
    ["kafka-1", "missing port"],
    ["[::1]", "missing port"],
    [":9092", "missing host"],
    ["kafka 1:9092", 'invalid host "kafka 1"'],
    ["::1:9092", 'invalid host "::1"'],
    ["-kafka:9092", 'invalid host "-kafka"'],
    ["kafka:port", 'invalid port "port"'],
    ["kafka:", 'invalid port ""'],
    ["kafka:0", "port 0 out of range 1-65535"],
    ["kafka:70000", "port 70000 out of range 1-65535"],
  ];
  for (const [entry, problem] of cases) assert.equal(hostPortProblem(entry), problem, entry);
});

Deno.test("splitHostPort splits what hostPortProblem accepts and refuses the rest", () => {
  assert.deepEqual(splitHostPort("kafka-1:9092"), { host: "kafka-1", port: 9092 });
  assert.deepEqual(splitHostPort("[::1]:9092"), { host: "::1", port: 9092 });
  assert.throws(() => splitHostPort("kafka-1"), /not a host:port: "kafka-1" \(missing port\)/);
});
