/**
 * The file system operations a download needs, as Effects failing with
 * `FileSystemError` (the OS code kept). Node's `fs/promises` directly, not
 * Effect's `FileSystem`: a download needs `statfs`, `O_NOFOLLOW`, a folder's
 * `fsync` and positional `writev` on one open handle, and writing through
 * `FileSystem.sink` halved throughput when measured.
 */
import * as Effect from "effect/Effect"
import { constants } from "node:fs"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { FileSystemError } from "../DownloadError.ts"
import { exactly } from "./own.ts"

/**
 * The options for reading a file or a link's target as UTF-8, with every name
 * Node reads from them pinned as an own property (RELIABILITY 10): given
 * `"utf8"` alone, Node makes an object literal of it and reads `signal` (and
 * `buffer`, `flag`) through `Object.prototype`, so a polluted `signal` fails
 * every read with `ERR_INVALID_ARG_TYPE`.
 */
export const utf8Read = (): { readonly encoding: "utf8" } =>
  exactly({ encoding: "utf8" as const, flag: "r", signal: undefined, buffer: undefined })

/**
 * The options for writing a string or bytes to a handle as UTF-8, every name
 * Node reads from them pinned (`writeFile` given none reads `signal`
 * through `Object.prototype`, and given an object, `flush`, `flag` and `mode`).
 */
export const utf8Write = (): { readonly encoding: "utf8" } =>
  exactly({ encoding: "utf8" as const, mode: 0o666, flag: "w", flush: false, signal: undefined })

/** The OS code of a Node file system error, or `UNKNOWN`. */
export const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" ? code : "UNKNOWN"
}

/** Runs a file system promise; a rejection becomes a `FileSystemError` naming the operation and path. */
export const attempt = <A>(
  url: string,
  operation: string,
  path: string,
  run: () => Promise<A>
): Effect.Effect<A, FileSystemError> =>
  Effect.tryPromise({
    try: run,
    catch: (error) =>
      new FileSystemError({
        url,
        operation,
        path,
        code: codeOf(error),
        // A full disk or a busy file can clear up; a missing folder or a permission will not.
        retryable: ["ENOSPC", "EBUSY", "EAGAIN", "EMFILE", "ENFILE", "EINTR", "ELOCKLOST"].includes(codeOf(error))
      })
  })

/**
 * What `lstat` found at a path: nothing, a file (with its size and its
 * number of names), a folder, a symbolic link or something else.
 */
export type Entry =
  | { readonly kind: "missing" }
  | { readonly kind: "file"; readonly size: number; readonly links: number }
  | { readonly kind: "directory" }
  | { readonly kind: "symlink" }
  | { readonly kind: "other" }

/** `lstat` without following links; a missing path is `missing`, not an error. */
export const entry = (url: string, path: string): Effect.Effect<Entry, FileSystemError> =>
  attempt(url, "stat", path, async (): Promise<Entry> => {
    try {
      const stats = await Fs.lstat(path)
      if (stats.isSymbolicLink()) return { kind: "symlink" }
      if (stats.isFile()) return { kind: "file", size: stats.size, links: stats.nlink }
      if (stats.isDirectory()) return { kind: "directory" }
      return { kind: "other" }
    } catch (error) {
      if (codeOf(error) === "ENOENT") return { kind: "missing" }
      throw error
    }
  })

/** Bytes available to this process on the file system holding `folder` (`statfs`). */
export const availableBytes = (url: string, folder: string): Effect.Effect<number, FileSystemError> =>
  attempt(url, "statfs", folder, async () => {
    const stats = await Fs.statfs(folder)
    return stats.bavail * stats.bsize
  })

/**
 * The error for something at `path` that is not a regular file (a FIFO, a
 * socket, a device): code `EFTYPE`, as BSD names it.
 */
export const notRegular = (path: string): Error =>
  Object.assign(new Error(`${path} is not a regular file`), { code: "EFTYPE" })

/**
 * `O_NONBLOCK`, for every open of a path that something else may have been
 * put at: opening a FIFO without it waits for the other end for ever (in one
 * of libuv's four threads, past any timeout). It changes nothing for a
 * regular file.
 */
export const nonBlocking = constants.O_NONBLOCK

/**
 * The error for a file at `path` that has another name (a hard link), which
 * writing it would change too: code `EMLINK`.
 */
export const otherNames = (path: string): Error =>
  Object.assign(new Error(`${path} has another name (a hard link)`), { code: "EMLINK" })

/**
 * `handle` when it is a regular file (and, with `onlyName`, one with no other
 * name); otherwise closed, and `notRegular` (or `otherNames`).
 */
export const regularOrClose = async (
  handle: Fs.FileHandle,
  path: string,
  onlyName = false
): Promise<Fs.FileHandle> => {
  let problem: Error | undefined
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) problem = notRegular(path)
    else if (onlyName && stats.nlink > 1) problem = otherNames(path)
  } catch (error) {
    problem = error as Error
  }
  if (problem === undefined) return handle
  await handle.close()
  throw problem
}

/**
 * Opens (creating it when missing) the `.part` file for reading and writing,
 * never through a symbolic link (`O_NOFOLLOW`: a link planted at the path
 * fails with `ELOOP`). `fresh` starts from an empty file of its own: the old
 * one is removed and a new one created, rather than the old one emptied, so
 * that a holder of the old one that stalled and lost the lock (its writes
 * land late) writes into a file nobody names any more.
 */
export const openPart = (url: string, path: string, fresh: boolean): Effect.Effect<Fs.FileHandle, FileSystemError> =>
  attempt(url, "open", path, async () => {
    if (fresh) await Fs.rm(path, { force: true })
    const handle = await Fs.open(
      path,
      constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | (fresh ? constants.O_EXCL : 0),
      0o644
    )
    // Written in place: a file with another name (planted as a hard link) would change under that name too.
    return regularOrClose(handle, path, true)
  })

/** Closes a handle, ignoring errors (used in finalizers, after the last `sync`). */
export const closeQuietly = (handle: Fs.FileHandle): Effect.Effect<void> =>
  Effect.promise(() => handle.close().catch(() => undefined))

/** Removes a file; a missing one is fine. */
export const removeIfPresent = (url: string, path: string): Effect.Effect<void, FileSystemError> =>
  attempt(url, "remove", path, () => Fs.rm(path, { force: true }))

/** `fsync` of a folder, so that a rename in it survives a crash. File systems that cannot sync folders are ignored. */
export const syncFolder = (url: string, folder: string): Effect.Effect<void, FileSystemError> =>
  attempt(url, "sync", folder, async () => {
    const handle = await Fs.open(folder, constants.O_RDONLY | constants.O_DIRECTORY)
    try {
      await handle.sync()
    } catch (error) {
      if (!["EINVAL", "ENOTSUP", "EBADF", "EISDIR"].includes(codeOf(error))) throw error
    } finally {
      await handle.close()
    }
  })

/** Renames `from` to `to` (atomic within one file system, replacing `to`). */
export const rename = (url: string, from: string, to: string): Effect.Effect<void, FileSystemError> =>
  attempt(url, "rename", to, () => Fs.rename(from, to))

/** The temporary sibling `writeAtomically` writes before renaming. */
export const temporaryFor = (path: string): string => `${path}.tmp`

/**
 * Writes a small file atomically: a temporary sibling, flushed, renamed over
 * `path`. A crash leaves either the old content or the new, never a mix.
 */
export const writeAtomically = (url: string, path: string, content: string): Effect.Effect<void, FileSystemError> =>
  attempt(url, "write", path, async () => {
    // One name, not one per process: a write cut short by a kill is overwritten by the next one, never left behind.
    const temporary = temporaryFor(path)
    // Truncated as it opens: a file there with another name (a hard link) would be emptied under that name too.
    const existing = await Fs.lstat(temporary).catch(() => undefined)
    if (existing?.isFile() === true && existing.nlink > 1) throw otherNames(temporary)
    let opened: Fs.FileHandle
    try {
      opened = await Fs.open(
        temporary,
        constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | nonBlocking,
        0o644
      )
    } catch (error) {
      // A FIFO with no reader (or a socket) at the temporary's path: not a file we can write.
      throw codeOf(error) === "ENXIO" ? notRegular(temporary) : error
    }
    const handle = await regularOrClose(opened, temporary, true)
    try {
      await handle.writeFile(content, utf8Write())
      await handle.sync()
    } finally {
      await handle.close()
    }
    await Fs.rename(temporary, path)
  })

/** Reads a small file as UTF-8; `undefined` when it is missing (or not a regular file). */
export const readSmall = (
  url: string,
  path: string,
  maxBytes: number
): Effect.Effect<string | undefined, FileSystemError> =>
  attempt(url, "read", path, async () => {
    let handle: Fs.FileHandle
    try {
      handle = await Fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | nonBlocking)
    } catch (error) {
      // Missing, a link, or a socket: nothing of ours to read.
      if (["ENOENT", "ELOOP", "ENXIO"].includes(codeOf(error))) return undefined
      throw error
    }
    try {
      const stats = await handle.stat()
      if (!stats.isFile() || stats.size > maxBytes) return undefined
      return await handle.readFile(utf8Read())
    } finally {
      await handle.close()
    }
  })

/** Makes a folder and its parents. */
export const makeFolder = (url: string, folder: string): Effect.Effect<void, FileSystemError> =>
  attempt(url, "mkdir", folder, async () => {
    // Every option Node reads pinned (it destructures `mode` too): a polluted prototype adds none (RELIABILITY 10).
    await Fs.mkdir(folder, exactly({ recursive: true, mode: 0o777 }))
  })

/** The folder of a path. */
export const folderOf = (path: string): string => Path.dirname(Path.resolve(path))
