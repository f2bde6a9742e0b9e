/**
 * The process that `kill.test.ts` kills: one download, reported line by line
 * on stdout so the parent can kill it at a byte count rather than a time.
 *
 * `node killChild.ts <url> <destination> <sha256 hex>`
 *
 * Lines, one JSON object each:
 *
 * - `{ "event": "start", "pid": N }` once the modules are loaded, just before
 *   the download begins (a kill on this line lands before any byte);
 * - `{ "event": "progress", "bytes": N }` per progress event (bytes on disk
 *   or received so far, resumed bytes included; at most one per 20 ms);
 * - `{ "event": "done", "result": { ... } }` when the file is in place.
 *
 * The program runs under `NodeRuntime.runMain`, so SIGINT and SIGTERM
 * interrupt the download's fiber and its finalizers run (the last checkpoint
 * of the `.part`); the process then exits 130. A failure is logged on stderr
 * and exits 1.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Effect } from "effect"
import * as Downloader from "../../src/Downloader.ts"

const [url, destination, sha256] = process.argv.slice(2)
if (url === undefined || destination === undefined || sha256 === undefined) {
  process.stderr.write("usage: node killChild.ts <url> <destination> <sha256 hex>\n")
  process.exit(2)
}

/** One line on stdout (a pipe: written synchronously, so a line is never cut by a kill). */
const report = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

const program = Effect.gen(function*() {
  const client = yield* ResilientClient.make({ retry: { maxAttempts: 4, minDelay: 1, maxDelay: 20 } })
  const downloader = yield* Effect.provideService(
    Downloader.make({ checkpointInterval: 50, progressInterval: 20 }),
    ResilientClient.ResilientClient,
    client
  )
  report({ event: "start", pid: process.pid })
  const result = yield* downloader.download(url, destination, {
    checksum: `sha256:${sha256}`,
    onProgress: (progress) => report({ event: "progress", bytes: progress.bytes })
  })
  report({
    event: "done",
    result: {
      bytes: result.bytes,
      bytesTransferred: result.bytesTransferred,
      resumed: result.resumed,
      restarts: result.restarts,
      continuations: result.continuations,
      verified: result.verified,
      digest: result.checksum?.digest
    }
  })
})

NodeRuntime.runMain(Effect.scoped(program))
