/**
 * A positional writer that gathers chunks into large `writev` calls on one
 * open handle, with at most one write in flight: while the file system
 * writes one batch, the next one fills from the network. Memory is bounded
 * by two batches, whatever the file's size.
 */
import type { FileHandle } from "node:fs/promises"

/** Gathers chunks and writes them at increasing positions from `start`. */
export interface Writer {
  /**
   * Adds a chunk. Returns a promise only when the caller must wait (a full
   * batch while the previous one is still being written); otherwise
   * `undefined`, so the common case costs no promise.
   */
  readonly push: (chunk: Uint8Array) => Promise<void> | undefined
  /** Writes everything gathered and waits for every write. */
  readonly flush: () => Promise<void>
  /** The position after the last byte written and flushed to the OS (not yet synced). */
  readonly written: () => number
  /** The position after the last byte handed to `push`. */
  readonly received: () => number
}

/** `writev` takes at most this many buffers per call (IOV_MAX is 1024 on Linux). */
const maxBuffers = 1024

/**
 * A writer for `handle` starting at `start`, writing batches of about
 * `batchBytes`. A failed write fails every later `push` and `flush` with the
 * same error.
 */
export const make = (handle: FileHandle, start: number, batchBytes: number): Writer => {
  let position = start
  let written = start
  let batch: Array<Uint8Array> = []
  let batchLength = 0
  let inFlight: Promise<void> | undefined
  let failure: unknown

  const writeAll = async (buffers: Array<Uint8Array>, at: number, length: number): Promise<void> => {
    let offset = 0
    let pending = buffers
    while (offset < length) {
      const { bytesWritten } = await handle.writev(pending.slice(0, maxBuffers), at + offset)
      offset += bytesWritten
      if (offset >= length) break
      // A short write: drop what was written and go on with the rest.
      let skip = bytesWritten
      const rest: Array<Uint8Array> = []
      for (const buffer of pending) {
        if (skip >= buffer.byteLength) {
          skip -= buffer.byteLength
          continue
        }
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer)
        skip = 0
      }
      pending = rest
    }
    written = at + length
  }

  const start_ = (): void => {
    const buffers = batch
    const length = batchLength
    const at = position - length
    batch = []
    batchLength = 0
    inFlight = writeAll(buffers, at, length).then(
      () => {
        inFlight = undefined
      },
      (error: unknown) => {
        inFlight = undefined
        failure ??= error
      }
    )
  }

  const push = (chunk: Uint8Array): Promise<void> | undefined => {
    if (failure !== undefined) return Promise.reject(failure)
    if (chunk.byteLength === 0) return undefined
    batch.push(chunk)
    batchLength += chunk.byteLength
    position += chunk.byteLength
    if (batchLength < batchBytes && batch.length < maxBuffers) return undefined
    if (inFlight === undefined) {
      start_()
      return undefined
    }
    // Two batches at most: wait for the one in flight, then start this one.
    return inFlight.then(() => {
      if (failure !== undefined) throw failure
      if (inFlight === undefined && batchLength > 0) start_()
    })
  }

  /** Waits until no write is in flight. */
  const settle = async (): Promise<void> => {
    for (let current = inFlight; current !== undefined; current = inFlight) await current
  }

  const flush = async (): Promise<void> => {
    await settle()
    if (failure !== undefined) throw failure
    if (batchLength > 0) {
      start_()
      await settle()
    }
    if (failure !== undefined) throw failure
  }

  return { push, flush, written: () => written, received: () => position }
}
