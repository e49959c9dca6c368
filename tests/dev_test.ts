/**
 * `event-router dev` as a newcomer uses it: the real program started with `deno run main.ts dev`, the commands it
 * prints and every README example that shows its output run against it, activity lines, and a clean Ctrl-C.
 * @module
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;
const decoder = new TextDecoder();

/** A running `dev` process whose stdout is collected as it comes. */
class DevProcess {
  output = "";
  readonly child: Deno.ChildProcess;
  readonly #reading: Promise<void>;
  readonly #stderr: Promise<string>;

  constructor(args: string[]) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        "main.ts",
        "dev",
        "--router-port",
        "0",
        "--kcl-port",
        "0",
        "--broker-port",
        "0",
        ...args,
      ],
      cwd: root,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    const stdout = this.child.stdout;
    this.#reading = (async () => {
      for await (const chunk of stdout) this.output += decoder.decode(chunk, { stream: true });
    })();
    this.#stderr = new Response(this.child.stderr).text();
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.output.match(pattern);
      if (m !== null) return m;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output so far:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async interrupt(): Promise<{ code: number; stderr: string }> {
    this.child.kill("SIGINT");
    const status = await this.child.status;
    await this.#reading;
    return { code: status.code, stderr: await this.#stderr };
  }
}

async function sh(script: string, env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command("bash", {
    args: ["-o", "pipefail", "-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, out: decoder.decode(out.stdout), err: decoder.decode(out.stderr) };
}

interface Ports {
  router: string;
  kcl: string;
  broker: string;
  bootstrap: string;
  apiKey: string;
  redis: string;
}

async function bannerOf(dev: DevProcess): Promise<Ports> {
  await dev.waitFor(/\nTry:\n[\s\S]*\/metrics\n/, 60_000);
  const grab = (re: RegExp) => {
    const m = dev.output.match(re);
    assert.ok(m?.[1], `banner lacks ${re}:\n${dev.output}`);
    return m[1];
  };
  return {
    router: grab(/router \(mock\) +http:\/\/127\.0\.0\.1:(\d+)/),
    kcl: grab(/kcl-proxy +http:\/\/127\.0\.0\.1:(\d+)/),
    broker: grab(/httpbroker +http:\/\/127\.0\.0\.1:(\d+)/),
    bootstrap: grab(/Kafka bootstrap servers +(\S+)/),
    apiKey: grab(/kcl-proxy API key +([0-9a-f]+)/),
    redis: grab(/Redis 127\.0\.0\.1:(\d+)/),
  };
}

/** README examples: a ```sh block immediately followed by the output block it shows. */
function readmeExamples(markdown: string): { script: string; expected: string; json: boolean }[] {
  const blocks = [...markdown.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], body: m[2] as string }));
  const examples: { script: string; expected: string; json: boolean }[] = [];
  for (let i = 0; i + 1 < blocks.length; i++) {
    const [a, b] = [blocks[i], blocks[i + 1]];
    if (a?.lang === "sh" && (b?.lang === "json" || b?.lang === "text")) {
      examples.push({ script: a.body, expected: b.body.trim(), json: b.lang === "json" });
    }
  }
  return examples;
}

/**
 * Numbers (ports, offsets, partitions, times) vary from run to run; the shape must not. Error messages are kept as
 * they are: a position or a limit in one is part of what the example promises.
 */
function normalise(s: string): string {
  return s.trim().replace(/("message":\s*"(?:[^"\\]|\\.)*")|\d+/g, (_match, message) => message ?? "0");
}

Deno.test({
  name: "dev: every README example with shown output works as written, and activity lines follow",
  // Runs a whole second program; its own resources are checked by waiting for its exit.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dev = new DevProcess(["--interval", "1s"]);
    try {
      const p = await bannerOf(dev);
      const examples = readmeExamples(await Deno.readTextFile(`${root}/README.md`));
      assert.ok(examples.length >= 10, `expected at least 10 README examples, found ${examples.length}`);
      for (const { script, expected, json } of examples) {
        const withPorts = script
          .replaceAll("localhost:8080", `localhost:${p.router}`)
          .replaceAll("localhost:8081", `localhost:${p.kcl}`)
          .replaceAll("localhost:3090", `localhost:${p.broker}`);
        const r = await sh(withPorts, {
          PATH: Deno.env.get("PATH") ?? "",
          KCL_API_KEY: p.apiKey,
          BOOTSTRAP: p.bootstrap,
        });
        assert.equal(r.code, 0, `README example failed:\n${script}\nstderr: ${r.err}`);
        const message = `README example output differs:\n${script}`;
        // JSON blocks are compared as values (the formatter may re-indent them), text blocks as text.
        if (json) assert.deepEqual(JSON.parse(normalise(r.out)), JSON.parse(normalise(expected)), message);
        else assert.equal(normalise(r.out), normalise(expected), message);
      }
      // What the examples sent shows up as activity: routed events, a proxied batch, broker submissions.
      await dev.waitFor(/router +→ segment +app-1 +"Signed Up" +messageId=m-1/, 20_000);
      await dev.waitFor(/router +→ s3-event-logs +app-1/, 20_000);
      // All three routes, or a late one is printed during the shutdown and the output no longer ends with "stopped.".
      await dev.waitFor(/router +→ amplitude +app-1/, 20_000);
      await dev.waitFor(/kcl-proxy +→ dev\.events +batch of 1 \(1 normal\)/, 20_000);
      await dev.waitFor(/httpbroker → events +2 submitted: foo-app-01:PING ok, web-01:HTTP ok/, 20_000);
      // dev leaves Flapjack's list for the user to inspect with redis-cli: it is not consumed.
      const llen = await sh(`redis-cli -p ${p.redis} llen events`, { PATH: Deno.env.get("PATH") ?? "" });
      assert.ok(Number(llen.out.trim()) >= 2, `events list: ${llen.out} ${llen.err}`);
    } finally {
      const { code, stderr } = await dev.interrupt();
      assert.equal(code, 0, `dev exited ${code}; stderr:\n${stderr}`);
      assert.match(dev.output, /SIGINT: stopping…\nstopped\.\n$/);
    }
  },
});

Deno.test({
  name: "dev --traffic: the printed commands work and sample traffic moves through all three services",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dev = new DevProcess(["--traffic", "--interval", "1s"]);
    try {
      const p = await bannerOf(dev);
      const tries = dev.output.split("\nTry:\n")[1]?.split("\n\n")[0]?.split("\n").map((l) => l.trim()) ?? [];
      assert.ok(tries.length >= 6, `expected the banner's commands, got:\n${tries.join("\n")}`);
      for (const command of tries) {
        const r = await sh(command, { PATH: Deno.env.get("PATH") ?? "" });
        assert.equal(r.code, 0, `printed command failed: ${command}\n${r.err}`);
        if (command.startsWith("curl")) assert.notEqual(r.out.trim(), "", `no output from ${command}`);
        if (command.includes("/events")) assert.match(r.out, /"status":"produced"/);
        if (command.includes("-X POST") && command.includes(`:${p.broker}/state`)) {
          assert.match(r.out, /^Caching state: /);
        }
      }
      await dev.waitFor(/router +→ (segment|amplitude|s3-event-logs) +app-(shop|blog|docs)/, 20_000);
      await dev.waitFor(/kcl-proxy +→ dev\.events +batch of \d+ \(.*(low|normal|high)/, 20_000);
      await dev.waitFor(/httpbroker → events +\d+ submitted: .*web-01:PING/, 20_000);
      // The opt-out in every fifth sample event is honoured: Amplitude never sees those. (Wait for Amplitude's own
      // line: on a loaded machine the lines above can all come before it.)
      await dev.waitFor(/router +→ amplitude +\S+ +"[^"]+" +messageId=dev-\d+-\d+/, 20_000);
      const optedOut = [...dev.output.matchAll(/router +→ amplitude +\S+ +"[^"]+" +messageId=dev-\d+-(\d+)/g)]
        .map((m) => Number(m[1]));
      assert.ok(optedOut.length > 0);
      assert.ok(optedOut.every((n) => n % 5 !== 4), `amplitude got an opted-out event: ${optedOut}`);
    } finally {
      const { code, stderr } = await dev.interrupt();
      assert.equal(code, 0, `dev exited ${code}; stderr:\n${stderr}`);
    }
  },
});
