/**
 * When no broker accepts a service, its Kafka probe's line says what to check, told apart by what is really at the
 * address: nothing (refused), an HTTP server, a TLS listener reached without TLS, a port that never answers, and a
 * real cluster (no line at all). Real sockets throughout; the advice comes from lib/kafka/diagnosis.ts.
 * @module
 */
import assert from "node:assert/strict";
import { ClusterProbe } from "../lib/kafka/cluster_probe.ts";
import { createLogger } from "../lib/log.ts";
import { makeTestCerts } from "../testing/certs.ts";
import { startKafka, waitUntil } from "../testing/harness.ts";

/** Probes `broker` until its first failure line (or success) and returns that line's fields. */
async function firstProbeLine(broker: string): Promise<{ ready: boolean; line?: Record<string, unknown> }> {
  const lines: Record<string, unknown>[] = [];
  const probe = new ClusterProbe({
    brokers: [broker],
    clientId: "diagnosis-test",
    logger: createLogger({ write: (l) => lines.push(JSON.parse(l)) }),
    timeoutMs: 1_000,
    brokersSetting: "TEST_BROKERS",
  });
  probe.start();
  try {
    await waitUntil(() => probe.ready || lines.some((l) => l.level === "warn"), 10_000, `a probe result for ${broker}`);
    return { ready: probe.ready, line: lines.find((l) => l.level === "warn") };
  } finally {
    await probe.stop();
  }
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

Deno.test("the Kafka probe's failure line says what to check for each kind of address", async (t) => {
  await t.step("nothing listening: the addresses and whether Kafka runs", async () => {
    const { line } = await firstProbeLine(`127.0.0.1:${closedPort()}`);
    assert.match(String(line?.error), /refused/i);
    assert.match(String(line?.check), /nothing accepts connections there: check the addresses in TEST_BROKERS/);
  });

  await t.step("an HTTP server: not a Kafka listener", async () => {
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response("hello"));
    try {
      const { line } = await firstProbeLine(`127.0.0.1:${http.addr.port}`);
      assert.match(String(line?.check), /is each address in TEST_BROKERS a Kafka listener \(not an HTTP/);
    } finally {
      await http.shutdown();
    }
  });

  await t.step("a TLS listener reached without TLS: not a Kafka answer either", async () => {
    await using certs = await makeTestCerts();
    const tls = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: certs.serverCert,
      key: certs.serverKey,
    });
    const accepting = (async () => {
      for await (const conn of tls) conn.handshake().catch(() => {}).finally(() => conn.close());
    })();
    try {
      const { line } = await firstProbeLine(`127.0.0.1:${tls.addr.port}`);
      // The TLS alert's first bytes read as a frame size no broker would send.
      assert.match(String(line?.error), /impossible response size/);
      assert.match(String(line?.check), /A TLS listener reached without TLS settings looks like this too/);
    } finally {
      tls.close();
      await accepting.catch(() => {});
    }
  });

  await t.step("a port that accepts and never answers: reachability and security settings", async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })();
    try {
      const { line } = await firstProbeLine(`127.0.0.1:${silent.addr.port}`);
      assert.match(String(line?.error), /no response within 1000 ms/);
      assert.match(String(line?.check), /no Kafka answer in time: check that each address in TEST_BROKERS/);
    } finally {
      silent.close();
      for (const c of held) c.close();
      await accepting.catch(() => {});
    }
  });

  await t.step("a real cluster: ready, and no failure line", async () => {
    using cluster = startKafka(1);
    const { ready, line } = await firstProbeLine(cluster.bootstrapServers);
    assert.equal(ready, true);
    assert.equal(line, undefined);
  });
});
