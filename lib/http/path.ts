/**
 * Request routing helpers for hot paths, where building a `URL` object per request showed up in profiles.
 * @module
 */

/**
 * The path of an absolute request URL (`http://host/a/b?x#y` → `/a/b`) without building a `URL` object.
 *
 * @example
 * ```ts
 * pathOf("http://127.0.0.1:8080/state?x=1"); // "/state"
 * ```
 */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start === -1) return "/";
  let end = url.length;
  const q = url.indexOf("?", start);
  if (q !== -1) end = q;
  const h = url.indexOf("#", start);
  if (h !== -1 && h < end) end = h;
  return url.slice(start, end);
}
