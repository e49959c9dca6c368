/**
 * Bare servers the ceilings are measured against, run as their own process: `deno run -A bench/_servers.ts echo`
 * (`echo <cert.pem> <key.pem>`: over HTTPS).
 * Prints `bench-server listening on <port>` once it accepts connections; exits on SIGTERM/SIGINT.
 * @module
 */

/** `POST` any JSON: parsed and echoed back as JSON; other methods answer a small JSON object. */
async function echo(req: Request): Promise<Response> {
  if (req.method !== "POST") return Response.json({ ok: true });
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return Response.json({ error: "malformed JSON" }, { status: 400 });
  }
  return Response.json(body);
}

const handlers: Record<string, (req: Request) => Promise<Response>> = { echo };

if (import.meta.main) {
  const kind = Deno.args[0] ?? "";
  const handler = handlers[kind];
  if (handler === undefined) {
    console.error(`usage: deno run -A bench/_servers.ts <${Object.keys(handlers).join("|")}>`);
    Deno.exit(2);
  }
  const ac = new AbortController();
  // `echo <cert.pem> <key.pem>`: the same server over HTTPS, the ceiling of the services' HTTPS rows.
  const [certFile, keyFile] = Deno.args.slice(1);
  const tls = certFile !== undefined && keyFile !== undefined
    ? { cert: Deno.readTextFileSync(certFile), key: Deno.readTextFileSync(keyFile) }
    : {};
  const server = Deno.serve({
    ...tls,
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: ({ port }) => console.log(`bench-server listening on ${port}`),
  }, handler);
  for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, () => ac.abort());
  await server.finished;
  // The signal listeners would keep the event loop alive.
  Deno.exit(0);
}
