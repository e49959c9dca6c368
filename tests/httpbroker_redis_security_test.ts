/**
 * The httpbroker against Redis as operators run it, each a real redis-server: with `requirepass` (password from
 * REDIS_PASSWORD), with an ACL user (user and password in a redis:// URL, and the password from
 * REDIS_PASSWORD_FILE), and over TLS only (`rediss://` with `--redis-tls-ca` and an openssl-made CA). States reach
 * Flapjack's list; a wrong password, an untrusted certificate and a database the server lacks each give one error
 * line naming the problem, never the password; refusals while running keep states and recover without a restart;
 * a refused database at start exits 2.
 * @module
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { parseHttpBrokerArgs } from "../lib/config/httpbroker.ts";
import { httpBrokerCommand } from "../commands/receiver/httpbroker.ts";
import { main } from "../main.ts";
import { ConfigError } from "../lib/config/errors.ts";
import { startHttpBroker } from "../lib/httpbroker/service.ts";
import { createLogger } from "../lib/log.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { startRedis } from "../testing/redis.ts";
import { waitUntil } from "../testing/wait.ts";

const PASSWORD = "redis-Pa55word-secret";

/** A broker from command-line arguments and an environment, as `receiver httpbroker` builds it; its log lines. */
async function brokerFrom(args: string[], env: Record<string, string> = {}) {
  const config = parseHttpBrokerArgs(["--interval", "200ms", "--no-persist", ...args], env);
  assert.ok(config !== "version");
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (l) => lines.push(l) });
  const broker = await startHttpBroker(config, { logger, connectWaitMs: 3000 });
  const post = async (entity: string) => {
    const res = await broker.handler(
      new Request("http://broker/state", {
        method: "POST",
        body: JSON.stringify({ entity, check: "ping", state: "ok", ttl: 60 }),
      }),
    );
    await res.body?.cancel();
    return res.status;
  };
  const ready = async () => (await broker.handler(new Request("http://broker/ready"))).status;
  return { broker, lines, post, ready };
}

/** Waits until Flapjack's list holds an event of `entity`. */
async function waitForEvent(reader: Redis, entity: string): Promise<void> {
  await waitUntil(
    async () => (await reader.lrange("events", 0, -1)).some((e) => e.includes(`"entity":"${entity}"`)),
    20_000,
    `an event of ${entity} in the events list`,
  );
}

Deno.test({
  name: "httpbroker logs in to Redis with requirepass, an ACL user, and over TLS: states reach the events list",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await using certs = await makeTestCerts();
    await t.step("requirepass, the password from REDIS_PASSWORD", async () => {
      await using redis = await startRedis({ args: ["--requirepass", PASSWORD] });
      const reader = new Redis({ port: redis.port, host: "127.0.0.1", password: PASSWORD });
      const { broker, lines, post, ready } = await brokerFrom(["--server", `127.0.0.1:${redis.port}`], {
        REDIS_PASSWORD: PASSWORD,
      });
      try {
        assert.equal(await ready(), 200);
        assert.equal(await post("pw-host"), 200);
        await waitForEvent(reader, "pw-host");
        const metrics = await (await broker.handler(new Request("http://broker/metrics"))).text();
        assert.ok(!lines.join("\n").includes(PASSWORD) && !metrics.includes(PASSWORD), "the password is not shown");
      } finally {
        await broker.stop();
        reader.disconnect();
      }
    });

    await t.step("an ACL user: user and password in the URL, then the password from REDIS_PASSWORD_FILE", async () => {
      // Each word its own argument: redis-server joins them into the config line `user flapjack on >... ~* &* +@all`.
      await using redis = await startRedis({
        args: ["--user", "flapjack", "on", `>${PASSWORD}`, "~*", "&*", "+@all", "--user", "default", "off"],
      });
      const reader = new Redis({ port: redis.port, host: "127.0.0.1", username: "flapjack", password: PASSWORD });
      const passwordFile = `${certs.dir}/redis-password`;
      await Deno.writeTextFile(passwordFile, `${PASSWORD}\n`);
      try {
        for (
          const [args, env, entity] of [
            [["--server", `redis://flapjack:${PASSWORD}@127.0.0.1:${redis.port}/0`], {}, "acl-url"],
            [
              ["--server", `redis://flapjack@127.0.0.1:${redis.port}`],
              { REDIS_PASSWORD_FILE: passwordFile },
              "acl-file",
            ],
          ] as const
        ) {
          const { broker, lines, post } = await brokerFrom([...args], { ...env });
          try {
            assert.equal(await post(entity), 200);
            await waitForEvent(reader, entity);
            assert.ok(!lines.join("\n").includes(PASSWORD), lines.join("\n"));
            assert.ok(lines.some((l) => l.includes(`redis://flapjack@127.0.0.1:${redis.port}/0`)), "user shown");
          } finally {
            await broker.stop();
          }
        }
      } finally {
        reader.disconnect();
      }
    });

    await t.step("TLS only: rediss:// trusting the test CA with --redis-tls-ca", async () => {
      const certFile = `${certs.dir}/redis.pem`;
      const keyFile = `${certs.dir}/redis.key`;
      await Deno.writeTextFile(certFile, certs.serverCert);
      await Deno.writeTextFile(keyFile, certs.serverKey);
      await using redis = await startRedis({ tls: { certFile, keyFile, caFile: certs.caFile, ca: certs.ca } });
      const reader = new Redis({ port: redis.port, host: "127.0.0.1", tls: { ca: [certs.ca] } });
      try {
        const { broker, post, ready } = await brokerFrom([
          "--server",
          `rediss://127.0.0.1:${redis.port}`,
          "--redis-tls-ca",
          certs.caFile,
        ]);
        try {
          assert.equal(await ready(), 200);
          assert.equal(await post("tls-host"), 200);
          await waitForEvent(reader, "tls-host");
        } finally {
          await broker.stop();
        }
        // Without the CA the server's certificate is not trusted: one error line, /ready 503.
        const untrusted = await brokerFrom(["--server", `rediss://127.0.0.1:${redis.port}`]);
        try {
          assert.equal(await untrusted.ready(), 503);
          const errors = untrusted.lines.filter((l) => l.includes('"level":"error"'));
          assert.equal(errors.length, 1, untrusted.lines.join("\n"));
          assert.match(errors[0]!, /TLS with Redis failed.*(certificate|self-signed|issuer)/i);
        } finally {
          await untrusted.broker.stop();
        }
      } finally {
        reader.disconnect();
      }
    });
  },
});

Deno.test({
  name: "httpbroker with a wrong Redis password: one error line, /ready 503, states kept, recovery via CONFIG SET",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const serverPassword = "the-server-has-this-one";
    await using redis = await startRedis({ args: ["--requirepass", serverPassword] });
    const admin = new Redis({ port: redis.port, host: "127.0.0.1", password: serverPassword });
    const { broker, lines, post, ready } = await brokerFrom(["--server", `127.0.0.1:${redis.port}`], {
      REDIS_PASSWORD: PASSWORD,
    });
    try {
      assert.equal(await ready(), 503);
      assert.equal(await post("kept-host"), 200, "states are accepted while Redis refuses us");
      await new Promise((r) => setTimeout(r, 2_000));
      const errors = lines.filter((l) => l.includes('"level":"error"'));
      assert.equal(errors.length, 1, lines.join("\n"));
      assert.match(errors[0]!, /Redis refuses our credentials.*WRONGPASS/);
      assert.equal(await admin.llen("events"), 0);

      // The operator fixes it on the server side; the broker logs in again by itself.
      await admin.config("SET", "requirepass", PASSWORD);
      await waitUntil(async () => (await ready()) === 200, 20_000, "/ready 200 once the password is accepted");
      const reader = new Redis({ port: redis.port, host: "127.0.0.1", password: PASSWORD });
      try {
        await waitForEvent(reader, "kept-host");
      } finally {
        reader.disconnect();
      }
      assert.ok(lines.some((l) => l.includes("redis accepts us again")));
      const metrics = await (await broker.handler(new Request("http://broker/metrics"))).text();
      assert.ok(!lines.join("\n").includes(PASSWORD) && !metrics.includes(PASSWORD), "the password is not shown");
    } finally {
      await broker.stop();
      admin.disconnect();
    }
  },
});

Deno.test({
  name: "httpbroker --database the server does not have: a configuration error at start (exit 2), not database 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using redis = await startRedis();
    const reader = new Redis({ port: redis.port, host: "127.0.0.1" });
    try {
      const config = parseHttpBrokerArgs(["--server", `127.0.0.1:${redis.port}`, "--database", "16"], {});
      assert.ok(config !== "version");
      await assert.rejects(
        startHttpBroker(config, { logger: createLogger({ write: () => {} }), connectWaitMs: 3000 }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError);
          assert.match(
            err.message,
            /--database: the Redis server refuses database 16 \(ERR DB index is out of range\)/,
          );
          return true;
        },
      );
      let stderr = "";
      const code = await main(
        ["receiver", "httpbroker", "--port", "127.0.0.1:0", "--server", `redis://127.0.0.1:${redis.port}/16`],
        {},
        { out: () => {}, err: (t) => stderr += t },
        [httpBrokerCommand],
      );
      assert.equal(code, 2, stderr);
      assert.match(stderr, /refuses database 16/);
      assert.equal(await reader.dbsize(), 0, "nothing was written to database 0");
    } finally {
      reader.disconnect();
    }
  },
});
