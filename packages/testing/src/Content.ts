/**
 * Deterministic file content for `/files/:name`: pseudo-random bytes that are
 * a function of `(seed, byte offset)` only, so any range can be produced on
 * its own, cheaply, and equals the same slice of the full body. Tests use the
 * same functions to compute the bytes and digests they expect.
 *
 * **Details**
 *
 * The bytes are the AES-128-CTR keystream under a key derived from the seed
 * (`sha256("httpkit-testing/content/v1/" + seed)`, first 16 bytes), with the
 * counter block holding the 16-byte block number. Any offset is reached by
 * starting the counter at `offset / 16`, so a 16 GiB file is never held in
 * memory and a range costs what its length costs.
 *
 * The gzip bomb is a single gzip member built from one precompressed 1 MiB
 * segment of zeros repeated (each segment ends with a full flush, so it
 * decodes without history), a final segment for the remainder, and a trailer
 * whose CRC-32 of N zeros is computed in O(log N) without touching N bytes.
 *
 * @since 0.1.0
 */
import { createCipheriv, createHash } from "node:crypto"
import { constants as zlibConstants, deflateRawSync } from "node:zlib"

/**
 * Bumped whenever the generator changes, so old `ETag`s never match new bytes.
 *
 * @category constants
 * @since 0.1.0
 */
export const contentVersion = 1

/**
 * Size of the chunks the content is generated and sent in.
 *
 * @category constants
 * @since 0.1.0
 */
export const chunkSize = 64 * 1024

/**
 * Largest file (and gzip bomb) the endpoint serves: 16 GiB.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxSize = 16 * 1024 * 1024 * 1024

/**
 * Largest seed; seeds are unsigned 32-bit integers.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxSeed = 0xffff_ffff

const zeros = new Uint8Array(chunkSize + 16)

const keyFor = (seed: number): Buffer =>
  createHash("sha256").update(`httpkit-testing/content/v${contentVersion}/${seed}`).digest().subarray(0, 16)

const checkRange = (seed: number, offset: number, length: number): void => {
  if (!Number.isInteger(seed) || seed < 0 || seed > maxSeed) throw new RangeError(`seed out of range: ${seed}`)
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`offset out of range: ${offset}`)
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`length out of range: ${length}`)
}

/** A keystream positioned at `offset`, with the bytes before it inside the first block already skipped. */
const keystreamAt = (seed: number, offset: number) => {
  const skip = offset % 16
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt((offset - skip) / 16), 8)
  const cipher = createCipheriv("aes-128-ctr", keyFor(seed), iv)
  if (skip > 0) cipher.update(zeros.subarray(0, skip))
  return (length: number): Uint8Array =>
    length <= zeros.length ? cipher.update(zeros.subarray(0, length)) : cipher.update(new Uint8Array(length))
}

/**
 * The `length` bytes of the file with this `seed`, starting at byte `offset`.
 *
 * Pure: the same arguments always give the same bytes, and
 * `bytesAt(seed, a, n)` equals the slice `[a, a + n)` of any longer call.
 *
 * @category constants
 * @since 0.1.0
 */
export const bytesAt = (seed: number, offset: number, length: number): Uint8Array => {
  checkRange(seed, offset, length)
  return keystreamAt(seed, offset)(length)
}

/**
 * The bytes `[start, end)` of the file with this `seed`, in chunks of at
 * most `chunkSize` that end on multiples of `chunkSize`. Lazy: nothing is
 * generated before it is pulled.
 *
 * @category constructors
 * @since 0.1.0
 */
export function* chunks(seed: number, start: number, end: number): Generator<Uint8Array, void, undefined> {
  checkRange(seed, start, Math.max(0, end - start))
  if (end <= start) return
  const next = keystreamAt(seed, start)
  let offset = start
  while (offset < end) {
    const boundary = Math.min(end, (Math.floor(offset / chunkSize) + 1) * chunkSize)
    yield next(boundary - offset)
    offset = boundary
  }
}

/**
 * The hex digest of the bytes `[offset, offset + length)` of the file with
 * this `seed`, computed chunk by chunk.
 *
 * @default algorithm "sha256"
 *
 * @category constants
 * @since 0.1.0
 */
export const digest = (seed: number, offset: number, length: number, algorithm = "sha256"): string => {
  const hash = createHash(algorithm)
  for (const chunk of chunks(seed, offset, offset + length)) hash.update(chunk)
  return hash.digest("hex")
}

/**
 * The seed the content switches to from the second request on under `mutate=1`.
 *
 * @category constants
 * @since 0.1.0
 */
export const mutatedSeed = (seed: number): number => (seed + 1) % (maxSeed + 1)

const lastModifiedBase = Date.UTC(2015, 0, 1)

/**
 * The fixed modification date of the file with this `seed`, whole seconds
 * between 2015 and 2023 (two different seeds below 2^28 never share one).
 *
 * @category constants
 * @since 0.1.0
 */
export const lastModified = (seed: number): Date => new Date(lastModifiedBase + (seed % 2 ** 28) * 1000)

/**
 * What the entity tag is derived from.
 *
 * @category models
 * @since 0.1.0
 */
export interface EntityTagParts {
  readonly name: string
  readonly size: number
  readonly seed: number
  /** `identity`, `gzip` (the content gzip-encoded) or `bomb` (gzip of `size` zeros). */
  readonly encoding: "identity" | "gzip" | "bomb"
}

/**
 * The strong entity tag, quoted, for example `"3f2a…"`; prefix `W/` for the weak form.
 *
 * @category constants
 * @since 0.1.0
 */
export const entityTag = (parts: EntityTagParts): string => {
  const input = `v${contentVersion}\u0000${parts.name}\u0000${parts.size}\u0000${parts.seed}\u0000${parts.encoding}`
  return `"${createHash("sha256").update(input).digest("hex").slice(0, 32)}"`
}

// --- gzip bomb --------------------------------------------------------------

/** Zeros per repeated deflate segment of the bomb. */
const bombSegmentSize = 1024 * 1024

let bombSegmentCache: Uint8Array | undefined

/** Raw deflate of one segment of zeros, ending in a full flush: it decodes on its own, after any other segment. */
const bombSegment = (): Uint8Array => (bombSegmentCache ??= deflateRawSync(new Uint8Array(bombSegmentSize), {
  level: 9,
  finishFlush: zlibConstants.Z_FULL_FLUSH
}))

/** The final deflate block(s): the remainder of zeros, compressed and finished. */
const bombTail = (remainder: number): Uint8Array => deflateRawSync(new Uint8Array(remainder), { level: 9 })

const gzipHeader = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff)

/** CRC-32 (reflected polynomial 0xedb88320) arithmetic modulo the polynomial, after zlib's crc32.c. */
const crcPolynomial = 0xedb8_8320
const multModP = (a: number, b: number): number => {
  let m = 0x8000_0000
  let p = 0
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    b = (b & 1) !== 0 ? (b >>> 1) ^ crcPolynomial : b >>> 1
  }
  return p >>> 0
}
const x2nTable: ReadonlyArray<number> = (() => {
  const table: Array<number> = []
  let p = 0x4000_0000 // x^1
  table.push(p)
  for (let n = 1; n < 32; n++) table.push(p = multModP(p, p))
  return table
})()

/** x^(n * 2^k) modulo the polynomial. */
const x2nModP = (n: number, k: number): number => {
  let p = 0x8000_0000 // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(x2nTable[k & 31]!, p)
    n = Math.floor(n / 2)
    k += 1
  }
  return p
}

/**
 * CRC-32 (as gzip and `zlib.crc32` compute it) of `n` zero bytes, in O(log n).
 *
 * @category constants
 * @since 0.1.0
 */
export const crc32OfZeros = (n: number): number => (multModP(x2nModP(n, 3), 0xffff_ffff) ^ 0xffff_ffff) >>> 0

const gzipTrailer = (n: number): Uint8Array => {
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(crc32OfZeros(n), 0)
  trailer.writeUInt32LE(n % 2 ** 32, 4)
  return trailer
}

/**
 * Length in bytes of the gzip bomb that inflates to `n` zero bytes (about n / 1000).
 *
 * @category constants
 * @since 0.1.0
 */
export const gzipBombLength = (n: number): number =>
  gzipHeader.length + Math.floor(n / bombSegmentSize) * bombSegment().length + bombTail(n % bombSegmentSize).length
  + 8

/**
 * A gzip body (one member) that inflates to `n` zero bytes, in chunks of at
 * most about `chunkSize`, without ever allocating `n` bytes.
 *
 * @category constructors
 * @since 0.1.0
 */
export function* gzipBomb(n: number): Generator<Uint8Array, void, undefined> {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`bomb size out of range: ${n}`)
  const segment = bombSegment()
  const perChunk = Math.max(1, Math.floor(chunkSize / segment.length))
  const batch = Buffer.concat(Array.from({ length: perChunk }, () => segment))
  yield gzipHeader
  let segments = Math.floor(n / bombSegmentSize)
  while (segments >= perChunk) {
    yield batch
    segments -= perChunk
  }
  if (segments > 0) yield batch.subarray(0, segments * segment.length)
  yield bombTail(n % bombSegmentSize)
  yield gzipTrailer(n)
}
