/**
 * A real S3 endpoint for tests (s3rver on 127.0.0.1, files in a temp directory) with an S3 client and helpers to
 * create buckets and read back what a service wrote.
 * @module
 */
import S3rver from "s3rver";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";

/** s3rver's fixed credentials; it checks request signatures against them. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
/** The region the client signs for; s3rver accepts any. */
export const S3_TEST_REGION = "us-east-1";

/** Options of {@link startS3}. */
export interface StartS3Options {
  /** Buckets that exist from the start. */
  buckets?: string[];
}

/** A running s3rver started by {@link startS3}. */
export interface S3Server extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A client for this server (path-style addressing, s3rver credentials). Destroyed by {@link stop}. */
  readonly client: S3Client;
  /** Settings a service's own S3 client needs to reach this server. */
  readonly clientConfig: {
    endpoint: string;
    region: string;
    forcePathStyle: true;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  createBucket(name: string): Promise<void>;
  /** Keys in `bucket` (optionally under `prefix`), sorted. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  getObject(bucket: string, key: string): Promise<Uint8Array>;
  getText(bucket: string, key: string): Promise<string>;
  putObject(bucket: string, key: string, body: string | Uint8Array): Promise<void>;
  /** Closes the client and the server and removes the files. Safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts s3rver on a free port of 127.0.0.1.
 *
 * @example
 * ```ts
 * const s3 = await startS3({ buckets: ["dead-letters"] });
 * try {
 *   // ... service writes with new S3Client(s3.clientConfig)
 *   assert.deepEqual(await s3.listKeys("dead-letters"), ["2024/01/01/a.json"]);
 * } finally {
 *   await s3.stop();
 * }
 * ```
 */
export async function startS3(opts: StartS3Options = {}): Promise<S3Server> {
  const directory = await Deno.makeTempDir({ prefix: "er-s3-" });
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name, configs: [] })),
  });
  let port: number;
  try {
    const addr = await server.run();
    port = addr.port;
  } catch (err) {
    await Deno.remove(directory, { recursive: true }).catch(() => {});
    throw err;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const clientConfig = {
    endpoint,
    region: S3_TEST_REGION,
    forcePathStyle: true as const,
    credentials: { ...S3RVER_CREDENTIALS },
  };
  const client = new S3Client(clientConfig);
  let stopped = false;

  const getObject = async (bucket: string, key: string): Promise<Uint8Array> => {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (res.Body === undefined) throw new Error(`s3: ${bucket}/${key} has no body`);
    return await res.Body.transformToByteArray();
  };

  const s3: S3Server = {
    endpoint,
    client,
    clientConfig,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async listKeys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const res = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of res.Contents ?? []) if (o.Key !== undefined) keys.push(o.Key);
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys.sort();
    },
    getObject,
    async getText(bucket, key) {
      return new TextDecoder().decode(await getObject(bucket, key));
    },
    async putObject(bucket, key, body) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    },
    [Symbol.asyncDispose]() {
      return s3.stop();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // The client keeps sockets alive between requests; destroying it closes them so the server can close.
      client.destroy();
      await server.close();
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    },
  };
  return s3;
}
