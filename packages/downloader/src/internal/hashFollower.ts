/**
 * The checksum of a download, computed off the main thread while the bytes
 * arrive: a worker thread follows the `.part` file's contiguous prefix
 * (the bytes from offset 0 that every segment before has written), reading
 * them back from the page cache and hashing them in file order.
 *
 * **Details**
 *
 * - Hashing on the main thread cost a fifth of a single stream's throughput
 *   (sha256 at about 1.2 GB/s competing with the network and the writes);
 *   in a worker it runs beside them, on the other core.
 * - The digest covers what is on disk, resumed bytes and every segment
 *   included, which is what reaches the destination.
 * - Small files (below `threadedFrom`) are hashed at the end on the main
 *   thread: a worker's start costs more than it saves.
 */
import type { FileHandle } from "node:fs/promises"
import { Worker, type WorkerOptions } from "node:worker_threads"
import * as Checksum from "../Checksum.ts"
import { exactly, own, pinned } from "./own.ts"

/** Follows a file being written and gives its digest once it is whole. */
export interface Follower {
  /** The digest of bytes `[0, size)`, once every one of them has been written. */
  readonly digest: (size: number) => Promise<string>
  /** Stops following (the worker, if any, ends). */
  readonly close: () => void
}

/** Files at least this large (or of unknown length) are hashed by a worker while they arrive. */
export const threadedFrom = 16 * 1024 * 1024

/** How often the worker is told how far the contiguous prefix has grown. */
const followEveryMillis = 50

/** The worker's program (CommonJS, evaluated: no file to ship or resolve). */
const program = `
const { parentPort, workerData } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const fs = require("node:fs")
const hash = createHash(workerData.algorithm)
const fd = fs.openSync(workerData.path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
const buffer = Buffer.allocUnsafe(1024 * 1024)
let hashed = 0
parentPort.on("message", (message) => {
  try {
    while (hashed < message.upTo) {
      const read = fs.readSync(fd, buffer, 0, Math.min(buffer.length, message.upTo - hashed), hashed)
      if (read === 0) throw Object.assign(new Error("the file is shorter than expected"), { code: "ESHORT" })
      hash.update(buffer.subarray(0, read))
      hashed += read
    }
    if (message.digest) {
      fs.closeSync(fd)
      parentPort.postMessage({ digest: hash.digest("hex") })
    }
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message), code: error && error.code })
  }
})
`

/**
 * Every option Node 24's `Worker` reads (checked with a `Proxy`), pinned as
 * own properties: Node reads them with plain reads, so a polluted
 * `Object.prototype` would otherwise set the worker's `env`, `argv`,
 * `execArgv` or `resourceLimits` (a tiny heap), leave its file descriptor
 * open when it is terminated (`trackUnmanagedFds: false`), or make the
 * constructor throw (RELIABILITY 10). `undefined` keeps Node's default.
 */
const workerOptionNames = [
  "argv",
  "env",
  "eval",
  "execArgv",
  "name",
  "resourceLimits",
  "stderr",
  "stdin",
  "stdout",
  "trackUnmanagedFds",
  "transferList",
  "workerData"
]

/** What the worker posts back; read by own keys (it arrives with this thread's `Object.prototype`). */
interface Reply {
  readonly digest?: string
  readonly error?: string
  readonly code?: string
}

/** Hashes the whole file at the end, on the main thread, through `handle`. */
export const atEnd = (handle: FileHandle, algorithm: Checksum.Algorithm): Follower => ({
  digest: async (size) => {
    const hash = Checksum.hasher(algorithm)
    await Checksum.hashRange(handle, hash, 0, size)
    return hash.digest("hex")
  },
  close: () => {}
})

/**
 * A worker that hashes `path` as `prefix()` (the bytes written from offset
 * 0 without a gap) grows.
 */
export const threaded = (path: string, algorithm: Checksum.Algorithm, prefix: () => number): Follower => {
  const worker = new Worker(
    program,
    pinned<WorkerOptions>(workerOptionNames, { eval: true, workerData: exactly({ path, algorithm }) })
  )
  worker.unref()
  let told = 0
  let failed: Error | undefined
  let waiting: { resolve: (digest: string) => void; reject: (error: Error) => void } | undefined
  const fail = (error: Error) => {
    failed ??= error
    waiting?.reject(error)
    waiting = undefined
  }
  worker.on("message", (message: Reply) => {
    const digest = own(message, "digest")
    if (digest !== undefined) {
      waiting?.resolve(digest)
      waiting = undefined
    } else {
      fail(
        Object.assign(new Error(own(message, "error") ?? "hashing failed"), { code: own(message, "code") ?? "UNKNOWN" })
      )
    }
  })
  worker.on("error", fail)
  const tell = () => {
    const upTo = prefix()
    if (upTo > told && failed === undefined) {
      told = upTo
      // A worker thread's port, not a window: there is no target origin.
      // oxlint-disable-next-line unicorn/require-post-message-target-origin
      worker.postMessage({ upTo })
    }
  }
  const timer = setInterval(tell, followEveryMillis)
  timer.unref()
  return {
    digest: (size) => {
      clearInterval(timer)
      if (failed !== undefined) return Promise.reject(failed)
      return new Promise<string>((resolve, reject) => {
        waiting = { resolve, reject }
        // oxlint-disable-next-line unicorn/require-post-message-target-origin
        worker.postMessage({ upTo: size, digest: true })
      })
    },
    close: () => {
      clearInterval(timer)
      void worker.terminate()
    }
  }
}
