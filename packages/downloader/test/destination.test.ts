import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { assertContent, expectedSha256, listing, setup, tempFolder } from "./support/setup.ts"

/** A `.part.lock` as a process of this host with `pid` writes it. */
const lockOf = (pid: number) => JSON.stringify({ host: Os.hostname(), pid })

it.live("an existing destination fails with DestinationExistsError by default and keeps its content", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "x.bin")
    yield* Effect.promise(() => Fs.writeFile(path, "previous"))
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/x.bin?size=1000"), path))
    assert.strictEqual(error._tag, "DestinationExistsError")
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(path, "utf8")), "previous")
    const gets = (yield* server.requestsTo("/files/x.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 0)
  }).pipe(Effect.scoped))

it.live("ifExists: overwrite replaces the file in one rename", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "o.bin")
    yield* Effect.promise(() => Fs.writeFile(path, "previous"))
    yield* downloader.download(server.urlFor("/files/o.bin?size=5000&seed=1"), path, { ifExists: "overwrite" })
    yield* assertContent(path, 1, 5000)
    assert.deepStrictEqual(yield* listing(folder), ["o.bin"])
  }).pipe(Effect.scoped))

it.live("ifExists: skip-if-match keeps a file whose checksum matches, without a GET; a different file is replaced", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "k.bin")
    const url = server.urlFor("/files/k.bin?size=5000&seed=2")
    const checksum = `sha256:${expectedSha256(2, 5000)}`
    yield* downloader.download(url, path, { checksum })
    const skipped = yield* downloader.download(url, path, { checksum, ifExists: "skip-if-match" })
    assert.isTrue(skipped.skipped)
    assert.isTrue(skipped.verified)
    assert.strictEqual(skipped.bytesTransferred, 0)
    const gets = (yield* server.requestsTo("/files/k.bin")).filter((request) => request.method === "GET")
    assert.strictEqual(gets.length, 1)
    yield* Effect.promise(() => Fs.writeFile(path, "tampered"))
    const replaced = yield* downloader.download(url, path, { checksum, ifExists: "skip-if-match" })
    assert.isFalse(replaced.skipped)
    yield* assertContent(path, 2, 5000)
    const noChecksum = yield* Effect.flip(downloader.download(url, path, { ifExists: "skip-if-match" }))
    assert.strictEqual(noChecksum._tag, "DestinationExistsError")
  }).pipe(Effect.scoped))

it.live("into a folder, a hostile Content-Disposition name is reduced to a safe base name inside the folder", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const inner = Path.join(folder, "inner")
    yield* Effect.promise(() => Fs.mkdir(inner))
    const hostile = encodeURIComponent("../../escape.sh")
    const result = yield* downloader.download(server.urlFor(`/files/f.bin?size=2000&seed=3&filename=${hostile}`), inner)
    assert.strictEqual(Path.dirname(result.path), inner)
    assert.strictEqual(Path.basename(result.path), "escape.sh")
    yield* assertContent(result.path, 3, 2000)
    assert.deepStrictEqual(yield* listing(folder), ["inner"])
  }).pipe(Effect.scoped))

it.live("into a folder given with a trailing slash, the name comes from the URL, percent-decoded", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup({ downloader: { createFolders: true } })
    const target = `${Path.join(folder, "new")}/`
    const result = yield* downloader.download(server.urlFor("/files/report%20v2.bin?size=100&seed=4"), target)
    assert.strictEqual(result.path, Path.join(folder, "new", "report v2.bin"))
    yield* assertContent(result.path, 4, 100)
  }).pipe(Effect.scoped))

it.live("a destination that is a symbolic link is refused, and the file it points to is untouched", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const outside = yield* tempFolder
    const victim = Path.join(outside, "victim.txt")
    yield* Effect.promise(() => Fs.writeFile(victim, "keep me"))
    const path = Path.join(folder, "link.bin")
    yield* Effect.promise(() => Fs.symlink(victim, path))
    const error = yield* Effect.flip(
      downloader.download(server.urlFor("/files/link.bin?size=1000"), path, { ifExists: "overwrite" })
    )
    assert.strictEqual(error._tag, "UnsafeFileNameError")
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(victim, "utf8")), "keep me")
  }).pipe(Effect.scoped))

it.live("a symbolic link planted at the .part is never followed: refused, the target untouched", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const outside = yield* tempFolder
    const victim = Path.join(outside, "victim.txt")
    yield* Effect.promise(() => Fs.writeFile(victim, "keep me"))
    const path = Path.join(folder, "p.bin")
    yield* Effect.promise(() => Fs.symlink(victim, `${path}.part`))
    const error = yield* Effect.flip(downloader.download(server.urlFor("/files/p.bin?size=1000"), path))
    assert.strictEqual(error._tag, "UnsafeFileNameError")
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(victim, "utf8")), "keep me")
  }).pipe(Effect.scoped))

it.live("with allowSymlinks the destination link is replaced by the file (the link's target is not written)", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const outside = yield* tempFolder
    const victim = Path.join(outside, "victim.txt")
    yield* Effect.promise(() => Fs.writeFile(victim, "keep me"))
    const path = Path.join(folder, "al.bin")
    yield* Effect.promise(() => Fs.symlink(victim, path))
    yield* downloader.download(server.urlFor("/files/al.bin?size=1000&seed=5"), path, {
      allowSymlinks: true,
      ifExists: "overwrite"
    })
    yield* assertContent(path, 5, 1000)
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(victim, "utf8")), "keep me")
  }).pipe(Effect.scoped))

it.live("a missing folder fails with FileSystemError ENOENT naming the folder and createFolders, before any GET; creates nothing", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const error = yield* Effect.flip(
      downloader.download(server.urlFor("/files/m.bin?size=1000"), Path.join(folder, "no", "such", "m.bin"))
    )
    assert.strictEqual(error._tag, "FileSystemError")
    if (error._tag === "FileSystemError") {
      assert.strictEqual(error.code, "ENOENT")
      assert.strictEqual(error.operation, "folder")
      assert.strictEqual(error.path, Path.join(folder, "no", "such"))
      assert.include(error.message, `the folder ${Path.join(folder, "no", "such")} does not exist (createFolders: true`)
    }
    assert.deepStrictEqual((yield* server.requestsTo("/files/m.bin")).map((request) => request.method), ["HEAD"])
    assert.deepStrictEqual(yield* listing(folder), [])
  }).pipe(Effect.scoped))

it.live("a folder that cannot be written (a file in the way) fails with FileSystemError ENOTDIR", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    yield* Effect.promise(() => Fs.writeFile(Path.join(folder, "plain"), "x"))
    const error = yield* Effect.flip(
      downloader.download(server.urlFor("/files/n.bin?size=1000"), Path.join(folder, "plain", "n.bin"))
    )
    assert.strictEqual(error._tag, "FileSystemError")
    if (error._tag === "FileSystemError") assert.strictEqual(error.code, "ENOTDIR")
  }).pipe(Effect.scoped))

it.live("two downloads to one destination at once: the second fails at once, the first completes", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "twice.bin")
    const url = server.urlFor("/files/twice.bin?size=400000&seed=6&rate=2000000")
    const [first, second] = yield* Effect.all([
      Effect.exit(downloader.download(url, path)),
      Effect.exit(Effect.andThen(Effect.sleep(50), downloader.download(url, path)))
    ], { concurrency: 2 })
    assert.strictEqual(first._tag, "Success")
    assert.strictEqual(second._tag, "Failure")
    if (second._tag === "Failure") {
      const error = second.cause.reasons[0]
      assert.include(String(error && "error" in error ? JSON.stringify(error.error) : error), "EBUSY")
    }
    yield* assertContent(path, 6, 400_000)
  }).pipe(Effect.scoped))

it.live("a .part locked by another live process fails with EBUSY; a lock left by a dead process is taken over", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "locked.bin")
    // The test runner's parent process is alive for the whole test.
    yield* Effect.promise(() => Fs.writeFile(`${path}.part.lock`, lockOf(process.ppid)))
    const busy = yield* Effect.flip(downloader.download(server.urlFor("/files/locked.bin?size=1000&seed=1"), path))
    assert.strictEqual(busy._tag, "FileSystemError")
    if (busy._tag === "FileSystemError") assert.strictEqual(busy.code, "EBUSY")
    assert.isFalse((yield* listing(folder)).includes("locked.bin"))

    // A process that has exited: its pid runs no more.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
    yield* Effect.promise(() => Fs.writeFile(`${path}.part.lock`, lockOf(Number(gone.stdout))))
    yield* downloader.download(server.urlFor("/files/locked.bin?size=1000&seed=1"), path)
    yield* assertContent(path, 1, 1000)
    assert.deepStrictEqual(yield* listing(folder), ["locked.bin"])
  }).pipe(Effect.scoped))
