/**
 * The service benchmark suites `bench/main.ts` runs. Each service engineer adds two lines: the static import of
 * `bench/<service>.ts` and an entry `{ name, run }` (static imports keep the suites inside a compiled bundle).
 * @module
 */
import type { BenchSuite } from "./_lib.ts";
import type { CeilingKind } from "./ceilings.ts";

import * as router from "./router.ts";
import * as httpbroker from "./httpbroker.ts";
import * as kcl from "./kcl_proxy.ts";

/** A suite plus the shared ceilings it uses. */
export interface RegisteredSuite extends BenchSuite {
  /**
   * The default ceilings of bench/ceilings.ts the suite's rows are divided by (main.ts measures them first and prints
   * them as their own rows; the suite gets the memoised result by asking with the same default options). `[]` when
   * the suite measures its own ceilings.
   */
  ceilings: CeilingKind[];
}

/** Every registered suite, in table order. Names are what `--only` accepts. */
export const suites: RegisteredSuite[] = [
  // router divides by pipeCeiling(defaultPipeOptions(quick)); the other two measure their ceilings beside their rows.
  { name: router.name, run: router.run, ceilings: ["pipe"] },
  { name: httpbroker.name, run: httpbroker.run, ceilings: [] },
  { name: kcl.name, run: kcl.run, ceilings: [] },
];

/** Suite names `--only` accepts, with the ceilings measured for a suite that is not registered yet. */
export const KNOWN_SUITES: Record<string, CeilingKind[]> = {
  router: ["pipe"],
  httpbroker: ["echo", "lpush"],
  kcl: ["echo", "producer"],
};
