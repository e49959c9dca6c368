/**
 * The sandbox's fixed names (integrations, topics, kcl identity), apart from the sandbox itself so that `dev --help`
 * and the banner do not load every service.
 * @module
 */

/** The integrations every app gets in the sandbox (`mock` syntax). */
export const DEV_INTEGRATIONS = "Segment:segment,Amplitude:amplitude,S3 Event Logs:s3-event-logs";
/** Topics the sandbox creates. */
export const DEV_TOPICS = {
  ingestion: "clickstream",
  integrations: ["segment", "amplitude", "s3-event-logs"],
  kcl: "dev.events",
} as const;
/** The kcl-proxy identity the generated key is bound to. */
export const DEV_KCL_IDENTITY = { clientId: "DEV", realm: "dev", topics: ["dev.*"] } as const;
