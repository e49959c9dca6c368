/**
 * Entry point: parses argv, dispatches to a subcommand, maps errors to exit codes (2 usage/config, 1 runtime).
 * @module
 */
import type { Command } from "./commands/command.ts";
import { commands as registered } from "./commands/mod.ts";
import { ConfigError, UsageError } from "./lib/config/errors.ts";
import { closest, PERSISTENT_FLAGS } from "./lib/config/flags.ts";
import type { Env } from "./lib/config/parse.ts";
import { errorMessage } from "./lib/log.ts";
import { versionLine } from "./lib/version.ts";

/** Flags the root command accepts and passes on to the subcommand (cobra's persistent flags). */
const PERSISTENT = Object.keys(PERSISTENT_FLAGS).map((name) => `--${name}`);

/** The root help text (cli.md), listing the commands that exist. */
export function rootHelp(commands: Command[] = registered): string {
  const rows: [string, string][] = [
    ["help", "Help about any command"],
    ...commands.map((c): [string, string] => [c.name, c.summary]),
  ];
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  const lines = rows.map(([n, s]) => `  ${n.padEnd(Math.max(width, 21))}${s}`);
  return `event-router will route incoming events from analytics.js to the correct integration

Usage:
  event-router [command]

Available Commands:
${lines.join("\n")}

Flags:
      --disable-sse   disables SSE client
  -h, --help          help for event-router
  -v, --version       print the version

Use "event-router [command] --help" for more information about a command.
`;
}

/** Where output goes; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const encoder = new TextEncoder();
const stdio: Io = {
  out: (t) => void Deno.stdout.writeSync(encoder.encode(t)),
  err: (t) => void Deno.stderr.writeSync(encoder.encode(t)),
};

/** Finds the command named by the leading words of `args` (longest match first: `receiver httpbroker`). */
function resolve(commands: Command[], args: string[]): { command: Command; rest: string[] } | undefined {
  const sorted = [...commands].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const c of sorted) {
    const words = c.name.split(" ");
    if (words.every((w, i) => args[i] === w)) return { command: c, rest: args.slice(words.length) };
  }
  return undefined;
}

/** The commands whose name starts with the word `group` and has more words (`receiver httpbroker`). */
function groupOf(commands: Command[], group: string): Command[] {
  return commands.filter((c) => c.name.startsWith(`${group} `));
}

/** The help of a command group: its subcommands. */
function groupHelp(group: string, members: Command[]): string {
  const width = Math.max(...members.map((c) => c.name.length - group.length - 1)) + 2;
  const lines = members.map((c) => `  ${c.name.slice(group.length + 1).padEnd(Math.max(width, 21))}${c.summary}`);
  return `Usage:
  event-router ${group} [command]

Available Commands:
${lines.join("\n")}

Use "event-router ${group} [command] --help" for more information about a command.
`;
}

/** Runs the CLI and resolves to the exit code. */
export async function main(
  argv: string[],
  env: Env,
  io: Io = stdio,
  commands: Command[] = registered,
): Promise<number> {
  // Persistent flags may come before the command name; hand them to the command.
  const persistent: string[] = [];
  let args = [...argv];
  while (args[0] !== undefined && PERSISTENT.includes(args[0])) persistent.push(args.shift() as string);

  const first = args[0];
  if (first === undefined || first === "-h" || first === "--help") {
    io.out(rootHelp(commands));
    return 0;
  }
  if (first === "-v" || first === "--version") {
    io.out(versionLine() + "\n");
    return 0;
  }
  if (first === "help") {
    if (args.length === 1) {
      io.out(rootHelp(commands));
      return 0;
    }
    args = [...args.slice(1), "--help"];
  }
  try {
    const found = resolve(commands, args);
    const group = found === undefined ? groupOf(commands, args[0] as string) : [];
    if (found === undefined && group.length > 0) {
      // A command group (`receiver`): its subcommands, as help (exit 0) or as the usage of an incomplete command.
      const text = groupHelp(args[0] as string, group);
      const rest = args.slice(1);
      if (rest.includes("-h") || rest.includes("--help")) {
        io.out(text);
        return 0;
      }
      if (rest.length === 0) throw new UsageError(`"${args[0]}" needs a subcommand`, text.trimEnd());
      throw new UsageError(`unknown command "${args.slice(0, 2).join(" ")}" for "event-router"`, text.trimEnd());
    }
    if (found === undefined) {
      const unknown = args[0] as string;
      if (unknown.startsWith("-")) {
        throw new UsageError(`unknown flag: ${unknown}`, "Run 'event-router --help' for usage.");
      }
      const typed = args.slice(0, 2).join(" ");
      const names = commands.map((c) => c.name);
      const guess = closest(typed, names) ?? closest(unknown, names.map((n) => n.split(" ")[0] as string));
      throw new UsageError(
        `unknown command "${unknown}" for "event-router"${guess ? `\n\nDid you mean this?\n\t${guess}` : ""}`,
        "Run 'event-router --help' for usage.",
      );
    }
    const { command, rest } = found;
    if (rest.includes("-h") || rest.includes("--help")) {
      io.out(command.help.endsWith("\n") ? command.help : command.help + "\n");
      return 0;
    }
    return await command.run([...rest, ...persistent], env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`Error: ${err.message}\n${err.hint ? err.hint + "\n" : ""}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.err(`Error: ${err.message}\n`);
      return 2;
    }
    io.err(`Error: ${errorMessage(err)}\n`);
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args, Deno.env.toObject()));
}
