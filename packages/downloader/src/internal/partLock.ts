/**
 * One writer per `.part`, across processes: a lock `DEST.part.lock` created
 * as a symbolic link whose text names the owner (host, pid and a token of
 * this acquisition). A link is created with its text in one step, so a lock
 * never exists without an owner, even when its creator is killed at once
 * (a file created with `O_EXCL` and written afterwards can be left empty).
 * Nothing ever follows the link. Its modification time is refreshed at every
 * checkpoint, after checking that the lock is still this one; a holder that
 * stalled past `staleAfterMillis` (SIGSTOP, a frozen VM) and lost it writes
 * nothing more (`beforeWrite`), and a new holder that starts the file over
 * makes a new one (`FileIo.openPart`), so late writes of the old holder go to
 * a file nobody names.
 *
 * A lock whose owner is gone is taken over: on this host, a pid that no
 * longer runs (a worker killed with SIGKILL), this process's own pid with a
 * token this process does not hold (a container restarted with the same host
 * name and pid), or a pid that runs but has not refreshed the lock for
 * `staleAfterMillis` (the pid reused by another program); from another host,
 * or with no owner that can be read (something else planted at the path), a
 * lock not refreshed for `staleAfterMillis`. A regular file holding
 * `{host, pid}` (how earlier versions wrote the lock) is read the same way.
 *
 * **Gotchas**
 *
 * Two processes that find the same stale lock at the same instant can both
 * take it over (the window is one `unlink` and one `symlink`). The queue's
 * own lease keeps two workers off one task; this lock is the guard behind it.
 *
 * Where the file system has no symbolic links (FAT, some network shares), the
 * lock is a regular file created with `O_EXCL` and then written: a process
 * killed between the two leaves it empty, and it is taken over only once
 * `staleAfterMillis` unrefreshed.
 */
import * as Effect from "effect/Effect"
import * as Crypto from "node:crypto"
import { constants } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import { FileSystemError } from "../DownloadError.ts"
import * as FileIo from "./fileIo.ts"

/** A held lock. */
export interface PartLock {
  /**
   * Checks that the lock is still this one and marks it alive (its
   * modification time); fails with `FileSystemError` `ELOCKLOST` when it was
   * taken over (this process stalled past `staleAfterMillis`, as under
   * SIGSTOP or a frozen VM): nothing more may be written.
   */
  readonly confirm: Effect.Effect<void, FileSystemError>
  /**
   * Before a write: `undefined` while the lock was confirmed recently (within
   * a third of `staleAfterMillis`, so nobody can have taken it), else a
   * confirmation that rejects (code `ELOCKLOST`) when it was taken over. A
   * process that stalled long writes nothing more into a `.part` that is no
   * longer its own.
   */
  readonly beforeWrite: () => Promise<void> | undefined
  /** Removes the lock, while it is still this one (one taken over meanwhile is left to its new owner). */
  readonly release: Effect.Effect<void>
}

/** The error of a write or a step attempted after the lock was taken over. */
const lostError = (): Error =>
  Object.assign(new Error("the .part's lock was taken over by another process"), { code: "ELOCKLOST" })

/** The lock's path for a `.part` path. */
export const pathFor = (partPath: string): string => `${partPath}.lock`

interface Owner {
  readonly host: string
  readonly pid: number
  readonly token: string | undefined
}

/** The tokens of the locks this process holds: a lock naming this pid with another token is an earlier life's. */
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

const ownerOf = (text: string): Owner | undefined => {
  try {
    const parsed = JSON.parse(text) as { host?: unknown; pid?: unknown; token?: unknown } | null
    if (typeof parsed?.host !== "string" || typeof parsed.pid !== "number") return undefined
    return { host: parsed.host, pid: parsed.pid, token: typeof parsed.token === "string" ? parsed.token : undefined }
  } catch {
    return undefined
  }
}

/** The most of a lock file read: one written by us is under 200 bytes. */
const lockFileBytes = 4096

/**
 * What is at `path`: its text (a link's, or a regular file's first 4 KiB)
 * and modification time; `undefined` when gone. A lock replaced meanwhile is
 * one of unknown owner, just refreshed.
 */
const readLock = async (path: string): Promise<{ readonly text: string; readonly modified: number } | undefined> => {
  const replaced = { text: "", modified: Date.now() }
  try {
    const stats = await Fs.lstat(path)
    if (stats.isSymbolicLink()) {
      try {
        return { text: await Fs.readlink(path, FileIo.utf8Read()), modified: stats.mtimeMs }
      } catch (error) {
        if (FileIo.codeOf(error) === "EINVAL") return replaced
        throw error
      }
    }
    if (!stats.isFile()) return { text: "", modified: stats.mtimeMs }
    const handle = await Fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | FileIo.nonBlocking)
    try {
      const buffer = Buffer.alloc(lockFileBytes)
      const { bytesRead } = await handle.read(buffer, 0, lockFileBytes, 0)
      return { text: buffer.toString("utf8", 0, bytesRead), modified: (await handle.stat()).mtimeMs }
    } finally {
      await handle.close()
    }
  } catch (error) {
    // Gone meanwhile: free.
    if (FileIo.codeOf(error) === "ENOENT") return undefined
    // A link or a socket put there since the `lstat`.
    if (["ELOOP", "ENXIO"].includes(FileIo.codeOf(error))) return replaced
    throw error
  }
}

/** Whether the lock at `path` belongs to nobody any more. */
const isStale = async (path: string, staleAfterMillis: number): Promise<boolean> => {
  const lock = await readLock(path)
  if (lock === undefined) return true
  const owner = ownerOf(lock.text)
  const unrefreshed = Date.now() - lock.modified > staleAfterMillis
  if (owner === undefined || owner.host !== Os.hostname()) return unrefreshed
  if (owner.pid === process.pid) return owner.token === undefined || !heldHere.has(owner.token)
  return unrefreshed || !isRunning(owner.pid)
}

/** Codes of a file system that has no symbolic links (FAT, some network shares). */
const noLinks = ["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS"]

/**
 * Creates the lock as a link with `text`, or, where the file system has no
 * links, as a file created with `O_EXCL` and then written (removed when the
 * write fails): `false` when something is at `path` already.
 */
const create = async (path: string, text: string): Promise<boolean> => {
  try {
    await Fs.symlink(text, path)
    return true
  } catch (error) {
    const code = FileIo.codeOf(error)
    if (code === "EEXIST") return false
    if (!noLinks.includes(code)) throw error
  }
  let handle: Fs.FileHandle
  try {
    handle = await Fs.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW)
  } catch (error) {
    if (FileIo.codeOf(error) === "EEXIST") return false
    throw error
  }
  try {
    await handle.writeFile(text, FileIo.utf8Write())
  } catch (error) {
    await Fs.rm(path, { force: true })
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
): Effect.Effect<PartLock, FileSystemError> =>
  Effect.suspend(() => {
    const path = pathFor(partPath)
    const token = Crypto.randomUUID()
    const text = JSON.stringify({ host: Os.hostname(), pid: process.pid, token })
    const take = async (): Promise<boolean> => {
      if (await create(path, text)) return true
      if (!(await isStale(path, staleAfterMillis))) return false
      await Fs.rm(path, { force: true })
      return create(path, text)
    }
    /** Whether the lock at `path` is still this one (a failed read is not: refresh and release then do nothing). */
    const ours = async (): Promise<boolean> => (await readLock(path))?.text === text
    /** When the lock was last known to be ours (monotonic ms): a takeover needs `staleAfterMillis` unrefreshed. */
    let confirmedAt = performance.now()
    const confirmNow = async (): Promise<void> => {
      const checkedAt = performance.now()
      if (!(await ours())) throw lostError()
      // Best effort, as before: a file system that cannot set a link's times still has its owner checked.
      await Fs.lutimes(path, new Date(), new Date()).catch(() => undefined)
      confirmedAt = checkedAt
    }
    return Effect.flatMap(
      FileIo.attempt(url, "lock", path, async () => {
        // Held from before the link exists: a lock naming this pid is this process's own only with a token held here.
        heldHere.add(token)
        let taken = false
        try {
          taken = await take()
        } finally {
          if (!taken) heldHere.delete(token)
        }
        return taken
      }),
      (taken) =>
        taken
          ? Effect.succeed({
            // `lutimes`: the link's own times; nothing follows it.
            confirm: FileIo.attempt(url, "lock", partPath, confirmNow),
            beforeWrite: () => performance.now() - confirmedAt < staleAfterMillis / 3 ? undefined : confirmNow(),
            release: Effect.andThen(
              Effect.ignore(FileIo.attempt(url, "lock", path, async () => {
                if (await ours()) await Fs.rm(path, { force: true })
              })),
              Effect.sync(() => heldHere.delete(token))
            )
          })
          : Effect.fail(new FileSystemError({ url, retryable: true, operation: "lock", path: partPath, code: "EBUSY" }))
    )
  })
