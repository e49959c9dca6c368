/**
 * Dead letters: events that could not be delivered after their retries (or could not be routed at all) are stored
 * in S3 at `[prefix/]<integration>/<messageId>`, with what went wrong in the object's metadata.
 * @module
 */
import { createHash } from "node:crypto";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../config/router.ts";

/** One dead letter. */
export interface DeadLetter {
  /** The integration topic it was meant for, or a pseudo-integration (`invalid`, `unrouted`). */
  integration: string;
  /** The event's `messageId`, or `<topic>-<partition>-<offset>` when it has none. */
  messageId: string;
  /** The original event bytes. */
  body: Uint8Array;
  /** Retries made before it was given up (the object's `retry-count` metadata). */
  retryCount: number;
  /** The last error (the object's `error` metadata). */
  error: string;
}

/** Where dead letters go. */
export interface DeadLetterStore {
  /** Stores one letter; rejects when the store fails (the caller retries). */
  put(letter: DeadLetter): Promise<void>;
  /** Releases the store's connections. */
  close(): void;
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** S3 refuses keys longer than this many UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;
const encoder = new TextEncoder();

/**
 * The S3 object key of a dead letter: `[prefix/]<integration>/<messageId>`. The messageId comes from the event, so
 * it is untrusted: one that S3 would refuse (too long for a key, control characters, empty) or that would read as a
 * path step (`.`, `..`, a leading `/`) would make the upload fail forever and stall its partition, so it is replaced
 * by `sha256-<hex of the messageId>`; the original travels in the object's `message-id` metadata.
 */
export function deadLetterKey(prefix: string | undefined, integration: string, messageId: string): string {
  const base = `${prefix === undefined || prefix === "" ? "" : prefix + "/"}${integration}/`;
  const usable = messageId !== "" && messageId !== "." && messageId !== ".." && !messageId.startsWith("/") &&
    !hasControlCharacter(messageId) && !/(^|\/)\.\.?(\/|$)/.test(messageId) &&
    encoder.encode(base + messageId).byteLength <= MAX_KEY_BYTES;
  if (usable) return base + messageId;
  return `${base}sha256-${createHash("sha256").update(messageId).digest("hex")}`;
}

/** S3 user metadata must be printable ASCII; keep the error readable but bounded. */
function metadataValue(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 1024);
}

/**
 * Stores dead letters in an S3 bucket.
 *
 * @example
 * ```ts
 * const store = new S3DeadLetters(config.retry.s3);
 * await store.put({ integration: "segment", messageId: "m1", body, retryCount: 2, error: "timeout" });
 * ```
 */
export class S3DeadLetters implements DeadLetterStore {
  readonly #client: S3Client;

  constructor(private readonly config: S3Config) {
    this.#client = new S3Client({
      region: config.region,
      ...(config.endpoint !== undefined ? { endpoint: config.endpoint, forcePathStyle: true } : {}),
      ...(config.credentials !== undefined ? { credentials: config.credentials } : {}),
      // The router retries uploads itself with its own backoff, forever; the SDK's quick retries stay.
    });
  }

  async put(letter: DeadLetter): Promise<void> {
    await this.#client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: deadLetterKey(this.config.prefix, letter.integration, letter.messageId),
        Body: letter.body,
        ContentType: "application/json",
        Metadata: {
          "integration": metadataValue(letter.integration),
          "retry-count": String(letter.retryCount),
          "error": metadataValue(letter.error),
          "message-id": metadataValue(letter.messageId),
        },
      }),
    );
  }

  close(): void {
    this.#client.destroy();
  }
}
