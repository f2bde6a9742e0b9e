import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup } from "./support/setup.ts"

it.live("a 3 MiB file arrives whole, verified with sha256, and nothing else is left in the folder", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 3 * 1024 * 1024
    const path = Path.join(folder, "a.bin")
    const result = yield* downloader.download(server.urlFor(`/files/a.bin?size=${size}&seed=7`), path, {
      checksum: `sha256:${expectedSha256(7, size)}`
    })
    yield* assertContent(path, 7, size)
    assert.strictEqual(result.bytes, size)
    assert.strictEqual(result.bytesTransferred, size)
    assert.isTrue(result.verified)
    assert.strictEqual(result.checksum?.digest, expectedSha256(7, size))
    assert.isFalse(result.resumed)
    assert.strictEqual(result.restarts, 0)
    assert.deepStrictEqual(yield* listing(folder), ["a.bin"])
  }).pipe(Effect.scoped))

it.live("a 20 MiB file whose connection drops every 1 MiB completes with the right sha256, continued from the last byte", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 20 * 1024 * 1024
    const path = Path.join(folder, "drop.bin")
    const result = yield* downloader.download(
      server.urlFor(`/files/drop.bin?size=${size}&seed=1&drop_after=${1024 * 1024}`),
      path,
      { checksum: { algorithm: "sha256", expected: expectedSha256(1, size) } }
    )
    yield* assertContent(path, 1, size)
    assert.isTrue(result.verified)
    assert.strictEqual(result.restarts, 0)
    assert.isAtLeast(result.continuations, 19)
    // Never from zero again: every GET after the first asks for the byte after the last one written.
    const gets = (yield* server.requestsTo("/files/drop.bin")).filter((request) => request.method === "GET")
    const starts = gets.map((request) => request.headers["range"])
    assert.strictEqual(starts[0], undefined)
    for (const [index, range] of starts.slice(1).entries()) {
      assert.strictEqual(range, `bytes=${(index + 1) * 1024 * 1024}-${size - 1}`)
    }
    assert.strictEqual(result.bytesTransferred, size)
  }).pipe(Effect.scoped))

it.live("a checksum mismatch fails typed, leaves nothing at the destination and removes the part", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "bad.bin")
    const error = yield* Effect.flip(
      downloader.download(server.urlFor("/files/bad.bin?size=100000&seed=2"), path, {
        checksum: `sha256:${"0".repeat(64)}`
      })
    )
    assert.strictEqual(error._tag, "ChecksumMismatchError")
    if (error._tag === "ChecksumMismatchError") {
      assert.strictEqual(error.actual, expectedSha256(2, 100_000))
      assert.strictEqual(error.expected, "0".repeat(64))
      assert.strictEqual(error.algorithm, "sha256")
    }
    assert.deepStrictEqual(yield* listing(folder), [])
    yield* Effect.promise(() => Fs.access(path).then(() => assert.fail("destination exists"), () => undefined))
  }).pipe(Effect.scoped))
