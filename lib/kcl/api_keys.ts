/**
 * The API keys file: which key may send as which client, to which realms and topics, and with which webhook secret.
 * Keys are kept only as SHA-256 digests, compared in constant time, and never logged.
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { z } from "zod";
import type { Logger } from "../log.ts";
import { errorMessage } from "../log.ts";

const KeyEntrySchema = z.object({
  id: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex digits (sha-256 of the key)").optional(),
  key: z.string().min(1).optional(),
  clientId: z.string().min(1),
  realms: z.array(z.string().min(1)).min(1),
  topics: z.array(z.string().min(1)).min(1),
  webhookSecret: z.string().min(1).optional(),
}).refine((e) => (e.sha256 === undefined) !== (e.key === undefined), {
  message: 'exactly one of "sha256" or "key" is required',
});

/** zod schema of the keys file. */
export const ApiKeysFileSchema = z.object({ keys: z.array(KeyEntrySchema) });

/** One key as the proxy uses it (the secret itself is not kept). */
export interface ApiKey {
  /** The entry's id (logged instead of the key). */
  id: string;
  /** The client the key belongs to (`X-APP-ID` must match). */
  clientId: string;
  /** Realms it may post to (`X-REALM`). */
  realms: ReadonlySet<string>;
  /** Exact topic names. */
  topics: ReadonlySet<string>;
  /** Prefixes of entries that ended in `*`. */
  topicPrefixes: readonly string[];
  /** Signs the failure webhooks of its requests (`kcl-signature`), when set. */
  webhookSecret?: string;
}

interface StoredKey {
  digest: Buffer;
  key: ApiKey;
}

/** Thrown when the keys file cannot be read or does not fit the schema. */
export class ApiKeysFileError extends Error {
  constructor(path: string, detail: string) {
    super(`API keys file ${path}: ${detail}`);
    this.name = "ApiKeysFileError";
  }
}

/** SHA-256 of a presented key. */
function digestOf(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

/**
 * Compares two digests in time that depends only on their length: every byte is visited and differences are
 * accumulated without branching (what `timingSafeEqual` does, without its per-call native overhead).
 */
export function digestsEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Presented keys whose digest was computed recently; hashing is the costliest step of a small request. */
const DIGEST_CACHE_SIZE = 1024;

/** Whether `topic` is allowed for `key` (exact entry, or an entry ending in `*` whose prefix it starts with). */
export function topicAllowed(key: ApiKey, topic: string): boolean {
  if (key.topics.has(topic)) return true;
  for (const prefix of key.topicPrefixes) if (topic.startsWith(prefix)) return true;
  return false;
}

/**
 * Parses the JSON text of a keys file; `warn` is told (without the secret) about entries using plain `key`.
 * Throws {@link ApiKeysFileError} listing every problem.
 */
export function parseApiKeysFile(path: string, text: string, warn: (id: string) => void): StoredKey[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ApiKeysFileError(path, `malformed JSON: ${errorMessage(err)}`);
  }
  const result = ApiKeysFileSchema.safeParse(json);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ApiKeysFileError(path, problems.join("; "));
  }
  const ids = new Set<string>();
  const stored: StoredKey[] = [];
  for (const entry of result.data.keys) {
    if (ids.has(entry.id)) throw new ApiKeysFileError(path, `duplicate key id ${JSON.stringify(entry.id)}`);
    ids.add(entry.id);
    let digest: Buffer;
    if (entry.sha256 !== undefined) digest = Buffer.from(entry.sha256, "hex");
    else {
      warn(entry.id);
      digest = digestOf(entry.key as string);
    }
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const t of entry.topics) {
      if (t.endsWith("*")) prefixes.push(t.slice(0, -1));
      else exact.add(t);
    }
    const key: ApiKey = {
      id: entry.id,
      clientId: entry.clientId,
      realms: new Set(entry.realms),
      topics: exact,
      topicPrefixes: prefixes,
    };
    if (entry.webhookSecret !== undefined) key.webhookSecret = entry.webhookSecret;
    stored.push({ digest, key });
  }
  return stored;
}

/**
 * The current set of API keys, loaded from a file and replaced on {@link ApiKeys.reload} (SIGHUP). A reload that
 * finds an invalid file keeps the previous set.
 *
 * @example
 * ```ts
 * const keys = await ApiKeys.load("/etc/kcl/keys.json", logger);
 * const key = keys.find(req.headers.get("x-api-key") ?? "");
 * ```
 */
export class ApiKeys {
  #stored: StoredKey[];
  readonly #path: string;
  readonly #log: Logger;
  /** Presented key -> its SHA-256. Memory only, bounded, never logged. */
  readonly #digests = new Map<string, Buffer>();

  private constructor(path: string, stored: StoredKey[], log: Logger) {
    this.#path = path;
    this.#stored = stored;
    this.#log = log;
  }

  /** Reads and validates the file; throws {@link ApiKeysFileError}. */
  static async load(path: string, logger: Logger): Promise<ApiKeys> {
    const log = logger.child({ component: "api-keys" });
    return new ApiKeys(path, await ApiKeys.#read(path, log), log);
  }

  /** Builds a key set from file text already in memory (tests, embedding). */
  static fromText(text: string, logger: Logger, path = "(inline)"): ApiKeys {
    const log = logger.child({ component: "api-keys" });
    return new ApiKeys(path, parseApiKeysFile(path, text, (id) => ApiKeys.#warnPlain(log, id)), log);
  }

  static #warnPlain(log: Logger, id: string): void {
    log.warn('API key stored as plain "key"; store its sha256 instead', { keyId: id });
  }

  static async #read(path: string, log: Logger): Promise<StoredKey[]> {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (err) {
      throw new ApiKeysFileError(path, `cannot read: ${errorMessage(err)}`);
    }
    return parseApiKeysFile(path, text, (id) => ApiKeys.#warnPlain(log, id));
  }

  /** Number of keys loaded. */
  get size(): number {
    return this.#stored.length;
  }

  /**
   * Re-reads the file. Resolves true when the new set is in use, false when the file was invalid (logged) and the
   * previous set is kept.
   */
  async reload(): Promise<boolean> {
    try {
      this.#stored = await ApiKeys.#read(this.#path, this.#log);
      this.#log.info("API keys reloaded", { keys: this.#stored.length });
      return true;
    } catch (err) {
      this.#log.error("API keys reload failed; keeping the previous keys", { error: errorMessage(err) });
      return false;
    }
  }

  /**
   * The key whose digest equals the presented key's, or undefined. Every stored digest is compared, in constant
   * time, so timing says nothing about which key (or how much of one) matched.
   */
  find(presented: string): ApiKey | undefined {
    let digest = this.#digests.get(presented);
    if (digest === undefined) {
      digest = digestOf(presented);
      // Random keys from a scanner must not grow memory: start over when full.
      if (this.#digests.size >= DIGEST_CACHE_SIZE) this.#digests.clear();
      this.#digests.set(presented, digest);
    }
    let found: ApiKey | undefined;
    for (const s of this.#stored) {
      if (digestsEqual(s.digest, digest) && found === undefined) found = s.key;
    }
    return found;
  }
}
