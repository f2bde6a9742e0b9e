/**
 * RELIABILITY 9 for a download's helper files: a symbolic link planted at
 * `DEST.part.json`, `DEST.part.json.tmp` or `DEST.part.lock`, before the
 * download or while it runs, is refused with a typed error or ignored, and
 * the file it points to (outside the download folder, owned by the test,
 * with known content) is never read as ours, written, truncated or touched.
 * (`destination.test.ts` covers links at the destination and at the `.part`.)
 * A FIFO planted at any of them, which a plain `open` would wait on for ever,
 * is refused or ignored the same way.
 */
import { assert, it } from "@effect/vitest"
import * as Content from "@httpkit/testing/Content"
import { Effect, Fiber } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup, tempFolder } from "./support/setup.ts"

/** A long time ago, to see whether anything touched a file's times. */
const longAgo = new Date("2001-02-03T04:05:06Z")

/** A file outside the download folder with `content`, its times set `longAgo`. */
const victimFile = (content: string) =>
  Effect.gen(function*() {
    const outside = yield* tempFolder
    const path = Path.join(outside, "victim.txt")
    yield* Effect.promise(async () => {
      await Fs.writeFile(path, content)
      await Fs.utimes(path, longAgo, longAgo)
    })
    return { outside, path }
  })

/** Asserts that the victim still holds `content` and was not touched. */
const assertUntouched = (path: string, content: string) =>
  Effect.gen(function*() {
    const stats = yield* Effect.promise(() => Fs.lstat(path))
    assert.isTrue(stats.isFile(), `${path} is still a regular file`)
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(path, "utf8")), content)
    assert.strictEqual(stats.mtimeMs, longAgo.getTime(), `${path} modification time`)
  })

/** Waits (up to about 10 s) until `path` exists. */
const appears = (path: string) =>
  Effect.promise(async () => {
    for (let i = 0; i < 400; i++) {
      if (await Fs.lstat(path).catch(() => undefined)) return true
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return false
  })

/** Replaces `path` with a symbolic link to `target`. */
const plantLink = (target: string, path: string) =>
  Effect.promise(async () => {
    await Fs.rm(path, { force: true })
    await Fs.symlink(target, path)
  })

it.live("a symlink planted at DEST.part.json, pointing outside to a sidecar that claims 200000 bytes of the .part, is ignored: the download starts from zero and arrives verified, the target unchanged", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const size = 400_000
    const url = server.urlFor(`/files/sj.bin?size=${size}&seed=60`)
    const path = Path.join(folder, "sj.bin")
    const etag = Content.entityTag({ name: "sj.bin", size, seed: 60, encoding: "identity" })
    // What the link points to is a sidecar that would be believed: the right URL, length and ETag.
    const lie = JSON.stringify({ version: 1, url, size, etag, segments: [{ start: 0, end: size, done: 200_000 }] })
    const victim = yield* victimFile(lie)
    yield* Effect.promise(() => Fs.writeFile(`${path}.part`, Buffer.alloc(200_000, 0xee)))
    yield* plantLink(victim.path, `${path}.part.json`)
    const result = yield* downloader.download(url, path, { checksum: `sha256:${expectedSha256(60, size)}` })
    yield* assertContent(path, 60, size)
    assert.isTrue(result.verified)
    assert.isFalse(result.resumed)
    assert.strictEqual(result.bytesTransferred, size)
    const gets = (yield* server.requestsTo("/files/sj.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 1)
    assert.isUndefined(gets[0]!.headers["range"])
    yield* assertUntouched(victim.path, lie)
    // The link was replaced by the first checkpoint's rename, and that sidecar removed at the end.
    assert.deepStrictEqual(yield* listing(folder), ["sj.bin"])
  }).pipe(Effect.scoped))

it.live("a symlink planted at DEST.part.json.tmp (the sidecar's temporary) is refused with FileSystemError ELOOP before any GET: the target outside is neither truncated nor written", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "tj.bin")
    const victim = yield* victimFile("keep me")
    yield* plantLink(victim.path, `${path}.part.json.tmp`)
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/tj.bin?size=300000&seed=61"), path))
    assert.strictEqual(error._tag, "FileSystemError")
    if (error._tag === "FileSystemError") {
      assert.strictEqual(error.code, "ELOOP")
      assert.strictEqual(error.operation, "write")
    }
    yield* assertUntouched(victim.path, "keep me")
    const gets = (yield* server.requestsTo("/files/tj.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 0)
    assert.isFalse((yield* listing(folder)).includes("tj.bin"))
    // The link is still a link; the lock was released.
    const tmp = yield* Effect.promise(() => Fs.lstat(`${path}.part.json.tmp`))
    assert.isTrue(tmp.isSymbolicLink())
    assert.isFalse((yield* listing(folder)).includes("tj.bin.part.lock"))
  }).pipe(Effect.scoped))

it.live("a symlink planted at DEST.part.lock, to a file outside or dangling, is a lock of nobody known: EBUSY (operation lock) before any GET while it is fresh, taken over once 30 s unrefreshed; the target unchanged, the dangling target never created", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const victim = yield* victimFile("keep me")
    const cases = [
      { name: "lk.bin", target: victim.path },
      { name: "dl.bin", target: Path.join(victim.outside, "created-by-nobody") }
    ]
    for (const { name, target } of cases) {
      const path = Path.join(folder, name)
      const url = server.urlFor(`/files/${name}?size=300000&seed=62`)
      yield* plantLink(target, `${path}.part.lock`)
      const error = yield* Effect.flip(downloader.download(url, path))
      assert.strictEqual(error._tag, "FileSystemError", name)
      if (error._tag === "FileSystemError") {
        assert.strictEqual(error.code, "EBUSY", name)
        assert.strictEqual(error.operation, "lock", name)
      }
      const gets = (yield* server.requestsTo(`/files/${name}`)).filter((request) => request.method === "GET")
      assert.strictEqual(gets.length, 0, name)
      const lock = yield* Effect.promise(() => Fs.lstat(`${path}.part.lock`))
      assert.isTrue(lock.isSymbolicLink(), name)
      // The link's own times an hour back (the target's untouched): stale, so the next download removes the link.
      yield* Effect.promise(() => Fs.lutimes(`${path}.part.lock`, longAgo, longAgo))
      yield* downloader.download(url, path)
      yield* assertContent(path, 62, 300_000)
    }
    yield* assertUntouched(victim.path, "keep me")
    assert.deepStrictEqual(yield* listing(victim.outside), ["victim.txt"])
    assert.deepStrictEqual(yield* listing(folder), ["dl.bin", "lk.bin"])
  }).pipe(Effect.scoped))

it.live("a DEST.part.json replaced by a symlink mid-download (300000 bytes at 100000 B/s, checkpoints every 50 ms) is replaced by the next checkpoint's rename, never written through: the target unchanged", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { checkpointInterval: 50 } })
    const path = Path.join(folder, "mj.bin")
    const victim = yield* victimFile("keep me")
    const running = yield* Effect.forkChild(
      downloader.download(server.urlFor("/files/mj.bin?size=300000&seed=63&rate=100000"), path)
    )
    assert.isTrue(yield* appears(`${path}.part.json`))
    yield* plantLink(victim.path, `${path}.part.json`)
    yield* Fiber.join(running)
    yield* assertContent(path, 63, 300_000)
    yield* assertUntouched(victim.path, "keep me")
    assert.deepStrictEqual(yield* listing(folder), ["mj.bin"])
  }).pipe(Effect.scoped))

it.live("a DEST.part.lock replaced by a symlink mid-download (300000 bytes at 100000 B/s, checkpoints every 50 ms) is a lock taken over: the download stops with FileSystemError ELOCKLOST (retryable) at its next checkpoint, nothing at the destination, the target's times untouched, the link left", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { checkpointInterval: 50 } })
    const path = Path.join(folder, "ml.bin")
    const victim = yield* victimFile("keep me")
    const running = yield* Effect.forkChild(
      downloader.download(server.urlFor("/files/ml.bin?size=300000&seed=64&rate=100000"), path)
    )
    assert.isTrue(yield* appears(`${path}.part.lock`))
    yield* plantLink(victim.path, `${path}.part.lock`)
    const error = yield* Effect.flip(Fiber.join(running))
    assert.deepInclude(error, { _tag: "FileSystemError", code: "ELOCKLOST", retryable: true })
    yield* assertUntouched(victim.path, "keep me")
    assert.strictEqual(yield* Effect.promise(() => Fs.readlink(`${path}.part.lock`)), victim.path)
    assert.notInclude(yield* listing(folder), "ml.bin")
  }).pipe(Effect.scoped))

/** A FIFO at `path`: opening it to read or write would wait for the other end for ever. */
const plantFifo = (path: string) => Effect.sync(() => execFileSync("mkfifo", [path]))

/** `effect`, failing the test instead of hanging when it takes over 20 s. */
const withinLimit = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.timeoutOrElse({ duration: "20 seconds", orElse: () => Effect.die("it hung") }))

it.live("a FIFO planted at DEST.part.json.tmp, DEST.part.json, DEST.part.lock or DEST, or behind an allowed destination link, never hangs a download: refused with a typed error or ignored", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const url = (name: string, seed: number) => server.urlFor(`/files/${name}?size=300000&seed=${seed}`)
    const gets = (name: string) =>
      Effect.map(server.requestsTo(`/files/${name}`), (requests) => requests.filter((r) => r.method === "GET").length)

    // The sidecar's temporary: the first checkpoint, before any GET, cannot write it.
    const tmp = Path.join(folder, "ft.bin")
    yield* plantFifo(`${tmp}.part.json.tmp`)
    const tmpError = yield* withinLimit(Effect.flip(downloader.download(url("ft.bin", 71), tmp)))
    assert.deepInclude(tmpError, { _tag: "FileSystemError", code: "EFTYPE", operation: "write" })
    assert.strictEqual(yield* gets("ft.bin"), 0)

    // The sidecar, with a .part to resume: not ours to read, so the download starts from zero.
    const side = Path.join(folder, "fs.bin")
    yield* Effect.promise(() => Fs.writeFile(`${side}.part`, Buffer.alloc(1000, 0xee)))
    yield* plantFifo(`${side}.part.json`)
    const resumed = yield* withinLimit(downloader.download(url("fs.bin", 72), side))
    yield* assertContent(side, 72, 300_000)
    assert.isFalse(resumed.resumed)

    // The lock: an owner nobody can name, and fresh, so busy.
    const locked = Path.join(folder, "fl.bin")
    yield* plantFifo(`${locked}.part.lock`)
    const lockError = yield* withinLimit(Effect.flip(downloader.download(url("fl.bin", 73), locked)))
    assert.deepInclude(lockError, { _tag: "FileSystemError", code: "EBUSY", operation: "lock" })

    // The destination itself, and a FIFO behind a destination link that allowSymlinks lets through.
    const dest = Path.join(folder, "fd.bin")
    yield* plantFifo(dest)
    const destError = yield* withinLimit(Effect.flip(downloader.download(url("fd.bin", 74), dest)))
    assert.deepInclude(destError, { _tag: "FileSystemError", code: "EFTYPE", operation: "open" })
    const outside = yield* tempFolder
    const linked = Path.join(folder, "fk.bin")
    yield* plantFifo(Path.join(outside, "fifo"))
    yield* Effect.promise(() => Fs.symlink(Path.join(outside, "fifo"), linked))
    const linkError = yield* withinLimit(Effect.flip(downloader.download(url("fk.bin", 75), linked, {
      allowSymlinks: true,
      ifExists: "skip-if-match",
      checksum: `sha256:${expectedSha256(75, 300_000)}`
    })))
    assert.deepInclude(linkError, { _tag: "FileSystemError", code: "EFTYPE", operation: "read" })
  }).pipe(Effect.scoped))

it.live("a hard link planted at DEST.part or DEST.part.json.tmp, to a file outside the folder, is refused before any GET: the other file keeps its content and times", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const victim = yield* victimFile("keep me")

    const part = Path.join(folder, "hp.bin")
    yield* Effect.promise(() => Fs.link(victim.path, `${part}.part`))
    const partError = yield* Effect.flip(downloader.download(server.urlFor("/files/hp.bin?size=300000&seed=76"), part))
    assert.strictEqual(partError._tag, "UnsafeFileNameError")

    const tmp = Path.join(folder, "ht.bin")
    yield* Effect.promise(() => Fs.link(victim.path, `${tmp}.part.json.tmp`))
    const tmpError = yield* Effect.flip(downloader.download(server.urlFor("/files/ht.bin?size=300000&seed=77"), tmp))
    assert.deepInclude(tmpError, { _tag: "FileSystemError", code: "EMLINK", operation: "write" })

    for (const name of ["hp.bin", "ht.bin"]) {
      const gets = (yield* server.requestsTo(`/files/${name}`)).filter((request) => request.method === "GET")
      assert.strictEqual(gets.length, 0, name)
    }
    yield* assertUntouched(victim.path, "keep me")
  }).pipe(Effect.scoped))
