/**
 * Builds the single `event-router` executable with exactly the permissions it needs (no blanket -A):
 * `deno task compile` for the host, `deno task compile:all` for every release target into dist/ with SHA256SUMS.
 * `deno compile` downloads its runtime unless `DENORT_BIN` points at a local denort binary.
 * @module
 */
import { parseArgs } from "node:util";

/**
 * Why each permission: net (HTTP servers, Kafka, Redis, S3, Houston), env (the ER_, KCL_ and AWS_ variables), read (API keys
 * file, AWS shared config, librdkafka for `dev`), sys (hostname and OS facts read by kafkajs, ioredis and the AWS
 * SDK), ffi (`dev` hosts the librdkafka mock cluster), run (`dev` spawns redis-server).
 */
export const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-sys", "--allow-ffi", "--allow-run"];

/** Modules loaded at run time (Workers) that the static import graph does not reach. */
export const INCLUDES = ["lib/kafka/producer_worker_entry.ts", "lib/httpbroker/redis_worker_entry.ts"];

/** The five `deno compile --target` triples. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

async function compile(output: string, target?: string): Promise<void> {
  // The kcl-proxy's Kafka worker and the httpbroker's Redis worker are loaded by URL at run time, so they must be
  // embedded explicitly.
  const args = [
    "compile",
    ...PERMISSIONS,
    "--no-check=remote",
    ...INCLUDES.flatMap((f) => ["--include", f]),
    "-o",
    output,
  ];
  if (target !== undefined) args.push("--target", target);
  args.push("main.ts");
  console.log(`deno ${args.join(" ")}`);
  const { code } = await new Deno.Command(Deno.execPath(), { args, stdout: "inherit", stderr: "inherit" }).output();
  if (code !== 0) throw new CompileError(target, code);
}

/** A failed `deno compile`: reported as one line with what to check, not a stack trace. */
class CompileError extends Error {
  constructor(target: string | undefined, code: number) {
    const hint = Deno.env.get("DENORT_BIN") === undefined
      ? "; deno compile downloads its runtime (denort) unless DENORT_BIN names a local copy: without network access, " +
        "set DENORT_BIN=/path/to/denort (the denort of this Deno version, from its release page)"
      : ` with DENORT_BIN=${Deno.env.get("DENORT_BIN")}: check that it is the denort of Deno ${Deno.version.deno}`;
    super(`deno compile failed for ${target ?? "this machine"} (exit ${code})${hint}`);
    this.name = "CompileError";
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    console.error(`error: ${err.message}`);
    Deno.exit(1);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: { all: { type: "boolean" } } });
  if (!values.all) {
    await compile("event-router");
  } else {
    await Deno.mkdir("dist", { recursive: true });
    const sums: string[] = [];
    for (const target of TARGETS) {
      const file = `event-router-${target}${target.includes("windows") ? ".exe" : ""}`;
      await compile(`dist/${file}`, target);
      sums.push(`${await sha256(`dist/${file}`)}  ${file}`);
    }
    await Deno.writeTextFile("dist/SHA256SUMS", sums.join("\n") + "\n");
    console.log(sums.join("\n"));
  }
}
