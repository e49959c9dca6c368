/**
 * The product version, taken from deno.json at build time (a static import, so it is inside a compiled binary).
 * @module
 */
import meta from "../deno.json" with { type: "json" };

/** Semantic version of event-router. */
export const VERSION: string = meta.version;

/** `event-router <semver> (deno <version>)`, what `--version` prints. */
export function versionLine(): string {
  return `event-router ${VERSION} (deno ${Deno.version.deno})`;
}
