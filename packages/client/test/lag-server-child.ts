/**
 * The servers of `lag.test.ts`, in a process of their own: the test stalls its
 * own event loop, and the servers must go on answering meanwhile. Starts the
 * fault-injection server twice, over plain HTTP/1.1 and over TLS (HTTP/2 by
 * ALPN, with a fresh self-signed certificate), prints one JSON line with their
 * URLs and the certificate, and runs until it is killed.
 *
 * Usage: `node lag-server-child.ts`.
 */
import { TestServer, TlsTest } from "@httpkit/testing"
import { Effect } from "effect"

const program = Effect.gen(function*() {
  const plain = yield* TestServer.make({ keepAliveTimeout: 0 })
  const certificate = yield* TlsTest.selfSigned()
  const tls = yield* TestServer.make({ tls: certificate })
  process.stdout.write(
    `${JSON.stringify({ url: plain.url, rawUrl: plain.rawUrl, tlsUrl: tls.url, cert: certificate.cert })}\n`
  )
  return yield* Effect.never
})

Effect.runFork(Effect.scoped(program))
