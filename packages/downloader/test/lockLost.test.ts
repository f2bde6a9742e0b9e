/**
 * RELIABILITY 1 and 21 for a holder that stalls past its lock's staleness
 * (SIGSTOP, a frozen VM, a laptop's lid): another process may then take the
 * `.part` over and start it again. The stalled holder must write nothing more
 * into it once it resumes (a black-box run mixed 440 KB of old content into
 * the new file and reported it a success), and a holder that starts the file
 * over makes a new one, so that late writes of the old one land in a file
 * nobody names. A queue worker that meets such a lock waits for it within
 * its attempt.
 */
import { assert, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Downloader from "../src/Downloader.ts"
import * as DownloadQueue from "../src/DownloadQueue.ts"
import * as FileIo from "../src/internal/fileIo.ts"
import * as PartLock from "../src/internal/partLock.ts"
import * as Writer from "../src/internal/writer.ts"
import { assertContent, setup, tempFolder } from "./support/setup.ts"

/** Another process's lock, as a takeover leaves it. */
const takeOver = (lockPath: string) =>
  Effect.promise(async () => {
    await Fs.rm(lockPath, { force: true })
    await Fs.symlink(JSON.stringify({ host: Os.hostname(), pid: 1, token: "the new owner" }), lockPath)
  })

it.live("a lock taken over while its holder stalled: the holder's next write fails with ELOCKLOST and writes nothing, as its checkpoint's confirm does", () =>
  Effect.gen(function*() {
    const folder = yield* tempFolder
    const partPath = Path.join(folder, "s.bin.part")
    // Stale after 300 ms: a write is checked once a third of that has passed without a confirmation.
    const lock = yield* PartLock.acquire("http://test/", partPath, 300)
    const handle = yield* Effect.promise(() => Fs.open(partPath, "w+"))
    const writer = Writer.make(handle, 0, 1 << 20, lock.beforeWrite)
    writer.push(Buffer.from("before the stall;"))
    yield* Effect.promise(() => writer.flush())
    assert.isUndefined(lock.beforeWrite(), "no check right after taking the lock")

    yield* Effect.sleep(150)
    yield* takeOver(PartLock.pathFor(partPath))
    writer.push(Buffer.from("after the stall"))
    const failed = yield* Effect.promise(() => writer.flush().then(() => undefined, (error: unknown) => error))
    assert.strictEqual(FileIo.codeOf(failed), "ELOCKLOST")
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(partPath, "utf8")), "before the stall;")
    const confirm = yield* Effect.flip(lock.confirm)
    assert.deepInclude(confirm, { _tag: "FileSystemError", code: "ELOCKLOST", retryable: true })
    // Released, it leaves the new owner's lock in place.
    yield* lock.release
    assert.include(yield* Effect.promise(() => Fs.readlink(PartLock.pathFor(partPath))), "the new owner")
    yield* Effect.promise(() => handle.close())
  }).pipe(Effect.scoped))

it.live("a holder that starts a .part over makes a new file: what an old holder still writes through its handle never reaches it", () =>
  Effect.gen(function*() {
    const folder = yield* tempFolder
    const partPath = Path.join(folder, "n.bin.part")
    yield* Effect.promise(() => Fs.writeFile(partPath, "old content"))
    const old = yield* Effect.promise(() => Fs.open(partPath, "r+"))
    const fresh = yield* FileIo.openPart("http://test/", partPath, true)
    yield* Effect.promise(() => fresh.write(Buffer.from("new")))
    yield* Effect.promise(() => old.write(Buffer.from("LATE WRITE"), 0, 10, 0))
    assert.strictEqual(yield* Effect.promise(() => Fs.readFile(partPath, "utf8")), "new")
    yield* Effect.promise(() => Promise.all([old.close(), fresh.close()]))
  }).pipe(Effect.scoped))

it.live("a queue worker finding the .part's lock held by another live holder waits for it within the same attempt, rather than spending its attempts on EBUSY", () =>
  Effect.gen(function*() {
    const { downloader, folder, server } = yield* setup()
    const path = Path.join(folder, "q.bin")
    // Another holder (here this process, under a token it holds) has the file for 1.5 s more.
    const other = yield* PartLock.acquire("http://test/", `${path}.part`, 30_000)
    yield* Effect.forkChild(Effect.andThen(Effect.sleep(1_500), other.release))
    const queue = yield* DownloadQueue.DownloadQueue
    yield* queue.offer({ id: "q", url: server.urlFor("/files/q.bin?size=100000&seed=5"), destination: path })
    const report = yield* queue.runWorkers({ until: "idle" }).pipe(
      Effect.provideService(Downloader.Downloader, downloader)
    )
    assert.deepInclude(report, { succeeded: 1, retried: 0, deadLettered: 0 })
    yield* assertContent(path, 5, 100_000)
  }).pipe(Effect.provide(DownloadQueue.layerMemory({ maxAttempts: 2, retryDelay: "10 millis" })), Effect.scoped))
