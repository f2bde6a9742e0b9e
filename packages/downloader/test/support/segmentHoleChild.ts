/**
 * The child of `segmentHole.test.ts`: a segmented download (4 segments, no
 * checksum) while `Object.prototype.end` is set, which stops Effect 4.1's
 * concurrent `forEach` after its first item, so only the first segment is
 * fetched. Prints one line: how the download ended and what is in the folder.
 *
 * Usage: `node segmentHoleChild.ts <json>` with `{ url, folder }`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../../src/Downloader.ts"

const input = JSON.parse(process.argv[2]!) as { readonly url: string; readonly folder: string }
const stdout = process.stdout

const program = Effect.scoped(Effect.gen(function*() {
  const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } })
  const downloader = yield* Effect.provideService(
    Downloader.make({ segments: 4, segmentThreshold: 0 }),
    ResilientClient.ResilientClient,
    client
  )
  const proto: Record<string, unknown> = Object.prototype as Record<string, unknown>
  proto["end"] = 1
  const exit = yield* Effect.exit(
    downloader.download(`${input.url}/files/hole.bin?size=4194304&seed=5`, Path.join(input.folder, "hole.bin"))
  )
  delete proto["end"]
  return exit
}))

const exit = await Effect.runPromise(program)
const files = (await Fs.readdir(input.folder)).toSorted()
stdout.write(
  `${
    JSON.stringify({
      ok: exit._tag === "Success",
      error: exit._tag === "Failure" ? String(exit.cause) : undefined,
      segments: exit._tag === "Success" ? exit.value.segments : undefined,
      files
    })
  }\n`
)
