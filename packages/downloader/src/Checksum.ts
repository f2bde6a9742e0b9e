/**
 * Checksums for downloads: the algorithms, how an expected digest is given,
 * and incremental hashing with `node:crypto` (Effect's `Digest` hashes whole
 * buffers only).
 *
 * ```ts
 * downloader.download(url, "model.bin", { checksum: "sha256:9f86d0..." })
 * downloader.download(url, "model.bin", { checksum: { algorithm: "sha256", expected: "9f86d0..." } })
 * downloader.download(url, "model.bin", { checksum: { algorithm: "sha256" } }) // computed, not verified
 * ```
 *
 * @since 0.1.0
 */
import { exactly } from "@httpkit/core/Own"
import * as Schema from "effect/Schema"
import { createHash, type Hash } from "node:crypto"
import type { FileHandle } from "node:fs/promises"

/**
 * The supported algorithms.
 *
 * @category models
 * @since 0.1.0
 */
export const Algorithm = Schema.Literals(["md5", "sha1", "sha256", "sha512"])

/**
 * @category models
 * @since 0.1.0
 */
export type Algorithm = typeof Algorithm.Type

const hexLength: Record<Algorithm, number> = { md5: 32, sha1: 40, sha256: 64, sha512: 128 }

/**
 * A checksum to compute, and optionally to verify: `{ algorithm, expected }`,
 * or the string `"sha256:<hex>"`.
 *
 * @category models
 * @since 0.1.0
 */
export type Input = string | { readonly algorithm: Algorithm; readonly expected?: string | undefined }

/**
 * A checksum resolved from its input: the algorithm and the expected digest
 * (lower-case hex) when one was given.
 *
 * @category models
 * @since 0.1.0
 */
export interface Spec {
  readonly algorithm: Algorithm
  readonly expected: string | undefined
}

const isAlgorithm = (value: unknown): value is Algorithm =>
  value === "md5" || value === "sha1" || value === "sha256" || value === "sha512"

/**
 * Resolves a checksum input; a string says what was expected instead (a
 * known algorithm, a digest of the right length in hex), to complete
 * `checksum is <received>, expected <string>`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (input: Input): Spec | string => {
  let algorithm: unknown
  let expected: string | undefined
  if (typeof input === "string") {
    const separator = input.indexOf(":")
    if (separator < 0) return `"algorithm:hex", such as "sha256:" and 64 hex digits`
    algorithm = input.slice(0, separator).toLowerCase()
    expected = input.slice(separator + 1)
  } else if (typeof input === "object" && input !== null) {
    algorithm = Object.hasOwn(input, "algorithm") ? input.algorithm : undefined
    expected = Object.hasOwn(input, "expected") ? input.expected : undefined
  } else {
    return `"algorithm:hex", or { algorithm, expected }`
  }
  if (!isAlgorithm(algorithm)) return `an algorithm of md5, sha1, sha256 or sha512`
  if (expected === undefined) return { algorithm, expected: undefined }
  if (typeof expected !== "string") return `a ${algorithm} digest of ${hexLength[algorithm]} hex digits`
  const hex = expected.trim().toLowerCase()
  if (hex.length !== hexLength[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    return `a ${algorithm} digest of ${hexLength[algorithm]} hex digits`
  }
  return { algorithm, expected: hex }
}

/**
 * A checksum input in the one form that keeps what it asks for when stored
 * or encoded (a queued task, a batch's failure): `"algorithm:hex"` when a
 * digest is expected, `{ algorithm }` when one is only computed. An input
 * that does not resolve is kept as a string that does not either (the
 * string itself, or how the value looks), so that running it again fails
 * the same way rather than downloading unverified.
 *
 * @category constructors
 * @since 0.1.0
 */
export const canonical = (input: Input): string | { readonly algorithm: Algorithm } => {
  const spec = resolve(input)
  if (typeof spec === "string") return typeof input === "string" ? input : `invalid checksum ${show(input)}`
  return canonicalOf(spec)
}

/**
 * A resolved checksum in `canonical`'s form, for a caller that resolved
 * its input already (to check it): the input is not read again, so what
 * was checked is what is kept.
 *
 * @category constructors
 * @since 0.1.0
 */
export const canonicalOf = (spec: Spec): string | { readonly algorithm: Algorithm } =>
  spec.expected === undefined
    ? exactly({ algorithm: spec.algorithm })
    : `${spec.algorithm}:${spec.expected}`

/** A short picture of an input that did not resolve. */
const show = (input: unknown): string => {
  if (typeof input !== "object" || input === null) return String(input)
  const algorithm = Object.hasOwn(input, "algorithm") ? (input as { algorithm: unknown }).algorithm : undefined
  return `{ algorithm: ${typeof algorithm === "string" ? JSON.stringify(algorithm) : typeof algorithm} }`
}

/**
 * An incremental hash.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hasher = (algorithm: Algorithm): Hash => createHash(algorithm)

/** Size of the reads that re-hash a file. */
const readSize = 1024 * 1024

/**
 * Feeds bytes `[start, end)` of an open file to `hash`, in 1 MiB reads.
 * Fails when the file is shorter than `end`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const hashRange = async (handle: FileHandle, hash: Hash, start: number, end: number): Promise<void> => {
  const buffer = Buffer.allocUnsafe(Math.min(readSize, Math.max(1, end - start)))
  let position = start
  while (position < end) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - position), position)
    if (bytesRead === 0) throw Object.assign(new Error("the file is shorter than expected"), { code: "ESHORT" })
    hash.update(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
}
