/**
 * Helpers shared by the downloader's socket tests: a test server, a client
 * and a downloader over it, a temporary folder, and the digests the test
 * server's `/files` content must have.
 */
import { assert } from "@effect/vitest"
import type * as ClientConfig from "@httpkit/client/ClientConfig"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as TestServer from "@httpkit/testing/TestServer"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import type * as DownloadConfig from "../../src/DownloadConfig.ts"
import * as Downloader from "../../src/Downloader.ts"

/** A temporary folder, removed with the scope. */
export const tempFolder = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-dl-"))),
  (folder) => Effect.promise(() => Fs.rm(folder, { recursive: true, force: true }))
)

/**
 * Runs `node ARGS` (killed after 60 s, without the `HTTPKIT_*` variables of
 * this environment) and parses the last line it printed as JSON; fails the
 * test, with the child's output, when that line is not JSON.
 */
export const childReport = <A>(args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const run = yield* Effect.promise(() => NodeChild.run(args, { timeoutMillis: 60_000, dropEnv: ["HTTPKIT_*"] }))
    const line = run.stdout.trim().split("\n").at(-1) ?? ""
    assert.isTrue(line.startsWith("{"), `the child failed (status ${run.code}): ${run.output}`)
    return JSON.parse(line) as A
  })

/** Fast retries: the tests are about what is retried, not how long it waits. */
export const quickRetry = { maxAttempts: 4, minDelay: 1, maxDelay: 20 } as const

/** A test server, a client on it and a downloader over that client, in a temporary folder. */
export const setup = (
  options: { readonly client?: ClientConfig.Options; readonly downloader?: DownloadConfig.Options } = {}
) =>
  Effect.gen(function*() {
    const server = yield* TestServer.make()
    const client = yield* ResilientClient.make({ baseUrl: server.url, retry: quickRetry, ...options.client })
    const downloader = yield* Effect.provideService(
      Downloader.make(options.downloader),
      ResilientClient.ResilientClient,
      client
    )
    const folder = yield* tempFolder
    return { server, client, downloader, folder }
  })

/** The sha256 of a file on disk. */
export const sha256Of = (path: string) =>
  Effect.promise(async () => createHash("sha256").update(await Fs.readFile(path)).digest("hex"))

/** The sha256 of `/files` content of this seed and size. */
export const expectedSha256 = (seed: number, size: number): string => Content.digest(seed, 0, size)

/** The names in a folder, sorted. */
export const listing = (folder: string) => Effect.promise(async () => (await Fs.readdir(folder)).toSorted())

/** Asserts that a file holds exactly the `/files` content of this seed and size. */
export const assertContent = (path: string, seed: number, size: number) =>
  Effect.gen(function*() {
    const stats = yield* Effect.promise(() => Fs.stat(path))
    assert.strictEqual(stats.size, size, `size of ${path}`)
    assert.strictEqual(yield* sha256Of(path), expectedSha256(seed, size), `content of ${path}`)
  })
