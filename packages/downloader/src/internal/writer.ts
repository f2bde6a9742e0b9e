/**
 * A positional writer that hands incoming chunks to the file system as they
 * come, without copying them: while one `writev` is in flight, the chunks
 * that arrive meanwhile queue, and go together in the next one.
 *
 * **Details**
 *
 * - No copy: the chunks themselves are written (`writev`), and each is
 *   dropped as soon as its write completes, so none lives long enough to be
 *   promoted out of V8's young generation.
 * - On a fast disk each chunk is written alone, at once; when the disk falls
 *   behind, the queue grows and each write gathers more. Once the queue holds
 *   `limitBytes` (or `maxChunks` chunks, a trickle of tiny ones), `push` asks
 *   its caller to wait: memory per writer is bounded by about twice
 *   `limitBytes` (the write in flight and the queue), whatever the file's size.
 * - Measured against the writer this replaced (every chunk copied into one of
 *   two reusable 1 MiB buffers, each written whole), 1 GiB from nginx over
 *   loopback: 2.07 s against 3.90 s, 3.0 against 5.4 CPU seconds (medians of
 *   7 paired runs; `fs.createWriteStream` took 2.83 s).
 */
import type { FileHandle } from "node:fs/promises"

/** Hands chunks to the file system at increasing positions from `start`. */
export interface Writer {
  /**
   * Adds a chunk. Returns a promise only when the caller must wait (the queue
   * is full); otherwise `undefined`, so the common case costs no promise.
   */
  readonly push: (chunk: Uint8Array) => Promise<void> | undefined
  /** Writes everything pushed and waits for every write. */
  readonly flush: () => Promise<void>
  /** The position after the last byte written to the OS (not yet synced). */
  readonly written: () => number
  /** The position after the last byte handed to `push`. */
  readonly received: () => number
}

/**
 * The most chunks one write gathers, and queues before `push` waits: Linux's
 * `IOV_MAX`, the most buffers one `writev` takes.
 */
export const maxChunks = 1024

/**
 * A writer for `handle` starting at `start` that makes its caller wait once
 * `limitBytes` are queued behind the write in flight; `beforeWrite` may hold
 * (or fail) a write, as the `.part`'s lock does after a long stall. A failed write fails
 * every later `push` and `flush` with the same error.
 */
export const make = (
  handle: FileHandle,
  start: number,
  limitBytes: number,
  beforeWrite: () => Promise<void> | undefined = () => undefined
): Writer => {
  let queue: Array<Uint8Array> = []
  let queuedBytes = 0
  let written = start
  let received = start
  let inFlight: Promise<void> | undefined
  let failure: unknown

  /** Writes `chunks` (`length` bytes) at `at`, going on after a short write. */
  const writeAll = async (chunks: Array<Uint8Array>, length: number, at: number): Promise<void> => {
    // Usually nothing to wait for; after a long stall, the `.part` must still be ours (partLock.ts).
    const check = beforeWrite()
    if (check !== undefined) await check
    let done = 0
    let first = 0
    for (;;) {
      const { bytesWritten } = await handle.writev(first === 0 ? chunks : chunks.slice(first), at + done)
      done += bytesWritten
      if (done >= length) return
      // Nothing written and no error: taken as a full disk rather than tried forever.
      if (bytesWritten === 0) throw Object.assign(new Error("the file system wrote nothing"), { code: "ENOSPC" })
      // A short write (a full disk reports itself as an error on the next one): skip what was written.
      let skip = bytesWritten
      while (skip >= chunks[first]!.byteLength) skip -= chunks[first++]!.byteLength
      if (skip > 0) chunks[first] = chunks[first]!.subarray(skip)
    }
  }

  /** Starts writing the whole queue; when that write ends, starts the next one if chunks queued meanwhile. */
  const startWrite = (): void => {
    const chunks = queue
    const length = queuedBytes
    const at = written
    queue = []
    queuedBytes = 0
    inFlight = writeAll(chunks, length, at).then(
      () => {
        written = at + length
        inFlight = undefined
        if (queue.length > 0) startWrite()
      },
      (error: unknown) => {
        failure ??= error
        inFlight = undefined
      }
    )
  }

  const full = (): boolean => queuedBytes >= limitBytes || queue.length >= maxChunks

  /** Waits until the queue is below its limits, or fails with the write's error. */
  const drain = async (): Promise<void> => {
    for (;;) {
      // `failure` and the queue change while the write in flight ends.
      if (failure !== undefined) throw failure
      if (!full()) return
      if (inFlight === undefined) startWrite()
      await inFlight
    }
  }

  const push = (chunk: Uint8Array): Promise<void> | undefined => {
    if (failure !== undefined) return Promise.reject(failure)
    if (chunk.byteLength === 0) return undefined
    queue.push(chunk)
    queuedBytes += chunk.byteLength
    received += chunk.byteLength
    if (inFlight === undefined) startWrite()
    else if (full()) return drain()
    return undefined
  }

  /** Writes every byte received so far (bytes pushed meanwhile may wait for the next flush). */
  const flush = async (): Promise<void> => {
    const target = received
    for (;;) {
      if (failure !== undefined) throw failure
      if (written >= target) return
      if (inFlight === undefined) startWrite()
      await inFlight
    }
  }

  return { push, flush, written: () => written, received: () => received }
}
