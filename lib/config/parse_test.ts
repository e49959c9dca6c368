import assert from "node:assert/strict";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { boolean, duration, hostPortList, httpUrl, integer, optional, required, text, withDefault } from "./fields.ts";
import { parseConfig, pickEnv } from "./parse.ts";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

const schema = z.object({
  brokers: required("host:port,host:port", hostPortList),
  group: required("a consumer group id", text),
  port: withDefault("a port number", integer(1, 65535), 8080),
  debug: withDefault("true or false", boolean, false),
  flush: withDefault("a duration like 1s", duration, 1000),
  houston: optional("an http(s) URL", httpUrl),
});
const labels = {
  brokers: "ER_BOOTSTRAP_SERVERS",
  group: "ER_KAFKA_GROUP_ID",
  port: "ER_SERVER_PORT",
  debug: "ER_DEBUG",
  flush: "--flush",
  houston: "ER_HOUSTON_API_URL",
};

Deno.test("parseConfig lists every missing and invalid variable at once, by the name the user writes", () => {
  const err = thrown(() =>
    parseConfig(schema, { port: "80a", debug: "maybe", flush: "10", houston: "ftp://x" }, labels)
  );
  assert.ok(err instanceof ConfigError);
  const problems = err.problems.join("\n");
  assert.equal(err.problems.length, 6, problems);
  assert.match(problems, /ER_BOOTSTRAP_SERVERS: is required \(host:port,host:port\)/);
  assert.match(problems, /ER_KAFKA_GROUP_ID: is required/);
  assert.match(problems, /ER_SERVER_PORT: "80a" is invalid: not an integer/);
  assert.match(problems, /ER_DEBUG: "maybe" is invalid/);
  assert.match(problems, /--flush: "10" is invalid.*expected a duration/);
  assert.match(problems, /ER_HOUSTON_API_URL: "ftp:\/\/x" is invalid: scheme must be http or https/);
  assert.match(err.message, /6 problems/);
});

Deno.test("parseConfig returns typed values with defaults applied", () => {
  const cfg = parseConfig(schema, { brokers: "127.0.0.1:9092, kafka:9093", group: "er", flush: "1m30s" }, labels);
  assert.deepEqual(cfg, {
    brokers: ["127.0.0.1:9092", "kafka:9093"],
    group: "er",
    port: 8080,
    debug: false,
    flush: 90_000,
  });
  assert.equal(cfg.houston, undefined);
});

Deno.test("hostPortList names the bad entry", () => {
  const err = thrown(() => parseConfig(schema, { brokers: "a:1,b", group: "g" }, labels));
  assert.ok(err instanceof ConfigError);
  assert.match(err.problems[0] ?? "", /bad entry "b"/);
});

Deno.test("hostPortList accepts host:port lists and names what is wrong with a bad entry", () => {
  assert.deepEqual(hostPortList("kafka-1:9092"), ["kafka-1:9092"]);
  assert.deepEqual(hostPortList(" a.example.com:9092 , 10.0.0.1:29092,,[::1]:9093 "), [
    "a.example.com:9092",
    "10.0.0.1:29092",
    "[::1]:9093",
  ]);
  const cases: [string, RegExp][] = [
    ["", /empty list/],
    ["kafka:9092,kafka2", /bad entry "kafka2": missing port/],
    [":9092", /bad entry ":9092": missing host/],
    ["kafka:port", /bad entry "kafka:port": invalid port "port"/],
    ["kafka:70000", /bad entry "kafka:70000": port 70000 out of range/],
    ["kafka:0", /port 0 out of range/],
    ["http://kafka:9092", /bad entry "http:\/\/kafka:9092": invalid host/],
  ];
  for (const [input, message] of cases) assert.throws(() => hostPortList(input), message, input);
});

Deno.test("pickEnv takes the first alias that is set and non-empty", () => {
  assert.equal(pickEnv({ A: "", B: "2", C: "3" }, "A", "B", "C"), "2");
  assert.equal(pickEnv({}, "A"), undefined);
});
