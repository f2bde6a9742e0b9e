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

/** The lock files this process holds (their paths): a lock naming this pid and not here is an earlier life's. */
const heldHere = new Set<string>()

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
  try {
    const handle = await Fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
    try {
      modified = (await handle.stat()).mtimeMs
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
  if (owner.pid === process.pid) return !heldHere.has(path)
  return unrefreshed || !isRunning(owner.pid)
}

/** Creates the lock file, or `false` when it exists; a lock created is in `heldHere` before anyone can read it. */
const create = async (path: string): Promise<boolean> => {
  let handle: Fs.FileHandle
  try {
    handle = await Fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW)
  } catch (error) {
    if (FileIo.codeOf(error) === "EEXIST") return false
    throw error
  }
  heldHere.add(path)
  try {
    await handle.writeFile(JSON.stringify({ host: Os.hostname(), pid: process.pid }))
  } catch (error) {
    heldHere.delete(path)
    throw error
  } finally {
    await handle.close()
  }
  return true
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
      if (await create(path)) return true
      if (!(await isStale(path, staleAfterMillis))) return false
      await Fs.rm(path, { force: true })
      return create(path)
    }),
    (taken) =>
      taken
        ? Effect.succeed({
          refresh: Effect.ignore(FileIo.attempt(url, "lock", path, () => Fs.utimes(path, new Date(), new Date()))),
          release: Effect.andThen(
            Effect.ignore(FileIo.removeIfPresent(url, path)),
            Effect.sync(() => heldHere.delete(path))
          )
        })
        : Effect.fail(new FileSystemError({ url, retryable: true, operation: "lock", path: partPath, code: "EBUSY" }))
  )
}
