/**
 * One download in a process of its own, for `memory.test.ts`: prints the
 * process's peak resident set (KiB) after a verified download.
 *
 * `node memoryChild.ts <url> <destination> <sha256 hex>`
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Effect } from "effect"
import * as Downloader from "../../src/Downloader.ts"

const [url, destination, sha256] = process.argv.slice(2)
if (url === undefined || destination === undefined || sha256 === undefined) {
  process.stderr.write("usage: node memoryChild.ts <url> <destination> <sha256 hex>\n")
  process.exit(2)
}

const program = Effect.gen(function*() {
  const client = yield* ResilientClient.make({ timeout: { idle: "30 seconds" } })
  const downloader = yield* Effect.provideService(Downloader.make(), ResilientClient.ResilientClient, client)
  const result = yield* downloader.download(url, destination, { checksum: `sha256:${sha256}`, segments: 1 })
  process.stdout.write(`${JSON.stringify({ bytes: result.bytes, maxRssKiB: process.resourceUsage().maxRSS })}\n`)
})

await Effect.runPromise(Effect.scoped(program))
