/**
 * A throwaway redis-server for `event-router dev`: spawned on a free loopback port, nothing saved to disk.
 * @module
 */

/** A running redis-server child process. */
export interface RedisProcess {
  port: number;
  stop(): Promise<void>;
}

/** Why the sandbox could not start Redis (not installed, or it did not come up). */
export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisUnavailableError";
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function answersPing(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(16);
      const n = await conn.read(buf);
      return n !== null && new TextDecoder().decode(buf.subarray(0, n)).startsWith("+PONG");
    } finally {
      conn.close();
    }
  } catch {
    return false;
  }
}

/** Spawns `redis-server` and waits (up to 5 s) until it answers PING. */
export async function spawnRedis(binary = "redis-server"): Promise<RedisProcess> {
  const port = freePort();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(binary, {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdout: "null",
      stderr: "null",
      stdin: "null",
    }).spawn();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new RedisUnavailableError("redis-server is not installed (apt-get install -y redis-server)");
    }
    throw err;
  }
  const deadline = Date.now() + 5000;
  while (!(await answersPing(port))) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await child.status;
      throw new RedisUnavailableError(`redis-server did not answer on 127.0.0.1:${port} within 5 s`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    },
  };
}
