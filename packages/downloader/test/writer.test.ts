/**
 * The positional writer (`internal/writer.ts`) against real files: bytes at
 * the right offsets whatever the chunking, the caller made to wait only when
 * the queue is full, short writes continued, and a failed write reported by
 * every later call.
 */
import { assert, describe, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as Fs from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach } from "vitest"
import * as Writer from "../src/internal/writer.ts"

const folders: Array<string> = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

const openFile = async (): Promise<{ path: string; handle: Fs.FileHandle }> => {
  const folder = mkdtempSync(join(tmpdir(), "httpkit-dl-writer-"))
  folders.push(folder)
  const path = join(folder, "file.bin")
  return { path, handle: await Fs.open(path, "w+") }
}

/** `bytes` cut into chunks of 1 to `most` bytes (a fixed pattern, so the test repeats). */
const chunked = (bytes: Buffer, most: number): Array<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 3) % most + 1) {
    chunks.push(bytes.subarray(at, Math.min(bytes.length, at + step)))
  }
  return chunks
}

/** Pushes every chunk, waiting whenever `push` asks to; counts the waits. */
const pushAll = async (writer: Writer.Writer, chunks: ReadonlyArray<Uint8Array>): Promise<number> => {
  let waits = 0
  for (const chunk of chunks) {
    const wait = writer.push(chunk)
    if (wait !== undefined) {
      waits++
      await wait
    }
  }
  return waits
}

describe("Writer", () => {
  it("writes 4 MiB of chunks of 1 byte to 96 KiB at their offsets from `start`, leaving the bytes before it alone", async () => {
    const { handle, path } = await openFile()
    const head = Buffer.alloc(1000, 0x5a)
    await handle.write(head, 0, head.length, 0)
    const body = randomBytes(4 * 1024 * 1024)
    const writer = Writer.make(handle, head.length, 256 * 1024)
    await pushAll(writer, chunked(body, 96 * 1024))
    assert.strictEqual(writer.received(), head.length + body.length)
    await writer.flush()
    assert.strictEqual(writer.written(), head.length + body.length)
    await handle.close()
    assert.isTrue(readFileSync(path).equals(Buffer.concat([head, body])))
  })

  it("asks its caller to wait only once the queue behind the write in flight holds the limit", async () => {
    const { handle } = await openFile()
    const writer = Writer.make(handle, 0, 64 * 1024)
    // The first chunk is written at once; the next ones queue behind it until 64 KiB are queued.
    assert.isUndefined(writer.push(Buffer.alloc(16 * 1024)))
    for (let i = 0; i < 3; i++) assert.isUndefined(writer.push(Buffer.alloc(16 * 1024)))
    const wait = writer.push(Buffer.alloc(16 * 1024))
    assert.isDefined(wait)
    await wait
    await writer.flush()
    assert.strictEqual(writer.written(), 80 * 1024)
    await handle.close()
  })

  it(`asks its caller to wait once ${Writer.maxChunks} tiny chunks are queued, whatever their bytes`, async () => {
    const { handle, path } = await openFile()
    const writer = Writer.make(handle, 0, 1024 * 1024)
    const bytes = randomBytes(Writer.maxChunks + 1)
    let firstWait = -1
    for (let i = 0; i < bytes.length && firstWait === -1; i++) {
      if (writer.push(bytes.subarray(i, i + 1)) !== undefined) firstWait = i
    }
    // Chunk 0 went out at once; chunks 1 to maxChunks filled the queue.
    assert.strictEqual(firstWait, Writer.maxChunks)
    await writer.flush()
    await handle.close()
    assert.isTrue(readFileSync(path).equals(bytes))
  })

  it("goes on after short writes: a file handle that writes at most 5000 bytes per call still gets every byte in place", async () => {
    const { handle, path } = await openFile()
    let calls = 0
    // The real handle, each `writev` cut to its first 5000 bytes (the OS may write less than asked).
    const short = {
      writev: async (buffers: ReadonlyArray<NodeJS.ArrayBufferView>, position: number) => {
        calls++
        const kept: Array<Uint8Array> = []
        let room = 5000
        for (const buffer of buffers) {
          if (room === 0) break
          const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, Math.min(room, buffer.byteLength))
          kept.push(bytes)
          room -= bytes.byteLength
        }
        return handle.writev(kept, position)
      }
    } as unknown as Fs.FileHandle
    const body = randomBytes(300 * 1024)
    const writer = Writer.make(short, 0, 64 * 1024)
    await pushAll(writer, chunked(body, 20 * 1024))
    await writer.flush()
    assert.isAtLeast(calls, Math.ceil(body.length / 5000))
    await handle.close()
    assert.isTrue(readFileSync(path).equals(body))
  })

  it("a failed write fails the flush and every later push with the file system's error", async () => {
    const { handle } = await openFile()
    const writer = Writer.make(handle, 0, 64 * 1024)
    await handle.close()
    assert.isUndefined(writer.push(Buffer.alloc(1024)))
    const flushed = await writer.flush().then(() => undefined, (error: unknown) => error)
    assert.strictEqual((flushed as { code?: string } | undefined)?.code, "EBADF")
    const pushed = await writer.push(Buffer.alloc(1024))?.then(() => undefined, (error: unknown) => error)
    assert.strictEqual(pushed, flushed)
  })
})
