/**
 * The four priority classes of the proxy and how an event's numeric priority maps onto them.
 * @module
 */

/** Priority classes, lowest first. */
export const PRIORITY_CLASSES = ["low", "normal", "high", "immediate"] as const;

/** A priority class name (also the value of the `kcl-priority` record header). */
export type PriorityClass = typeof PRIORITY_CLASSES[number];

/** Classes whose events are buffered and produced in batches. */
export type BatchedClass = Exclude<PriorityClass, "immediate">;

/**
 * The class of a priority: low [0,10), normal [10,20), high [20,30), immediate [30,∞).
 *
 * @example
 * ```ts
 * priorityClass(25); // "high"
 * ```
 */
export function priorityClass(priority: number): PriorityClass {
  if (priority < 10) return "low";
  if (priority < 20) return "normal";
  if (priority < 30) return "high";
  return "immediate";
}
