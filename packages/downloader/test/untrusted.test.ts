/**
 * What an earlier run, a server or a neighbour in the folder can get wrong,
 * and what the downloader makes of it: a sidecar whose segments do not tile
 * the file, a `.part` longer than the file, a `206` that does not repeat the
 * validator its bytes are joined under or runs past the range it announces,
 * a `GET` announcing more bytes than the folder holds, names that leave no
 * room for the helper files or take another download's `.part`, and lock
 * files from an earlier life of this process's pid.
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect, Fiber } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assertContent, listing, setup } from "./support/setup.ts"

const etagOf = (name: string, size: number, seed: number) =>
  Content.entityTag({ name, size, seed, encoding: "identity" })

/** A `.part` holding `bytes` and a sidecar with these segments, as an earlier run (or someone else) left them. */
const leave = (
  path: string,
  bytes: Uint8Array,
  sidecar: { readonly url: string; readonly size: number; readonly etag: string; readonly segments: unknown }
) =>
  Effect.promise(async () => {
    await Fs.writeFile(`${path}.part`, bytes)
    await Fs.writeFile(`${path}.part.json`, JSON.stringify({ version: 1, ...sidecar }))
  })

it.live("a sidecar whose segments leave a gap, stop short or are missing is not trusted: the file starts over and arrives whole", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1_000_000
    const url = server.urlFor(`/files/s.bin?size=${size}&seed=31`)
    const etag = etagOf("s.bin", size, 31)
    const lies: ReadonlyArray<unknown> = [
      [],
      [{ start: 0, end: size / 2, done: size / 2 }],
      [{ start: 0, end: 300_000, done: 300_000 }, { start: 600_000, end: size, done: 400_000 }],
      [{ start: 500_000, end: size, done: 500_000 }]
    ]
    for (const segments of lies) {
      const path = Path.join(folder, "s.bin")
      yield* leave(path, Content.bytesAt(31, 0, size), { url, size, etag, segments })
      const result = yield* downloader.download(url, path, { ifExists: "overwrite" })
      yield* assertContent(path, 31, size)
      assert.isFalse(result.resumed, JSON.stringify(segments))
      assert.strictEqual(result.bytes, size)
    }
  }).pipe(Effect.scoped))

it.live("a .part longer than the file, with a sidecar that counts it whole, reaches the destination at the file's length", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 400_000
    const url = server.urlFor(`/files/l.bin?size=${size}&seed=32`)
    const path = Path.join(folder, "l.bin")
    const longer = Buffer.concat([Content.bytesAt(32, 0, size), Buffer.alloc(100_000, 0x41)])
    yield* leave(path, longer, {
      url,
      size,
      etag: etagOf("l.bin", size, 32),
      segments: [{ start: 0, end: size, done: size }]
    })
    const result = yield* downloader.download(url, path, { checksum: { algorithm: "sha256" } })
    yield* assertContent(path, 32, size)
    assert.strictEqual(result.bytes, size)
    assert.deepStrictEqual(yield* listing(folder), ["l.bin"])
  }).pipe(Effect.scoped))

it.live("a 206 that does not repeat the ETag the bytes were joined under is not joined: the stream starts over from zero", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 2_000_000
    const url = server.urlFor(`/files/nv.bin?size=${size}&seed=33&range_no_validators=1&drop_after=500000&drop_times=1`)
    const path = Path.join(folder, "nv.bin")
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 33, size)
    assert.strictEqual(result.restarts, 1)
    const gets = (yield* server.requestsTo("/files/nv.bin")).filter((request) => request.method === "GET")
    // The first GET broke; the continuation's 206 came without validators; the next GET asked for everything.
    assert.deepStrictEqual(gets.map((request) => request.headers["range"] !== undefined), [false, true, false])
  }).pipe(Effect.scoped))

it.live("a segment whose 206 runs past the range its Content-Range announces fails with BodyLengthError, nothing at the destination", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 4 * 1024 * 1024
    const url = server.urlFor(`/files/rs.bin?size=${size}&seed=34&range_short=1000`)
    const path = Path.join(folder, "rs.bin")
    const error = yield* Effect.flip(downloader.download(url, path, { segments: 4 }))
    assert.strictEqual(error._tag, "BodyLengthError")
    assert.isFalse((yield* listing(folder)).includes("rs.bin"))
  }).pipe(Effect.scoped))

it.live("a GET announcing more bytes than the folder has room for fails with InsufficientSpaceError before writing, when HEAD said less", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const url = server.urlFor(`/files/big.bin?size=3000&seed=35&get_length=${Number.MAX_SAFE_INTEGER}`)
    const path = Path.join(folder, "big.bin")
    const error = yield* Effect.flip(downloader.download(url, path))
    assert.strictEqual(error._tag, "InsufficientSpaceError")
    if (error._tag === "InsufficientSpaceError") assert.strictEqual(error.needed, Number.MAX_SAFE_INTEGER)
    const part = yield* Effect.promise(() => Fs.stat(`${path}.part`).catch(() => undefined))
    assert.strictEqual(part?.size ?? 0, 0)
    assert.isFalse((yield* listing(folder)).includes("big.bin"))
  }).pipe(Effect.scoped))

it.live("a name from the network is shortened to leave room for .part.json.tmp, and one ending in .part cannot take another download's part", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const long = `${"n".repeat(300)}.bin`
    const named = yield* downloader.download(
      server.urlFor(`/files/x.bin?size=2000&seed=36&filename=${encodeURIComponent(long)}`),
      `${folder}/`
    )
    const name = Path.basename(named.path)
    assert.isAtMost(Buffer.byteLength(name), 255 - ".part.json.tmp".length)
    assert.isTrue(name.endsWith(".bin"))
    yield* assertContent(named.path, 36, 2000)

    const partLike = yield* downloader.download(
      server.urlFor("/files/y.bin?size=1000&seed=37&filename=other.bin.part"),
      `${folder}/`
    )
    assert.strictEqual(Path.basename(partLike.path), "other.bin_part")
    const lockLike = yield* downloader.download(
      server.urlFor("/files/z.bin?size=1000&seed=38&filename=other.bin.part.lock"),
      `${folder}/`
    )
    assert.strictEqual(Path.basename(lockLike.path), "other.bin_part.lock")
  }).pipe(Effect.scoped))

it.live("a lock naming this process's pid that this process does not hold, or a running pid that stopped refreshing it, is taken over", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const url = server.urlFor("/files/own.bin?size=1000&seed=39")
    const path = Path.join(folder, "own.bin")
    const lockPath = `${path}.part.lock`
    // An earlier life of this pid (a container restarted with the same host name and pid), an hour ago or just now.
    yield* Effect.promise(() => Fs.writeFile(lockPath, JSON.stringify({ host: Os.hostname(), pid: process.pid })))
    yield* downloader.download(url, path)
    yield* assertContent(path, 39, 1000)

    // A running pid (the parent) whose lock was last refreshed an hour ago: the pid was reused by another program.
    yield* Effect.promise(async () => {
      await Fs.writeFile(lockPath, JSON.stringify({ host: Os.hostname(), pid: process.ppid }))
      const hourAgo = new Date(Date.now() - 3_600_000)
      await Fs.utimes(lockPath, hourAgo, hourAgo)
    })
    yield* downloader.download(url, path, { ifExists: "overwrite" })
    assert.deepStrictEqual(yield* listing(folder), ["own.bin"])
  }).pipe(Effect.scoped))

it.live("a second download in this process to the same file through another spelling of its folder (a link) fails with EBUSY", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const real = Path.join(folder, "real")
    const link = Path.join(folder, "link")
    yield* Effect.promise(async () => {
      await Fs.mkdir(real)
      await Fs.symlink(real, link)
    })
    // About 2 s at 100 KB/s: long enough to hold the lock while the second one tries.
    const url = server.urlFor("/files/slow.bin?size=200000&seed=40&rate=100000")
    const first = yield* Effect.forkChild(downloader.download(url, Path.join(real, "slow.bin")))
    yield* Effect.promise(async () => {
      for (let i = 0; i < 200 && !(await Fs.lstat(Path.join(real, "slow.bin.part.lock")).catch(() => undefined)); i++) {
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
    })
    const second = yield* Effect.flip(downloader.download(url, Path.join(link, "slow.bin")))
    assert.strictEqual(second._tag, "FileSystemError")
    if (second._tag === "FileSystemError") assert.strictEqual(second.code, "EBUSY")
    yield* Fiber.join(first)
    yield* assertContent(Path.join(real, "slow.bin"), 40, 200_000)
  }).pipe(Effect.scoped))

it.live("segments whose 206s bring an ETag the HEAD did not name are not joined under the date alone: one stream fetches the file", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 4 * 1024 * 1024
    const url = server.urlFor(`/files/he.bin?size=${size}&seed=42&head_no_etag=1`)
    const path = Path.join(folder, "he.bin")
    const result = yield* downloader.download(url, path, { segments: 4 })
    yield* assertContent(path, 42, size)
    assert.strictEqual(result.segments, 1)
    assert.strictEqual(result.restarts, 1)
  }).pipe(Effect.scoped))

it.live("a file of unknown length whose 206s cover part of each range (total *) is asked for until a 416 says it ends", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 1_000_000
    const url = server.urlFor(
      `/files/star.bin?size=${size}&seed=43&chunked=1&drop_after=100000&drop_times=2&range_max=250000&range_total_unknown=1`
    )
    const path = Path.join(folder, "star.bin")
    // drop_times=2: the precheck's `bytes=0-0` is the first GET, the download's own GET the second (it drops).
    const result = yield* downloader.download(url, path)
    yield* assertContent(path, 43, size)
    assert.strictEqual(result.bytes, size)
    const ranges = (yield* server.requestsTo("/files/star.bin"))
      .filter((request) => request.method === "GET")
      .map((request) => request.headers["range"])
    assert.includeMembers(ranges, [
      "bytes=100000-",
      "bytes=350000-",
      "bytes=600000-",
      "bytes=850000-",
      "bytes=1000000-"
    ])
  }).pipe(Effect.scoped))
