/**
 * The httpbroker seed's example event (seeds/002), with its comma restored: the state the broker tests post.
 * @module
 */

/** The seed's event, as valid JSON would carry it. */
export const SEED_EVENT = {
  entity: "foo-app-01",
  check: "PING",
  type: "service",
  tags: "apps",
  state: "OK",
  summary: "3 ms round trip",
  ttl: 30,
};
