/**
 * The child of `lockKill.test.ts`'s file-system-without-links case: makes
 * `symlink` fail with `EPERM`, as FAT or some network shares refuse it, then
 * takes the lock of a `.part` (it must become a regular file naming this
 * process), tries it a second time (`EBUSY`), releases it, and takes over a
 * file lock left by a pid that no longer runs (argv[3]). Prints one JSON line.
 *
 * Usage: `node lockNoLinksChild.ts <part path> <dead pid>`.
 */
import { createRequire, syncBuiltinESMExports } from "node:module"

const require = createRequire(import.meta.url)
const fs = require("node:fs") as typeof import("node:fs")
fs.promises.symlink = () => Promise.reject(Object.assign(new Error("symlink refused"), { code: "EPERM" }))
syncBuiltinESMExports()

const { Effect } = await import("effect")
const Fs = await import("node:fs/promises")
const Os = await import("node:os")
const Path = await import("node:path")
const PartLock = await import("../../src/internal/partLock.ts")

const partPath = process.argv[2]!
const deadPid = Number(process.argv[3])
const lockPath = PartLock.pathFor(partPath)
const acquire = PartLock.acquire("http://test/", partPath, 30_000)

const lock = await Effect.runPromise(acquire)
const held = await Fs.lstat(lockPath)
const owner = JSON.parse(await Fs.readFile(lockPath, "utf8")) as { pid: number }
const second = await Effect.runPromise(Effect.flip(acquire))
await Effect.runPromise(lock.confirm)
await Effect.runPromise(lock.release)
const afterRelease = await Fs.readdir(Path.dirname(lockPath))

await Fs.writeFile(lockPath, JSON.stringify({ host: Os.hostname(), pid: deadPid }))
const takenOver = await Effect.runPromise(acquire)
const retaken = JSON.parse(await Fs.readFile(lockPath, "utf8")) as { pid: number }
await Effect.runPromise(takenOver.release)

console.log(JSON.stringify({
  file: held.isFile(),
  ownerIsThis: owner.pid === process.pid,
  second: second._tag === "FileSystemError" ? second.code : second._tag,
  afterRelease,
  retakenByThis: retaken.pid === process.pid
}))
