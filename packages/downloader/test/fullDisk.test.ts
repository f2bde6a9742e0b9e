/**
 * RELIABILITY 1 and 5 on a file system that refuses the bytes: a write that
 * fails mid-download (the process's file size limit, which fails it with
 * `EFBIG` as a full disk does with `ENOSPC`) ends the download with a
 * `FileSystemError`, leaves nothing at the destination and no rejection
 * unhandled, and keeps a `.part` that the next run resumes to the right
 * sha256.
 */
import { assert, it } from "@effect/vitest"
import { TestServer } from "@httpkit/testing"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { statSync } from "node:fs"
import { join } from "node:path"
import { childReport, tempFolder } from "./support/setup.ts"

interface Outcome {
  readonly ok: boolean
  readonly resumed?: boolean
  readonly tag?: string
  readonly code?: string
  readonly operation?: string
  readonly files: ReadonlyArray<string>
  readonly unhandled: ReadonlyArray<string>
}

const runChild = (input: object) =>
  childReport<Outcome>([join(import.meta.dirname, "support", "fullDiskChild.ts"), JSON.stringify(input)])

it.live(
  "a write refused past 2 MiB of a 16 MiB download: FileSystemError (write, EFBIG), no destination, nothing unhandled; the next run resumes the .part to the right sha256",
  () =>
    Effect.gen(function*() {
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const url = `${server.url}/files/full.bin?size=16777216&seed=9`
      const body = yield* Effect.promise(() => fetch(url).then((response) => response.arrayBuffer()))
      const sha256 = createHash("sha256").update(new Uint8Array(body)).digest("hex")

      const refused = yield* runChild({ url, folder, sha256, limitBytes: 2 * 1024 * 1024 })
      assert.deepStrictEqual(
        { ok: refused.ok, tag: refused.tag, code: refused.code, unhandled: refused.unhandled },
        { ok: false, tag: "FileSystemError", code: "EFBIG", unhandled: [] },
        JSON.stringify(refused)
      )
      assert.include(["write", "sync", "truncate"], refused.operation)
      assert.notInclude(refused.files, "full.bin")
      assert.include(refused.files, "full.bin.part")
      assert.isAtMost(statSync(join(folder, "full.bin.part")).size, 2 * 1024 * 1024)

      const resumed = yield* runChild({ url, folder, sha256 })
      assert.deepStrictEqual(
        { ok: resumed.ok, resumed: resumed.resumed, files: resumed.files, unhandled: resumed.unhandled },
        { ok: true, resumed: true, files: ["full.bin"], unhandled: [] },
        JSON.stringify(resumed)
      )
      assert.strictEqual(statSync(join(folder, "full.bin")).size, 16 * 1024 * 1024)
      // The second run asked only for the bytes after those the first wrote before the refusal.
      const gets = (yield* server.requestsTo("/files/full.bin")).filter((request) => request.method === "GET")
      assert.match(
        gets.at(-1)?.headers["range"] ?? "",
        /^bytes=[1-9]\d*-16777215$/,
        JSON.stringify(gets.map((get) => get.headers))
      )
    })
)
