/**
 * The service benchmark suites `bench/main.ts` runs. Each service engineer adds two lines: the static import of
 * `bench/<service>.ts` and an entry `{ name, run }` (static imports keep the suites inside a compiled bundle).
 * @module
 */
import type { BenchSuite } from "./_lib.ts";
import type { CeilingKind } from "./ceilings.ts";

// import * as router from "./router.ts";
// import * as httpbroker from "./httpbroker.ts";
// import * as kcl from "./kcl_proxy.ts";

/** A suite plus the default ceilings its rows are compared with (measured first and printed above the suites). */
export interface RegisteredSuite extends BenchSuite {
  ceilings: CeilingKind[];
}

/** Every registered suite, in table order. Names are what `--only` accepts. */
export const suites: RegisteredSuite[] = [
  // { name: "router", run: router.run, ceilings: ["pipe"] },
  // { name: "httpbroker", run: httpbroker.run, ceilings: ["echo", "lpush"] },
  // { name: "kcl", run: kcl.run, ceilings: ["echo", "producer"] },
];

/** The suite names main.ts knows about even before a suite is registered (for `--only` messages). */
export const KNOWN_SUITES: Record<string, CeilingKind[]> = {
  router: ["pipe"],
  httpbroker: ["echo", "lpush"],
  kcl: ["echo", "producer"],
};
