/**
 * Where a download's bytes go and how they get there: the destination's
 * path (a file, or a folder where the name comes from `Content-Disposition`
 * or the URL, made safe), the checks before the first byte (a symbolic link,
 * an existing file and `ifExists`, a planted `.part`), and the move into
 * place at the end (rename, the folder's sync, the sidecar's removal).
 */
import * as Effect from "effect/Effect"
import { constants } from "node:fs"
import { type FileHandle, lstat, open } from "node:fs/promises"
import * as Path from "node:path"
import * as Checksum from "../Checksum.ts"
import { DestinationExistsError, FileSystemError, UnsafeFileNameError } from "../DownloadError.ts"
import { DownloadResult } from "../DownloadResult.ts"
import * as FileName from "../FileName.ts"
import * as FileIo from "./fileIo.ts"
import type { Job } from "./job.ts"
import * as PartLock from "./partLock.ts"
import type { Remote } from "./remote.ts"
import * as Sidecar from "./sidecar.ts"

/** The files of one download. */
export interface Paths {
  /** The destination, absolute. */
  readonly path: string
  readonly folder: string
  /** `DEST.part`: the bytes until they are whole and verified. */
  readonly partPath: string
  /** `DEST.part.json`: what a later run needs to resume. */
  readonly sidecarPath: string
}

/** A name quoted so that control characters show. */
const quote = (name: string): string => JSON.stringify(name)

const unsafe = (job: Job, name: string, reason: string) =>
  new UnsafeFileNameError({ url: job.redactedUrl, retryable: false, name: quote(name), reason })

/** `DEST.part`: where the bytes go until they are whole and verified. */
const partPathFor = (path: string): string => `${path}.part`

/** The longest suffix the download adds to its destination's name: `.part.json.tmp` (the sidecar being written). */
const helperSuffixBytes = Math.max(
  FileIo.temporaryFor(Sidecar.pathFor(partPathFor(""))).length,
  PartLock.pathFor(partPathFor("")).length
)

/** The longest name taken from the network: room left for every helper file's suffix. */
const nameBytes = FileName.defaultMaxBytes - helperSuffixBytes

/** The names of a download's helper files (`.part`, `.part.json`, `.part.json.tmp`, `.part.lock`). */
const helperName = /\.part(?:\.json(?:\.tmp)?|\.lock)?$/i

/**
 * A name from the network that looks like another download's helper file
 * (`x.bin.part`) gets `_part` instead of `.part`: written under that name, it
 * would replace the `.part` of a download to `x.bin` in the same folder.
 */
const notAHelperName = (name: string): string => name.replace(helperName, (suffix) => `_${suffix.slice(1)}`)

/**
 * The destination's paths: `destination` itself, or inside it when it is a
 * folder (an existing one, or a path ending in a separator) under the name
 * the server or the URL gives, made safe and kept inside the folder. Creates
 * the folder with `createFolders`.
 */
export const resolve = (
  job: Job,
  remote: Remote,
  destination: string
): Effect.Effect<Paths, UnsafeFileNameError | FileSystemError> =>
  Effect.gen(function*() {
    const target = Path.resolve(destination)
    const entry = yield* FileIo.entry(job.redactedUrl, target)
    let path = target
    if (entry.kind === "directory" || /[/\\]$/.test(destination)) {
      const chosen = FileName.choose({
        contentDisposition: remote.contentDisposition,
        url: job.url,
        maxBytes: nameBytes
      })
      if (!chosen.ok) return yield* Effect.fail(unsafe(job, job.redactedUrl, chosen.reason))
      const inside = FileName.resolveInside(target, notAHelperName(chosen.name))
      if (inside === undefined) {
        return yield* Effect.fail(unsafe(job, chosen.name, "the path leaves the download folder"))
      }
      path = inside
    }
    const folder = Path.dirname(path)
    if (job.createFolders) {
      yield* FileIo.makeFolder(job.redactedUrl, folder)
    } else if ((yield* FileIo.entry(job.redactedUrl, folder)).kind === "missing") {
      // Said plainly here, rather than as the `.part.lock` that cannot be created in it.
      return yield* Effect.fail(
        new FileSystemError({
          url: job.redactedUrl,
          retryable: false,
          operation: "folder",
          path: folder,
          code: "ENOENT"
        })
      )
    }
    const partPath = partPathFor(path)
    return { path, folder, partPath, sidecarPath: Sidecar.pathFor(partPath) }
  })

/** The digest and length of a file on disk. */
const digestOfFile = (job: Job, path: string, algorithm: Checksum.Algorithm) =>
  FileIo.attempt(job.redactedUrl, "read", path, async () => {
    // Not blocking: with `allowSymlinks`, the destination may be a link to a FIFO.
    const handle = await FileIo.regularOrClose(
      await open(path, constants.O_RDONLY | FileIo.nonBlocking),
      path
    )
    try {
      const { size } = await handle.stat()
      const hash = Checksum.hasher(algorithm)
      await Checksum.hashRange(handle, hash, 0, size)
      return { digest: hash.digest("hex"), bytes: size }
    } finally {
      await handle.close()
    }
  })

/**
 * The destination before the first byte: a symbolic link is refused (unless
 * `allowSymlinks`), a folder is not a file, and an existing file is handled
 * by `ifExists`. Succeeds with a skipped result when the existing file
 * already has the expected checksum; with `undefined` when the download goes on.
 */
export const checkExisting = (
  job: Job,
  paths: Paths
): Effect.Effect<DownloadResult | undefined, UnsafeFileNameError | FileSystemError | DestinationExistsError> =>
  Effect.gen(function*() {
    const { path } = paths
    const existing = yield* FileIo.entry(job.redactedUrl, path)
    if (existing.kind === "symlink" && !job.allowSymlinks) {
      return yield* Effect.fail(
        unsafe(
          job,
          Path.basename(path),
          "the destination is a symbolic link (set allowSymlinks to replace the link with the file)"
        )
      )
    }
    if (existing.kind === "directory" || existing.kind === "other") {
      // A folder, or a FIFO, a socket or a device: nothing a file can replace.
      const code = existing.kind === "directory" ? "EISDIR" : "EFTYPE"
      return yield* Effect.fail(
        new FileSystemError({ url: job.redactedUrl, retryable: false, operation: "open", path, code })
      )
    }
    if (existing.kind === "missing") return undefined
    const expected = job.checksum?.expected
    if (job.ifExists === "fail" || (job.ifExists === "skip-if-match" && expected === undefined)) {
      return yield* Effect.fail(
        new DestinationExistsError({ url: job.redactedUrl, retryable: false, destination: path })
      )
    }
    if (job.ifExists !== "skip-if-match" || job.checksum === undefined || expected === undefined) return undefined
    const { algorithm } = job.checksum
    const found = yield* digestOfFile(job, path, algorithm)
    if (found.digest !== expected) return undefined
    return new DownloadResult({
      url: job.redactedUrl,
      path,
      bytes: found.bytes,
      bytesTransferred: 0,
      checksum: { algorithm, digest: found.digest },
      verified: true,
      resumed: false,
      restarts: 0,
      continuations: 0,
      segments: 0,
      skipped: true,
      durationMillis: job.clock.currentTimeMillisUnsafe() - job.startedAt,
      bytesPerSecond: 0
    })
  })

/**
 * What sits at the `.part` path: nothing or a regular file of one name; a
 * link, a file with another name (a hard link), a folder or anything else is
 * refused.
 */
export const checkPart = (
  job: Job,
  paths: Paths
): Effect.Effect<FileIo.Entry, UnsafeFileNameError | FileSystemError> =>
  Effect.flatMap(
    FileIo.entry(job.redactedUrl, paths.partPath),
    (entry) =>
      entry.kind === "missing" || (entry.kind === "file" && entry.links === 1)
        ? Effect.succeed(entry)
        : Effect.fail(
          unsafe(
            job,
            Path.basename(paths.partPath),
            entry.kind === "file"
              ? "the .part has another name (a hard link): writing it would change that file too"
              : "the .part path is not a regular file (a planted link is never followed)"
          )
        )
  )

/**
 * The whole, verified, synced `.part` into place, while its lock is still
 * ours and the path still names the file written through `handle`: checked
 * once more (a link planted meanwhile is not written through), renamed in one step, the
 * folder synced, the sidecar removed. Uninterruptible: a rename without its
 * folder sync and sidecar removal would leave a stale sidecar behind.
 */
export const moveIntoPlace = (
  job: Job,
  paths: Paths,
  handle: FileHandle,
  lock: PartLock.PartLock
): Effect.Effect<void, UnsafeFileNameError | FileSystemError | DestinationExistsError> =>
  Effect.uninterruptible(Effect.gen(function*() {
    // The rename moves whatever the path names: it must still be this download's file, under its lock (a holder
    // that stalled past the lock's staleness finds another owner, and maybe another file, there).
    yield* lock.confirm
    yield* FileIo.attempt(job.redactedUrl, "lock", paths.partPath, async () => {
      const [mine, there] = await Promise.all([handle.stat(), lstat(paths.partPath)])
      if (mine.ino !== there.ino || mine.dev !== there.dev) {
        throw Object.assign(new Error("the .part is another file now"), { code: "ELOCKLOST" })
      }
    })
    const now = yield* FileIo.entry(job.redactedUrl, paths.path)
    if (now.kind === "symlink" && !job.allowSymlinks) {
      return yield* Effect.fail(
        unsafe(job, Path.basename(paths.path), "the destination became a symbolic link during the download")
      )
    }
    if (now.kind !== "missing" && job.ifExists === "fail") {
      return yield* Effect.fail(
        new DestinationExistsError({ url: job.redactedUrl, retryable: false, destination: paths.path })
      )
    }
    yield* FileIo.rename(job.redactedUrl, paths.partPath, paths.path)
    yield* FileIo.syncFolder(job.redactedUrl, paths.folder)
    yield* FileIo.removeIfPresent(job.redactedUrl, paths.sidecarPath)
    yield* FileIo.removeIfPresent(job.redactedUrl, FileIo.temporaryFor(paths.sidecarPath))
  }))
