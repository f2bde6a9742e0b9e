/**
 * One writer per `.part`, across processes: a lock file `DEST.part.lock`
 * created with `O_EXCL`, holding the owner's host and pid, its modification
 * time refreshed at every checkpoint. A lock whose owner is gone is taken
 * over: on this host, a pid that no longer runs (a worker killed with
 * SIGKILL), this process's own pid when this process does not hold it (a
 * container restarted with the same host name and pid), or a pid that runs
 * but has not refreshed the lock for `staleAfterMillis` (the pid reused by
 * another program); from another host, a lock not refreshed for
 * `staleAfterMillis`.
 *
 * **Gotchas**
 *
 * Two processes that find the same stale lock at the same instant can both
 * take it over (the window is one `unlink` and one `open`). The queue's own
 * lease keeps two workers off one task; this lock is the guard behind it.
 */
import * as Effect from "effect/Effect"
import { constants } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import { FileSystemError } from "../DownloadError.ts"
import * as FileIo from "./fileIo.ts"

/** A held lock. */
export interface PartLock {
  /** Marks the lock as alive (its modification time). */
  readonly refresh: Effect.Effect<void>
  /** Removes the lock. */
  readonly release: Effect.Effect<void>
}

/** The lock's path for a `.part` path. */
export const pathFor = (partPath: string): string => `${partPath}.lock`

interface Owner {
  readonly host: string
  readonly pid: number
}

/**
 * The lock files this process holds, by device and inode (one file reached
 * through two spellings of its path is one lock): a lock naming this pid and
 * not here is an earlier life's.
 */
const heldHere = new Map<string, number>()

/** Counts, rather than flags, a key held: an inode freed by one release may be reused at once by a new lock. */
const hold = (key: string): void => {
  heldHere.set(key, (heldHere.get(key) ?? 0) + 1)
}

const letGo = (key: string): void => {
  const count = heldHere.get(key) ?? 0
  if (count <= 1) heldHere.delete(key)
  else heldHere.set(key, count - 1)
}

const fileKey = (stats: { readonly dev: number; readonly ino: number }): string => `${stats.dev}:${stats.ino}`

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, as another user.
    return FileIo.codeOf(error) === "EPERM"
  }
}

/** Whether the lock at `path` belongs to nobody any more. */
const isStale = async (path: string, staleAfterMillis: number): Promise<boolean> => {
  let text: string
  let modified: number
  let key: string
  try {
    const handle = await Fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      const stats = await handle.stat()
      modified = stats.mtimeMs
      key = fileKey(stats)
      text = await handle.readFile("utf8")
    } finally {
      await handle.close()
    }
  } catch (error) {
    // Gone meanwhile: free.
    if (FileIo.codeOf(error) === "ENOENT") return true
    throw error
  }
  let owner: Owner | undefined
  try {
    const parsed = JSON.parse(text) as Partial<Owner>
    if (typeof parsed.host === "string" && typeof parsed.pid === "number") {
      owner = { host: parsed.host, pid: parsed.pid }
    }
  } catch {
    owner = undefined
  }
  const unrefreshed = Date.now() - modified > staleAfterMillis
  if (owner === undefined || owner.host !== Os.hostname()) return unrefreshed
  if (owner.pid === process.pid) return !heldHere.has(key)
  return unrefreshed || !isRunning(owner.pid)
}

/**
 * Creates the lock file: its key in `heldHere` (added before the file names
 * this pid), or `undefined` when it exists.
 */
const create = async (path: string): Promise<string | undefined> => {
  let handle: Fs.FileHandle
  try {
    handle = await Fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW)
  } catch (error) {
    if (FileIo.codeOf(error) === "EEXIST") return undefined
    throw error
  }
  let key: string | undefined
  try {
    key = fileKey(await handle.stat())
    hold(key)
    await handle.writeFile(JSON.stringify({ host: Os.hostname(), pid: process.pid }))
  } catch (error) {
    if (key !== undefined) letGo(key)
    throw error
  } finally {
    await handle.close()
  }
  return key
}

/**
 * Takes the lock of `partPath`, or fails with `FileSystemError` (`EBUSY`)
 * while another live process holds it.
 */
export const acquire = (
  url: string,
  partPath: string,
  staleAfterMillis: number
): Effect.Effect<PartLock, FileSystemError> => {
  const path = pathFor(partPath)
  return Effect.flatMap(
    FileIo.attempt(url, "lock", path, async () => {
      const key = await create(path)
      if (key !== undefined) return key
      if (!(await isStale(path, staleAfterMillis))) return undefined
      await Fs.rm(path, { force: true })
      return create(path)
    }),
    (key) =>
      key !== undefined
        ? Effect.succeed({
          // `lutimes`: a link planted at the lock's path meanwhile has its own times set, never its target's.
          refresh: Effect.ignore(FileIo.attempt(url, "lock", path, () => Fs.lutimes(path, new Date(), new Date()))),
          release: Effect.andThen(
            Effect.ignore(FileIo.removeIfPresent(url, path)),
            Effect.sync(() => letGo(key))
          )
        })
        : Effect.fail(new FileSystemError({ url, retryable: true, operation: "lock", path: partPath, code: "EBUSY" }))
  )
}
