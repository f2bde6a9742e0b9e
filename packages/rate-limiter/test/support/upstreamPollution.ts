/**
 * What libraries under the limiter do with a polluted `Object.prototype`,
 * printed as one JSON line: Effect's Schema (decoding and a tagged error's
 * constructor), `node:sqlite`'s options and Node's sockets. The limiter works
 * around each (`internal/own.ts`, `localDatabase.ts`); `Pollution.test.ts`
 * pins these, so a test turns red when an upstream fixes one. A child process
 * of its own, so the pollution never reaches the test runner.
 */
import { RateLimiterUnavailableError } from "@httpkit/rate-limiter"
import * as Schema from "effect/Schema"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"

const prototype = Object.prototype as Record<string, unknown>

/** Runs `f` with `Object.prototype[name]` set to `value`, deleted again however `f` ends. */
const polluted = <A>(name: string, value: unknown, f: () => A): A => {
  prototype[name] = value
  try {
    return f()
  } finally {
    delete prototype[name]
  }
}

const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-upstream-pollution-"))
try {
  const Struct = Schema.Struct({ a: Schema.String, b: Schema.optional(Schema.String) })
  const decoded = polluted("b", "polluted", () => Schema.decodeUnknownSync(Struct)({ a: "x" }))
  const plainError = polluted(
    "url",
    "http://polluted.test/",
    () => new RateLimiterUnavailableError({ backend: "redis", retryable: true, detail: "d" })
  )
  const bareError = polluted("url", "http://polluted.test/", () =>
    new RateLimiterUnavailableError(
      Object.assign(Object.create(null), { backend: "redis", retryable: true, detail: "d" })
    ))
  const sqliteRow = polluted("returnArrays", true, () => {
    const db = new DatabaseSync(Path.join(folder, "plain.sqlite"), { timeout: 100 })
    try {
      return db.prepare("SELECT 1 AS n").get()
    } finally {
      db.close()
    }
  })
  const socketListener = polluted("timeout", 1, () => {
    const socket = new Net.Socket()
    try {
      socket.once("timeout", () => {})
      return "ok"
    } catch (error) {
      return `throws: ${String(error)}`
    } finally {
      socket.destroy()
    }
  })
  process.stdout.write(
    `${
      JSON.stringify({
        schemaDecodesInherited: Object.hasOwn(decoded, "b") ? decoded.b : null,
        plainErrorUrl: Object.hasOwn(plainError, "url") ? plainError.url : null,
        bareErrorUrl: Object.hasOwn(bareError, "url") ? bareError.url : null,
        sqliteRow,
        socketListener
      })
    }\n`
  )
} finally {
  Fs.rmSync(folder, { recursive: true, force: true })
}
