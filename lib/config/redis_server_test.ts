/**
 * Parsing `--server` and the Redis login settings: Flapjack's host:port, redis:// and rediss:// URLs, the password
 * from the URL or the environment, and each conflict or bad value as a problem that never shows the password.
 * @module
 */
import assert from "node:assert/strict";
import { describeRedisTarget, loadRedisTarget } from "./redis_server.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const files: Record<string, string> = { "/ca.pem": CA, "/pw": "from-file\n" };
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw new Error(`No such file: ${path}`);
  return text;
};

Deno.test("loadRedisTarget reads host:port, redis:// and rediss:// with user, password and database", () => {
  assert.deepEqual(loadRedisTarget({}, {}, readFile), {
    target: { host: "localhost", port: 6380, database: 0 },
    problems: [],
  });
  assert.deepEqual(loadRedisTarget({ server: "10.0.0.5:6379", database: "3" }, {}, readFile).target, {
    host: "10.0.0.5",
    port: 6379,
    database: 3,
  });
  assert.deepEqual(loadRedisTarget({ server: "redis://flap%40jack:p%3Ass@redis.internal/2" }, {}, readFile).target, {
    host: "redis.internal",
    port: 6379,
    database: 2,
    username: "flap@jack",
    password: "p:ss",
  });
  const tls = loadRedisTarget({ server: "rediss://[::1]:6390", tlsCa: "/ca.pem" }, { REDIS_PASSWORD: "pw" }, readFile);
  assert.deepEqual(tls.target, { host: "::1", port: 6390, database: 0, password: "pw", tls: { ca: CA } });
  assert.equal(describeRedisTarget(tls.target!), "rediss://[::1]:6390/0");
  const fromFile = loadRedisTarget({ server: "redis://u@h:1" }, { REDIS_PASSWORD_FILE: "/pw" }, readFile);
  assert.equal(fromFile.target?.password, "from-file");
  assert.equal(describeRedisTarget(fromFile.target!), "redis://u@h:1/0");
});

Deno.test("loadRedisTarget lists every problem, naming the setting and never the password", () => {
  const cases: [Parameters<typeof loadRedisTarget>[0], Record<string, string>, RegExp][] = [
    [{ server: "nohost" }, {}, /^--server: expected host:port, redis:\/\/.* \(got "nohost"\)$/],
    [{ server: "http://h:1" }, {}, /^--server: expected host:port/],
    [{ server: "h:70000" }, {}, /^--server: port 70000 out of range/],
    [{ server: "redis://h/x" }, {}, /^--server: the URL's path must be a database number, got "x"$/],
    [{ server: "redis://h?tls=1" }, {}, /^--server: the URL takes no query or fragment/],
    [{ server: "redis://h/2", database: "3" }, {}, /^--database: the database is also in --server's URL/],
    [{ database: "-1" }, {}, /^--database: "-1" is not an integer ≥ 0$/],
    [{ server: "redis://:secret-pw@h" }, { REDIS_PASSWORD: "other" }, /URL and REDIS_PASSWORD: both are set/],
    [{}, { REDIS_PASSWORD: "a", REDIS_PASSWORD_FILE: "/pw" }, /^REDIS_PASSWORD and REDIS_PASSWORD_FILE: both/],
    [{}, { REDIS_PASSWORD_FILE: "/missing" }, /^REDIS_PASSWORD_FILE: cannot read "\/missing"/],
    [{ tlsCa: "/ca.pem" }, {}, /^--redis-tls-ca: needs a rediss:\/\/ URL/],
    [{ server: "rediss://h", tlsCa: "/pw" }, {}, /^--redis-tls-ca: "\/pw" holds no PEM certificate$/],
    [{ server: "redis//:secret-pw@h" }, {}, /^--server: expected/],
  ];
  for (const [settings, env, expected] of cases) {
    const { target, problems } = loadRedisTarget(settings, env, readFile);
    assert.equal(target, undefined, JSON.stringify(settings));
    assert.equal(problems.length, 1, problems.join("\n"));
    assert.match(problems[0]!, expected);
    assert.ok(!problems[0]!.includes("secret-pw"), problems[0]);
  }
  const redacted = loadRedisTarget({ server: "redis://u:secret-pw@h:99999" }, {}, readFile).problems.join();
  assert.ok(!redacted.includes("secret-pw"), redacted);
});
