import assert from "node:assert/strict";
import { parseDevArgs } from "./dev.ts";
import { ConfigError, UsageError } from "./errors.ts";

Deno.test("parseDevArgs: defaults, every bad flag listed at once, a port given twice, unknown flags", () => {
  assert.deepEqual(parseDevArgs([]), {
    routerPort: 8080,
    kclPort: 8081,
    brokerPort: 3090,
    intervalMs: 5000,
    traffic: false,
    quiet: false,
    debug: false,
  });
  const d = parseDevArgs(["--router-port", "0", "--kcl-port", "0", "--interval", "2s", "--traffic", "--quiet"]);
  assert.deepEqual([d.routerPort, d.kclPort, d.intervalMs, d.traffic, d.quiet], [0, 0, 2000, true, true]);
  assert.throws(() => parseDevArgs(["--router-port", "99999", "--interval", "soon"]), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 2);
    assert.match(err.problems.join("\n"), /--router-port: .*99999/);
    assert.match(err.problems.join("\n"), /--interval: .*soon/);
    return true;
  });
  assert.throws(
    () => parseDevArgs(["--kcl-port", "9000", "--broker-port", "9000"]),
    /--kcl-port, --broker-port: the same port 9000 twice/,
  );
  assert.throws(() => parseDevArgs(["--trafic"]), UsageError);
});
