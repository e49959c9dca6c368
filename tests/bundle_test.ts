/**
 * The module graph is self-contained: `deno bundle` turns main.ts into one JS file that runs with an empty Deno
 * cache (what a compiled binary needs), prints help and version, and runs a service until SIGTERM.
 * @module
 */
import assert from "node:assert/strict";
import { freePort, startRedis, waitForHttpOk } from "../testing/harness.ts";

const root = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

Deno.test({
  name: "bundle: one JS file runs --help, --version and the httpbroker with an empty Deno cache",
  sanitizeResources: false, // the bundled program is a separate process, waited for below
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "er-bundle-" });
    const redis = await startRedis();
    try {
      const bundle = `${dir}/event-router.js`;
      const built = await new Deno.Command(Deno.execPath(), {
        args: ["bundle", "--platform", "deno", "--quiet", "-o", bundle, "main.ts"],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(built.code, 0, decoder.decode(built.stderr));

      // An empty DENO_DIR: nothing may be fetched or resolved outside the bundle.
      const env = { DENO_DIR: `${dir}/empty-cache`, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
      const run = (args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-remote",
            "--no-npm",
            "--allow-net",
            "--allow-env",
            "--allow-read",
            "--allow-sys",
            bundle,
            ...args,
          ],
          env,
          cwd: dir,
          stdout: "piped",
          stderr: "piped",
        });
      const help = await run(["--help"]).output();
      assert.equal(help.code, 0, decoder.decode(help.stderr));
      assert.match(decoder.decode(help.stdout), /receiver httpbroker +accept check states over HTTP/);
      const version = await run(["--version"]).output();
      assert.match(decoder.decode(version.stdout), /^event-router \d+\.\d+\.\d+ \(deno /);

      const port = await freePort();
      const child = run([
        "receiver",
        "httpbroker",
        "--port",
        `127.0.0.1:${port}`,
        "--server",
        `127.0.0.1:${redis.port}`,
        "--interval",
        "1s",
      ]).spawn();
      const stderr = new Response(child.stderr).text();
      const stdout = new Response(child.stdout).text();
      // /ready: the port opens before the broker has reached Redis, and states are taken once it has started.
      const healthy = await waitForHttpOk(`http://127.0.0.1:${port}/ready`, 20_000, "the bundled broker").then(
        () => true,
        () => false,
      );
      const health = healthy ? await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.text()) : "";
      const posted = healthy
        ? await fetch(`http://127.0.0.1:${port}/state`, {
          method: "POST",
          body: JSON.stringify({ entity: "bundle", check: "SMOKE", state: "ok" }),
        }).then((r) => r.text())
        : "";
      child.kill("SIGTERM");
      const status = await child.status;
      const logs = (await stderr) + (await stdout);
      assert.ok(healthy, `bundled httpbroker never answered /health:\n${logs}`);
      assert.equal(health, "OK");
      assert.match(posted, /^Caching state: \{"entity":"bundle","check":"SMOKE"/);
      assert.equal(status.code, 0, `bundled httpbroker exited ${status.code} after SIGTERM:\n${logs}`);
    } finally {
      await redis.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("compile: every worker entry the code loads by URL is embedded in the binary (scripts/compile.ts INCLUDES)", async () => {
  // `deno compile` only embeds the static import graph; a Worker entry missing from INCLUDES fails at run time.
  const { INCLUDES } = await import("../scripts/compile.ts");
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(`${root}${dir}`)) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(rel);
      else if (e.name.endsWith(".ts")) {
        // Code only: a doc comment's example is not a worker the binary needs.
        const text = (await Deno.readTextFile(`${root}${rel}`)).split("\n")
          .filter((line) => !/^\s*(\*|\/\/)/.test(line)).join("\n");
        // Worker entries are named *_worker_entry.ts and handed to WorkerRpc as a static URL.
        for (const m of text.matchAll(/new URL\("\.\/([^"]+_worker_entry\.ts)", import\.meta\.url\)/g)) {
          found.push(`${dir}/${m[1]}`.slice(1));
        }
      }
    }
  };
  await walk("/lib");
  assert.deepEqual(
    found.sort(),
    ["lib/httpbroker/redis_worker_entry.ts", "lib/kafka/producer_worker_entry.ts"],
    "the workers this test knows of; a new one must be added here and to INCLUDES",
  );
  for (const f of found) {
    assert.ok(INCLUDES.includes(f), `${f} is not in INCLUDES`);
    await Deno.stat(`${root}${f}`);
  }
});
