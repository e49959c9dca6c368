/**
 * The dispatcher, run as the real program (`deno run main.ts ...`) and in-process with stand-in commands.
 * @module
 */
import assert from "node:assert/strict";
import type { Command } from "../commands/command.ts";
import { ConfigError, UsageError } from "../lib/config/errors.ts";
import { main, rootHelp } from "../main.ts";

const root = new URL("..", import.meta.url).pathname;

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "main.ts", ...args],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("event-router --help, help and no arguments print the dispatcher help and exit 0", async () => {
  for (const args of [["--help"], ["-h"], ["help"], []]) {
    const r = await cli(...args);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^event-router will route incoming events from analytics\.js to the correct integration/);
    assert.ok(r.stdout.includes("Available Commands:\n  help                 Help about any command"));
    assert.ok(r.stdout.includes("--disable-sse   disables SSE client"));
  }
});

Deno.test("event-router --version prints name, semver and deno version", async () => {
  const r = await cli("--version");
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^event-router \d+\.\d+\.\d+ \(deno \d+\.\d+\.\d+\)\n$/);
});

Deno.test("an unknown command or root flag exits 2 naming it, with a usage hint on stderr", async () => {
  const r = await cli("frobnicate");
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /unknown command "frobnicate" for "event-router"/);
  assert.match(r.stderr, /Run 'event-router --help' for usage\./);
  const f = await cli("--frobnicate");
  assert.equal(f.code, 2);
  assert.match(f.stderr, /unknown flag: --frobnicate/);
});

function standIn(name: string, run: Command["run"]): Command {
  return { name, summary: `${name} summary`, help: `help of ${name}`, run };
}

function capture() {
  const io = {
    stdout: "",
    stderr: "",
    out: (t: string) => void (io.stdout += t),
    err: (t: string) => void (io.stderr += t),
  };
  return io;
}

Deno.test("main dispatches two-word commands, help <command>, and passes persistent flags on", async () => {
  const seen: string[][] = [];
  const cmds = [
    standIn("start", (args) => {
      seen.push(args);
      return Promise.resolve(0);
    }),
    standIn("receiver httpbroker", (args) => {
      seen.push(["rb", ...args]);
      return Promise.resolve(0);
    }),
  ];
  assert.equal(await main(["--disable-sse", "start", "--retry"], {}, capture(), cmds), 0);
  assert.equal(await main(["receiver", "httpbroker", "--debug"], {}, capture(), cmds), 0);
  assert.deepEqual(seen, [["--retry", "--disable-sse"], ["rb", "--debug"]]);

  const io = capture();
  assert.equal(await main(["help", "receiver", "httpbroker"], {}, io, cmds), 0);
  assert.equal(io.stdout, "help of receiver httpbroker\n");
  assert.ok(rootHelp(cmds).includes("  receiver httpbroker  receiver httpbroker summary"));
});

Deno.test("main suggests the closest command and maps usage, config and runtime errors to exit codes", async () => {
  const cmds = [
    standIn("start", () => Promise.reject(new ConfigError(["ER_A: is required", "ER_B: is required"]))),
    standIn("mock", () => Promise.reject(new UsageError("bad integrations list", "hint"))),
    standIn("dev", () => Promise.reject(new Error("broker exploded"))),
  ];
  let io = capture();
  assert.equal(await main(["strat"], {}, io, cmds), 2);
  assert.match(io.stderr, /Did you mean this\?\n\tstart/);
  io = capture();
  assert.equal(await main(["start"], {}, io, cmds), 2);
  assert.match(io.stderr, /ER_A: is required\n {2}- ER_B: is required/);
  io = capture();
  assert.equal(await main(["mock"], {}, io, cmds), 2);
  assert.match(io.stderr, /bad integrations list\nhint/);
  io = capture();
  assert.equal(await main(["dev"], {}, io, cmds), 1);
  assert.match(io.stderr, /broker exploded/);
});

Deno.test("a command group (receiver) lists its subcommands: help exits 0, incomplete or unknown exits 2", async () => {
  const run = async (args: string[]) => {
    let out = "", err = "";
    const code = await main(args, {}, { out: (t) => out += t, err: (t) => err += t });
    return { code, out, err };
  };
  for (const args of [["receiver", "--help"], ["help", "receiver"]]) {
    const r = await run(args);
    assert.equal(r.code, 0, args.join(" "));
    assert.match(
      r.out,
      /Usage:\n {2}event-router receiver \[command\]\n\nAvailable Commands:\n {2}httpbroker +accept check/,
    );
  }
  const bare = await run(["receiver"]);
  assert.equal(bare.code, 2);
  assert.match(bare.err, /"receiver" needs a subcommand[\s\S]*httpbroker/);
  const unknown = await run(["receiver", "nagios"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "receiver nagios"[\s\S]*httpbroker/);
});
