/**
 * `deno task bench [--quick] [--only router,httpbroker,kcl] [--write]`: measures the ceilings, runs the registered
 * service suites, prints one table and (full runs, or with --write) rewrites bench/RESULTS.md keeping its history.
 * @module
 */
import { parseArgs } from "node:util";
import { failedRow, formatNumber, formatTable, withTimeout } from "./_lib.ts";
import type { BenchRow } from "./_lib.ts";
import { findWrk } from "./_load.ts";
import { REPO_ROOT } from "./_process.ts";
import { ceilingRows } from "./ceilings.ts";
import type { CeilingKind } from "./ceilings.ts";
import { KNOWN_SUITES, suites } from "./suites.ts";

const HELP = `Usage: deno task bench [--quick] [--only router,httpbroker,kcl] [--write]

Runs the benchmark ceilings (bare Deno.serve echo, kafkajs producer, kafkajs consume→produce pipe, pipelined LPUSH)
and every registered service suite of bench/suites.ts, then prints one markdown table.

  --quick        short run (under a minute in total); proves the benchmarks work, numbers are rough
  --only LIST    comma-separated suites: ${Object.keys(KNOWN_SUITES).join(", ")}
  --write        write bench/RESULTS.md even with --quick (full runs always write it)
  -h, --help     this text
`;

const RESULTS_PATH = `${REPO_ROOT}bench/RESULTS.md`;
const HISTORY_HEADING = "## History / before-after";

/** How long one suite may run before it is reported as failed. */
function suiteDeadlineMs(quick: boolean): number {
  return quick ? 120_000 : 20 * 60_000;
}

interface MachineInfo {
  date: string;
  cores: number;
  cpu: string;
  memory: string;
  deno: string;
  os: string;
  loadavg: string;
  commit: string;
  generator: string;
}

async function commandLine(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, cwd: REPO_ROOT, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(out.stdout).trim() || new TextDecoder().decode(out.stderr).trim();
    return text.split("\n")[0] ?? null;
  } catch {
    return null;
  }
}

async function machineInfo(): Promise<MachineInfo> {
  let cpu = "unknown";
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  const commit = await commandLine("git", ["rev-parse", "--short", "HEAD"]) ?? "unknown";
  const dirty = (await commandLine("git", ["status", "--porcelain", "--untracked-files=no"]))
    ? " (uncommitted changes)"
    : "";
  const wrk = await findWrk();
  const wrkVersion = wrk === null ? null : await commandLine(wrk, ["-v"]);
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cores: navigator.hardwareConcurrency,
    cpu,
    memory: `${formatNumber(Deno.systemMemoryInfo().total / 1024 ** 3)} GiB`,
    deno: `Deno ${Deno.version.deno}, V8 ${Deno.version.v8}, TypeScript ${Deno.version.typescript}`,
    os: `${Deno.build.os} ${Deno.build.arch} ${Deno.osRelease()}`,
    loadavg: Deno.loadavg().map((n) => n.toFixed(2)).join(" "),
    commit: commit + dirty,
    generator: wrkVersion === null
      ? "Deno fetch keep-alive client (wrk not installed)"
      : `${wrkVersion.replace(/\s+Copyright.*$/, "")} (closed loop); Deno open-loop client for fixed rates`,
  };
}

function machineSection(m: MachineInfo, quick: boolean): string {
  return [
    `- date: ${m.date}`,
    `- mode: ${quick ? "quick (--quick: short runs, rough numbers)" : "full"}`,
    `- commit: ${m.commit}`,
    `- machine: ${m.cores} cores (${m.cpu}), ${m.memory} memory, ${m.os}; load average at start ${m.loadavg}`,
    `- runtime: ${m.deno}`,
    `- HTTP load generator: ${m.generator}`,
  ].join("\n");
}

/** One history line: the rows that have a target, compactly. */
function historyEntry(m: MachineInfo, quick: boolean, rows: BenchRow[]): string {
  const judged = rows.filter((r) => r.target !== undefined);
  const parts = (judged.length > 0 ? judged : rows).map((r) => {
    const ratio = r.ratio === undefined || Number.isNaN(r.ratio) ? "" : ` (×${r.ratio.toFixed(2)})`;
    const pass = r.pass === undefined ? "" : r.pass ? " ok" : " MISSED";
    return `${r.name}: ${formatNumber(r.value)} ${r.unit}${ratio}${pass}`;
  });
  return `- ${m.date} ${m.commit} ${quick ? "quick" : "full"}: ${parts.join("; ")}`;
}

async function writeResults(m: MachineInfo, quick: boolean, rows: BenchRow[]): Promise<void> {
  let history =
    `${HISTORY_HEADING}\n\nOne line per written run (newest last). Add profiling before/after notes here by hand;\n` +
    `\`deno task bench\` keeps this section when it rewrites the file.\n`;
  try {
    const old = await Deno.readTextFile(RESULTS_PATH);
    const at = old.indexOf(HISTORY_HEADING);
    if (at !== -1) history = old.slice(at).trimEnd() + "\n";
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const text = [
    "# Benchmark results",
    "",
    "Written by `deno task bench` (bench/main.ts). Ratios are against ceilings measured in the same run on the same",
    "machine; absolute numbers move with the (shared, noisy) machine, ratios much less.",
    "",
    "## Machine",
    "",
    machineSection(m, quick),
    "",
    "## Results",
    "",
    formatTable(rows),
    "",
    // A list item right after a paragraph needs a blank line to render as a list.
    history.trimEnd() + (/\n- [^\n]*$/.test(history.trimEnd()) ? "" : "\n"),
    historyEntry(m, quick, rows),
    "",
  ].join("\n");
  await Deno.writeTextFile(RESULTS_PATH, text);
}

const README_PATH = `${REPO_ROOT}README.md`;
const HEADLINE_START = "<!-- bench:headline:start -->";
const HEADLINE_END = "<!-- bench:headline:end -->";

/** The rows with a target, for the README: what a reader wants to know at a glance. */
export function headlineSection(m: MachineInfo, rows: BenchRow[]): string {
  const judged = rows.filter((r) => r.target !== undefined);
  return [
    HEADLINE_START,
    `Benchmarks (\`deno task bench\`, ${
      m.date.slice(0, 10)
    }, ${m.commit}; ratios against ceilings measured in the same run,`,
    "full table and before/after in [bench/RESULTS.md](bench/RESULTS.md)):",
    "",
    // The notes column stays in RESULTS.md: the README shows the numbers only.
    formatTable(judged, { notes: false }),
    HEADLINE_END,
  ].join("\n");
}

/** Replaces the headline section of the README (between its markers); leaves the README alone without them. */
async function writeReadmeHeadline(m: MachineInfo, rows: BenchRow[]): Promise<void> {
  const readme = await Deno.readTextFile(README_PATH);
  const start = readme.indexOf(HEADLINE_START);
  const end = readme.indexOf(HEADLINE_END);
  if (start === -1 || end === -1 || end < start) return;
  const next = readme.slice(0, start) + headlineSection(m, rows) + readme.slice(end + HEADLINE_END.length);
  await Deno.writeTextFile(README_PATH, next);
  // Keep `deno fmt --check` green: let the formatter align the table it would otherwise complain about.
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", README_PATH] }).output();
}

function progress(msg: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(`[bench] ${msg}\n`));
}

async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        write: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const quick = values.quick;
  const selected = values.only === undefined
    ? Object.keys(KNOWN_SUITES)
    : values.only.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  const unknown = selected.filter((s) => !(s in KNOWN_SUITES));
  if (unknown.length > 0 || selected.length === 0) {
    console.error(
      `--only: unknown suite ${unknown.join(", ") || "(empty)"}; known: ${Object.keys(KNOWN_SUITES).join(", ")}`,
    );
    return 2;
  }

  const started = performance.now();
  const machine = await machineInfo();
  progress(`${quick ? "quick" : "full"} run on ${machine.cores} cores, load average ${machine.loadavg}`);

  // A registered suite names the shared ceilings it uses (none when it measures its own); an unregistered one gets
  // its defaults so the ceilings are still proven to work.
  const kinds = new Set<CeilingKind>(
    selected.flatMap((s) => suites.find((r) => r.name === s)?.ceilings ?? KNOWN_SUITES[s] ?? []),
  );
  progress(`ceilings: ${[...kinds].join(", ")}`);
  const rows: BenchRow[] = await ceilingRows(quick, kinds, progress);

  for (const name of selected) {
    const suite = suites.find((s) => s.name === name);
    if (suite === undefined) {
      progress(`suite ${name}: not registered in bench/suites.ts yet, skipped`);
      continue;
    }
    progress(`suite ${name}…`);
    const t0 = performance.now();
    try {
      rows.push(...await withTimeout(suite.run({ quick }), suiteDeadlineMs(quick), `suite ${name}`));
    } catch (err) {
      rows.push(failedRow(`${name} suite`, err));
    }
    progress(`suite ${name} done in ${formatNumber((performance.now() - t0) / 1000)} s`);
  }

  const table = formatTable(rows);
  console.log(`\n${machineSection(machine, quick)}\n\n${table}\n`);
  progress(`total ${formatNumber((performance.now() - started) / 1000)} s`);
  if (!quick || values.write) {
    await writeResults(machine, quick, rows);
    progress(`wrote ${RESULTS_PATH}`);
    if (!quick) {
      await writeReadmeHeadline(machine, rows);
      progress(`updated the headline rows in ${README_PATH}`);
    }
  }
  // A row that could not be measured fails the run (CI uses the quick run to prove the benchmarks work); a missed
  // target does not: targets are judged on full runs, by people.
  return rows.some((r) => r.notes?.startsWith("FAILED")) ? 1 : 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // kafkajs and ioredis can leave reconnect timers behind; the table is printed, so end here.
  Deno.exit(code);
}
