/**
 * The child of `fullDisk.test.ts`: one download into a folder, with the
 * process's file size limit (`RLIMIT_FSIZE`, set on itself with `prlimit`)
 * at `limitBytes` when given, so that a write past it fails with `EFBIG`, as
 * a full disk fails one with `ENOSPC`. Prints one line: how the download
 * ended, what is in the folder, and any rejection left unhandled.
 *
 * Usage: `node fullDiskChild.ts <json>` with `{ url, folder, sha256, limitBytes? }`.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../../src/Downloader.ts"

const input = JSON.parse(process.argv[2]!) as {
  readonly url: string
  readonly folder: string
  readonly sha256: string
  readonly limitBytes?: number
}
const unhandled: Array<string> = []
process.on("unhandledRejection", (reason) => unhandled.push(String(reason)))
if (input.limitBytes !== undefined) {
  // Without a handler the signal would kill the process; with one, the write fails with EFBIG.
  process.on("SIGXFSZ", () => {})
  execFileSync("prlimit", [`--pid=${process.pid}`, `--fsize=${input.limitBytes}`])
}

const program = Effect.scoped(Effect.gen(function*() {
  const client = yield* ResilientClient.make({ retry: { maxAttempts: 1 } })
  const downloader = yield* Effect.provideService(Downloader.make({}), ResilientClient.ResilientClient, client)
  return yield* Effect.result(
    downloader.download(input.url, Path.join(input.folder, "full.bin"), {
      checksum: { algorithm: "sha256", expected: input.sha256 }
    })
  )
}))

const result = await Effect.runPromise(program)
// A turn of the loop for any rejection still to be reported.
await new Promise((resolve) => setTimeout(resolve, 100))
const files = (await Fs.readdir(input.folder)).toSorted()
const error = result._tag === "Failure" ? result.failure : undefined
process.stdout.write(
  `${
    JSON.stringify({
      ok: result._tag === "Success",
      resumed: result._tag === "Success" ? result.success.resumed : undefined,
      tag: error?._tag,
      code: error !== undefined && "code" in error ? error.code : undefined,
      operation: error !== undefined && "operation" in error ? error.operation : undefined,
      files,
      unhandled
    })
  }\n`
)
