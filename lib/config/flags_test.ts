import assert from "node:assert/strict";
import { UsageError } from "./errors.ts";
import { closest, parseFlags } from "./flags.ts";

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

const spec = {
  port: { type: "string" as const },
  debug: { type: "boolean" as const },
  interval: { type: "string" as const },
};

Deno.test("parseFlags parses --flag value and --flag=value", () => {
  const { values } = parseFlags(["--port", ":3090", "--interval=5s", "--debug"], spec, "receiver httpbroker");
  assert.deepEqual(values, { port: ":3090", interval: "5s", debug: true });
});

Deno.test("parseFlags names an unknown flag and suggests the closest", () => {
  const err = thrown(() => parseFlags(["--intervl", "5s"], spec, "receiver httpbroker"));
  assert.ok(err instanceof UsageError);
  assert.match(err.message, /unknown flag: --intervl/);
  assert.match(err.message, /Did you mean this\?\n\t--interval/);
  assert.match(err.hint ?? "", /event-router receiver httpbroker --help/);
});

Deno.test("parseFlags reports a missing value and stray positionals", () => {
  assert.throws(
    () => parseFlags(["--port"], spec, "x"),
    (e: unknown) => e instanceof UsageError && /--port/.test(e.message),
  );
  assert.throws(
    () => parseFlags(["extra"], spec, "x"),
    (e: unknown) => e instanceof UsageError && /unexpected argument "extra"/.test(e.message),
  );
});

Deno.test("closest suggests only plausible typos", () => {
  assert.equal(closest("strat", ["start", "mock", "dev"]), "start");
  assert.equal(closest("zzzzzz", ["start", "mock"]), undefined);
});

Deno.test("every command's parser accepts the root's persistent --disable-sse, and only that one", () => {
  const { values } = parseFlags(["--disable-sse", "--port", "1"], { port: { type: "string" } }, "kcl-proxy");
  assert.equal(values["disable-sse"], true);
  assert.equal(values.port, "1");
  assert.throws(() => parseFlags(["--disable-cache"], { port: { type: "string" } }, "kcl-proxy"), /unknown flag/);
});
