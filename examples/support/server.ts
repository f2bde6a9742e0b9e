/**
 * Where the examples and the demo send their requests: the server given with
 * `--url http://127.0.0.1:PORT` (one started with `npm run test-server`), or a
 * fault-injection server started embedded, in the caller's scope. A `--url`
 * where nothing answers is one line and exit 1, not a stack trace per
 * request. Also the flags every such example takes, read with the shared
 * `scripts/args.ts`.
 */
import * as Redact from "@httpkit/core/Redact"
import * as TestServer from "@httpkit/testing/TestServer"
import { Console, Effect } from "effect"
import * as Fs from "node:fs/promises"
import { fail, parseFlags } from "../../scripts/args.ts"
import { requireReachable } from "../../scripts/reachable.ts"

/** The help lines of `--url` and `--help`, their text at `column` (to line up with an example's other flags). */
export const serverHelpAt = (column: number): string =>
  [
    ["--url URL", "send the requests to a server started with `npm run test-server` (default: one started embedded)"],
    ["-h, --help", "this text"]
  ].map(([flag, text]) => `  ${flag!.padEnd(column - 2)}${text}`).join("\n")

/** The help lines of `--url` and `--help`, for an example's usage text. */
export const serverHelp = serverHelpAt(16)

/**
 * The flags of an example that talks to the fault-injection server, `--url`
 * and `--help`, plus `options` of its own; an unknown flag or a stray
 * argument prints `usage` and exits with status 2, `--help` prints it and
 * exits with 0.
 */
export const serverFlags = <const O extends Record<string, { readonly type: "string" | "boolean" }>>(
  usage: string,
  options: O = {} as O
) => {
  const { values } = parseFlags({
    options: { ...options, url: { type: "string" }, help: { type: "boolean", short: "h" } }
  }, usage)
  const given = (values as { readonly url?: string | undefined }).url
  const url = given === undefined ? undefined : URL.parse(given)
  if (url !== undefined && (url === null || !/^https?:$/.test(url.protocol) || url.hostname === "")) {
    fail(`--url must be an http:// or https:// URL such as http://127.0.0.1:8080, got ${JSON.stringify(given)}`)
  }
  return values
}

/** The hint after an unreachable `--url`. */
const startHint = "start it with npm run test-server"

/**
 * Exits with status 1 and one line, `the test server was unreachable at URL
 * (ECONNREFUSED); start it with npm run test-server`, unless something
 * answers at `url`'s host and port.
 */
export const requireServer = (url: string) =>
  Effect.promise(() =>
    requireReachable("the test server", url, (url) => Redact.url(url).replace(/\/$/, ""), { hint: startHint })
  )

/** Options of `serverUrl`. */
export interface ServerOptions {
  /**
   * A file that keeps the embedded server's port from one run to the next:
   * the server listens on the port it names, when it is free, and the file is
   * written with the port it got. The URLs of the run are then those of the
   * last, so that a download it left is resumed rather than started over.
   */
  readonly portFile?: string | undefined
}

/** The port a port file names, or `undefined` when there is none or it names none. */
const keptPort = (file: string) =>
  Effect.promise(() =>
    Fs.readFile(file, "utf8").then((text) => {
      const port = /^\s*([0-9]{1,5})\s*$/.exec(text)?.[1]
      return port === undefined || Number(port) < 1 || Number(port) > 65_535 ? undefined : Number(port)
    }, () => undefined)
  )

/** An embedded server, on the port `portFile` keeps when it is free. */
const embedded = (portFile: string | undefined) =>
  Effect.gen(function*() {
    const kept = portFile === undefined ? undefined : yield* keptPort(portFile)
    const onKept = kept === undefined ? undefined : yield* Effect.result(TestServer.make({ port: kept }))
    if (onKept?._tag === "Failure") {
      yield* Console.log(
        `port ${kept} (kept in ${portFile}) is taken: the embedded server listens on another port, ` +
          "so a download an earlier run left is started over"
      )
    }
    const server = onKept?._tag === "Success" ? onKept.success : yield* TestServer.make()
    if (portFile !== undefined && server.port !== kept) {
      yield* Effect.promise(() => Fs.writeFile(portFile, `${server.port}\n`))
    }
    yield* Console.log(`fault-injection server embedded at ${server.url}`)
    return server.url
  })

/**
 * The base URL given (`--url`), once something answers there (else one line
 * and exit 1), or an embedded server's.
 */
export const serverUrl = (given: string | undefined, options: ServerOptions = {}) =>
  Effect.gen(function*() {
    if (given === undefined) return yield* embedded(options.portFile)
    yield* requireServer(given)
    return given.replace(/\/$/, "")
  })
