/**
 * Self-signed certificates for tests that need TLS (HTTPS, HTTP/2 by ALPN),
 * made on the fly with the `openssl` command, valid for `localhost`,
 * `127.0.0.1` and `::1`.
 *
 * ```ts
 * const certificate = yield* TlsTest.selfSigned()
 * const server = yield* TestServer.make({ tls: certificate })
 * // trust `certificate.cert` as the CA in the client under test, or everywhere for the test's scope:
 * yield* TlsTest.trusting(certificate.cert)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Tls from "node:tls"

/**
 * A PEM key and certificate.
 *
 * @category models
 * @since 0.1.0
 */
export interface Certificate {
  readonly key: string
  readonly cert: string
}

/**
 * `openssl` was missing or failed.
 *
 * @category errors
 * @since 0.1.0
 */
export class CertificateError extends Data.TaggedError("CertificateError")<{ readonly message: string }> {}

/**
 * Makes a fresh self-signed EC (P-256) certificate valid for one day. The
 * private key never touches a persistent disk location: it is written to a
 * private temporary folder that is removed before this returns.
 *
 * @category constructors
 * @since 0.1.0
 */
export const selfSigned = (
  commonName = "localhost"
): Effect.Effect<Certificate, CertificateError> =>
  Effect.tryPromise({
    try: async () => {
      const dir = await mkdtemp(join(tmpdir(), "httpkit-tls-"))
      try {
        const keyPath = join(dir, "key.pem")
        const certPath = join(dir, "cert.pem")
        await new Promise<void>((resolve, reject) =>
          execFile(
            "openssl",
            [
              "req",
              "-x509",
              "-newkey",
              "ec",
              "-pkeyopt",
              "ec_paramgen_curve:prime256v1",
              "-nodes",
              "-days",
              "1",
              "-subj",
              `/CN=${commonName}`,
              "-addext",
              "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
              "-keyout",
              keyPath,
              "-out",
              certPath
            ],
            { timeout: 20_000 },
            (error, _stdout, stderr) => (error ? reject(new Error(`${error.message} ${stderr}`.trim())) : resolve())
          )
        )
        return { key: await readFile(keyPath, "utf8"), cert: await readFile(certPath, "utf8") }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
    catch: (error) => new CertificateError({ message: `openssl could not make a certificate: ${String(error)}` })
  })

/**
 * Node's default CAs trust `cert` too until the scope closes (then they are as
 * they were): how a host adds a private CA without code, for clients that
 * take no CA option of their own.
 *
 * @category constructors
 * @since 0.1.0
 */
export const trusting = (cert: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.sync(() => {
      const before = Tls.getCACertificates("default")
      Tls.setDefaultCACertificates([...before, cert])
      return before
    }),
    (before) => Effect.sync(() => Tls.setDefaultCACertificates(before))
  ))
