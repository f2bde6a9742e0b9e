/**
 * Interruption (issue points 8 and 13): a fiber interrupted, Ctrl-C (SIGINT)
 * or `kill -9` (SIGKILL) leaves a resumable `.part` with its sidecar, never
 * a half file at the destination, and the next run resumes it.
 *
 * The killed downloads run in a child process (`support/killChild.ts`, the
 * pinned Node with type stripping) that reports its progress on stdout, so
 * the parent kills at a byte count, not at a time. The test server runs here
 * and records every request. After each kill the parent checks the folder:
 * nothing at the destination, and the sidecar never claims a byte the
 * `.part` does not hold exactly (its first `done` bytes hash to the right
 * content). Kill points come from a seeded generator, so every run kills at
 * the same byte counts; where in the child's work such a count lands (a
 * write, a checkpoint, a rename) varies, and every assertion holds for any.
 *
 * **Details**
 *
 * - Bytes are gathered into batches of `writeBatch` (1 MiB by default)
 *   before they are written, and the sidecar only counts written bytes, so a
 *   SIGKILL loses what was received since the last batch. Kill points are
 *   chosen so that some rounds make durable progress (more than two batches
 *   received) and some do not.
 * - Files are trickled (`rate=`) at 4 MiB/s: 16 MiB for the SIGKILL rounds,
 *   whose kill points stay under 10 MiB, so a kill never comes after the end.
 */
import { assert, it } from "@effect/vitest"
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import * as NodeChild from "@httpkit/testing/NodeChild"
import * as TestServer from "@httpkit/testing/TestServer"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Downloader from "../src/Downloader.ts"

const script = fileURLToPath(new URL("./support/killChild.ts", import.meta.url))

const MiB = 1024 * 1024

/** How long the parent waits for one line or one exit of a child before it gives up. */
const lineTimeout = 60_000

// --- helpers -----------------------------------------------------------------

/** A temporary folder, removed with the scope. */
const tempFolder = Effect.acquireRelease(
  Effect.promise(() => Fs.mkdtemp(Path.join(Os.tmpdir(), "httpkit-dl-kill-"))),
  (folder) => Effect.promise(() => Fs.rm(folder, { recursive: true, force: true }))
)

/** A deterministic generator of numbers in [0, 1) (mulberry32). */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** The sidecar's content, as far as these tests read it. */
interface SidecarState {
  readonly url: string
  readonly size?: number
  readonly segments: ReadonlyArray<{ readonly start: number; readonly end?: number; readonly done: number }>
}

/** What a folder holds for one download at `path`. */
interface Snapshot {
  /** The names in the folder, sorted. */
  readonly names: ReadonlyArray<string>
  /** The destination: absent, or its length and sha256. */
  readonly destination: { readonly size: number; readonly sha256: string } | undefined
  /** The `.part`'s length, when present. */
  readonly partSize: number | undefined
  /** The sidecar, when present; `invalid` when it is not JSON. */
  readonly sidecar: SidecarState | "invalid" | undefined
  /** The sha256 of the part's first `done` bytes (the sidecar's single segment), when both are present. */
  readonly claimedSha256: string | undefined
}

const readOrUndefined = (path: string) =>
  Fs.readFile(path).catch((error: { code?: string }) => {
    if (error.code === "ENOENT") return undefined
    throw error
  })

const snapshot = (folder: string, path: string): Effect.Effect<Snapshot> =>
  Effect.promise(async () => {
    const names = (await Fs.readdir(folder)).toSorted()
    const destination = await readOrUndefined(path)
    const part = await readOrUndefined(`${path}.part`)
    const sidecarText = await readOrUndefined(`${path}.part.json`)
    let sidecar: SidecarState | "invalid" | undefined
    if (sidecarText !== undefined) {
      try {
        sidecar = JSON.parse(sidecarText.toString("utf8")) as SidecarState
      } catch {
        sidecar = "invalid"
      }
    }
    const done = typeof sidecar === "object" ? sidecar.segments[0]?.done : undefined
    return {
      names,
      destination: destination === undefined
        ? undefined
        : { size: destination.byteLength, sha256: sha256(destination) },
      partSize: part?.byteLength,
      sidecar,
      claimedSha256: part === undefined || done === undefined || done > part.byteLength
        ? undefined
        : sha256(part.subarray(0, done))
    }
  })

/** The bytes the sidecar says are on disk (its one segment's `done`), 0 without a sidecar. */
const doneOf = (state: Snapshot): number => typeof state.sidecar === "object" ? state.sidecar.segments[0]!.done : 0

/**
 * Asserts what an interrupted or killed download may leave: nothing at the
 * destination (and if something, the whole right file), at most a `.part`,
 * its sidecar and the sidecar's temporary sibling; a sidecar that is JSON
 * with one segment whose `done` bytes are in the part and hash to the
 * file's first `done` bytes.
 */
const assertResumable = (label: string, state: Snapshot, name: string, seed: number, size: number) => {
  if (state.destination !== undefined) {
    assert.deepStrictEqual(
      state.destination,
      { size, sha256: Content.digest(seed, 0, size) },
      `${label}: a partial or corrupt file sits at the destination`
    )
  }
  assert.isUndefined(state.destination, `${label}: the destination exists (whole) before the download completed`)
  // The part, its sidecar, the sidecar's temporary file (a kill during its write) and the lock of a killed process.
  const allowed = new RegExp(`^${name.replace(".", "\\.")}\\.part(\\.json(\\.tmp)?|\\.lock)?$`)
  for (const entry of state.names) assert.match(entry, allowed, `${label}: unexpected file in the folder`)
  assert.notStrictEqual(state.sidecar, "invalid", `${label}: the sidecar is not valid JSON`)
  if (typeof state.sidecar === "object") {
    assert.isDefined(state.partSize, `${label}: a sidecar without its .part`)
    assert.strictEqual(state.sidecar.segments.length, 1, `${label}: one segment (a single stream)`)
    const done = doneOf(state)
    assert.isAtMost(done, state.partSize!, `${label}: the sidecar claims more bytes than the .part holds`)
    assert.strictEqual(
      state.claimedSha256,
      Content.digest(seed, 0, done),
      `${label}: the .part's first ${done} bytes (claimed by the sidecar) are not the file's`
    )
  }
}

/** One line of `killChild.ts`. */
interface Line {
  readonly event: "start" | "progress" | "done"
  readonly bytes?: number
  readonly result?: {
    readonly bytes: number
    readonly bytesTransferred: number
    readonly resumed: boolean
    readonly restarts: number
    readonly continuations: number
    readonly verified: boolean
    readonly digest: string | undefined
  }
}

/**
 * Starts `killChild.ts` for one download; the scope's end kills it with
 * SIGKILL if it is still running (an assertion failed), and waits for it.
 */
const startChild = (url: string, destination: string, expected: string) =>
  NodeChild.start<Line>([script, url, destination, expected], { timeoutMillis: lineTimeout })

/** The `Range` header of every GET of `path` the server recorded, oldest first (`undefined`: the whole file). */
const rangesOf = (server: TestServer.TestServer["Service"], path: string) =>
  Effect.map(
    server.requestsTo(path),
    (requests) =>
      requests.filter((request) => request.method === "GET").map((request) =>
        request.headers["range"] as string | undefined
      )
  )

/** Where a GET's `Range` starts: 0 without one; NaN for a range that is not `bytes=N-M`. */
const resumedFrom = (range: string | undefined): number =>
  range === undefined ? 0 : Number(/^bytes=(\d+)-(\d+)$/.exec(range)?.[1] ?? Number.NaN)

// --- SIGKILL ------------------------------------------------------------------

/** Where one round kills its child. */
type KillPoint =
  | { readonly kind: "at spawn" }
  | { readonly kind: "at start" }
  | { readonly kind: "after bytes"; readonly bytes: number }

it.live(
  "kill -9 at 6 seeded points of a 16 MiB download (at spawn, before a byte, after 0.05 to 3.2 MiB): never a file at the destination, the .part always resumable, and the 7th run resumes it to the right sha256",
  () =>
    Effect.gen(function*() {
      const size = 16 * MiB
      const seed = 11
      const expected = Content.digest(seed, 0, size)
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const path = Path.join(folder, "k.bin")
      const url = server.urlFor(`/files/k.bin?size=${size}&seed=${seed}&rate=${4 * MiB}`)
      const random = prng(0x6b696c6c)
      const between = (low: number, high: number) => Math.round((low + random() * (high - low)) * MiB)
      // Bytes received after this round's start: under 1 MiB nothing new reaches the disk, above 2.2 MiB something does.
      const points: ReadonlyArray<KillPoint> = [
        { kind: "at spawn" },
        { kind: "after bytes", bytes: between(0.05, 0.9) },
        { kind: "at start" },
        { kind: "after bytes", bytes: between(2.2, 3.2) },
        { kind: "after bytes", bytes: between(0.1, 3.2) },
        { kind: "after bytes", bytes: between(2.2, 3.2) }
      ]

      const dones: Array<number> = [0]
      const log: Array<string> = []
      for (const [index, point] of points.entries()) {
        const label = `kill ${index + 1} (${point.kind}${point.kind === "after bytes" ? ` ${point.bytes}` : ""})`
        const from = dones.at(-1)!
        yield* Effect.scoped(Effect.gen(function*() {
          const child = yield* startChild(url, path, expected)
          if (point.kind === "at start") yield* child.until("the start line", (line) => line.event === "start")
          if (point.kind === "after bytes") {
            yield* child.until(
              `progress to ${from + point.bytes} bytes`,
              (line) => line.event === "done" || (line.event === "progress" && line.bytes! >= from + point.bytes)
            )
          }
          yield* child.kill("SIGKILL")
          const ended = yield* child.ended
          assert.isUndefined(
            child.lines.find((line) => line.event === "done"),
            `${label}: the child finished before the kill (the kill points are too close to the end)`
          )
          assert.deepStrictEqual(ended, { code: null, signal: "SIGKILL" }, `${label}: ${child.diagnostics()}`)
          const reported = child.lines.filter((line) => line.event === "progress").at(-1)?.bytes
          const state = yield* snapshot(folder, path)
          assertResumable(label, state, "k.bin", seed, size)
          const done = doneOf(state)
          assert.isAtLeast(done, from, `${label}: the sidecar lost bytes an earlier run had recorded`)
          dones.push(done)
          log.push(
            `${label}: reported ${reported ?? "-"}, part ${
              state.partSize ?? "-"
            }, sidecar done ${done}, [${state.names}]`
          )
        }))
      }

      const lastDone = dones.at(-1)!
      assert.isAbove(lastDone, 0, `no kill left recorded bytes:\n${log.join("\n")}`)
      const child = yield* startChild(url, path, expected)
      const done = yield* child.until("the done line", (line) => line.event === "done")
      const ended = yield* child.ended
      assert.deepStrictEqual(ended, { code: 0, signal: null }, child.diagnostics())
      const result = done.result!
      const state = yield* snapshot(folder, path)
      assert.deepStrictEqual(state.destination, { size, sha256: expected })
      assert.deepStrictEqual(
        { resumed: result.resumed, bytes: result.bytes, verified: result.verified, digest: result.digest },
        { resumed: true, bytes: size, verified: true, digest: expected }
      )
      // Resumed from the last recorded byte: exactly the rest came over the network, nothing from zero.
      assert.strictEqual(result.bytesTransferred, size - lastDone, log.join("\n"))
      assert.isBelow(result.bytesTransferred, size)
      assert.isFalse(state.names.includes("k.bin.part"), `the .part is left: [${state.names}]`)
      assert.isFalse(state.names.includes("k.bin.part.json"), `the sidecar is left: [${state.names}]`)
      assert.isFalse(state.names.includes("k.bin.part.lock"), `the lock is left: [${state.names}]`)

      // Every GET asked for the whole file or for the rest after a recorded `done`; at least one after bytes.
      const ranges = yield* rangesOf(server, "/files/k.bin")
      for (const range of ranges) {
        assert.include(dones, resumedFrom(range), `GET with Range ${range}: not a recorded done ${dones}`)
        if (range !== undefined) assert.strictEqual(range, `bytes=${resumedFrom(range)}-${size - 1}`)
      }
      assert.isTrue(ranges.some((range) => resumedFrom(range) > 0), `no GET resumed: ${ranges}`)
      assert.strictEqual(ranges.at(-1), `bytes=${lastDone}-${size - 1}`)
      console.info(
        `kill -9 rounds:\n${log.join("\n")}\nfinal run: ${
          JSON.stringify(result)
        }; GET ranges ${ranges}; left [${state.names}]`
      )
    }).pipe(Effect.scoped),
  120_000
)

// --- a fiber interrupted ------------------------------------------------------

it.live(
  "a download fiber interrupted after 1 MiB of 4 MiB leaves no destination and a .part whose sidecar counts every byte received; the next run resumes with the rest only",
  () =>
    Effect.gen(function*() {
      const size = 4 * MiB
      const seed = 12
      const expected = Content.digest(seed, 0, size)
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const client = yield* ResilientClient.make({
        baseUrl: server.url,
        retry: { maxAttempts: 4, minDelay: 1, maxDelay: 20 }
      })
      const downloader = yield* Effect.provideService(
        Downloader.make({ checkpointInterval: 50 }),
        ResilientClient.ResilientClient,
        client
      )
      const path = Path.join(folder, "f.bin")
      const url = `/files/f.bin?size=${size}&seed=${seed}&rate=${2 * MiB}`

      const reached = Deferred.makeUnsafe<number>()
      const fiber = yield* Effect.forkChild(downloader.download(url, path, {
        checksum: `sha256:${expected}`,
        onProgress: (progress) => {
          if (progress.bytes >= MiB) Deferred.doneUnsafe(reached, Effect.succeed(progress.bytes))
        }
      }))
      const seen = yield* Deferred.await(reached)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.hasInterrupts(exit), `the download ended ${String(exit)} instead of being interrupted`)

      const state = yield* snapshot(folder, path)
      assertResumable("after the interruption", state, "f.bin", seed, size)
      assert.deepStrictEqual(state.names, ["f.bin.part", "f.bin.part.json"])
      const done = doneOf(state)
      // The last checkpoint runs as the fiber ends: what was received by the time of the interruption is recorded.
      assert.isAtLeast(done, seen, `sidecar done ${done}, part ${state.partSize}, progress had reported ${seen}`)
      assert.isBelow(done, size)

      const result = yield* downloader.download(url, path, { checksum: `sha256:${expected}` })
      // Not a wait for the download (it has returned): a file operation it left running would land meanwhile.
      yield* Effect.sleep(200)
      const after = yield* snapshot(folder, path)
      assert.deepStrictEqual(after.destination, { size, sha256: expected })
      assert.isTrue(result.resumed)
      assert.isTrue(result.verified)
      assert.strictEqual(result.bytesTransferred, size - done)
      assert.deepStrictEqual(after.names, ["f.bin"])
      const ranges = yield* rangesOf(server, "/files/f.bin")
      assert.deepStrictEqual(ranges, [undefined, `bytes=${done}-${size - 1}`])
    }).pipe(Effect.scoped),
  60_000
)

// --- SIGINT -------------------------------------------------------------------

it.live(
  "Ctrl-C (SIGINT) after 2 MiB of an 8 MiB download: the child exits 130, no destination, a .part whose sidecar counts every byte received; the next run resumes with the rest only",
  () =>
    Effect.gen(function*() {
      const size = 8 * MiB
      const seed = 13
      const expected = Content.digest(seed, 0, size)
      const server = yield* TestServer.make()
      const folder = yield* tempFolder
      const path = Path.join(folder, "i.bin")
      const url = server.urlFor(`/files/i.bin?size=${size}&seed=${seed}&rate=${4 * MiB}`)

      const { done, seen } = yield* Effect.scoped(Effect.gen(function*() {
        const child = yield* startChild(url, path, expected)
        const line = yield* child.until("progress to 2 MiB", (line) =>
          line.event === "progress" && line.bytes! >= 2 * MiB)
        yield* child.kill("SIGINT")
        const ended = yield* child.ended
        assert.deepStrictEqual(ended, { code: 130, signal: null }, child.diagnostics())
        assert.isUndefined(
          child.lines.find((line) =>
            line.event === "done"
          ),
          "the child finished before Ctrl-C"
        )
        const state = yield* snapshot(folder, path)
        assertResumable("after SIGINT", state, "i.bin", seed, size)
        assert.deepStrictEqual(state.names, ["i.bin.part", "i.bin.part.json"])
        return { done: doneOf(state), seen: line.bytes! }
      }))
      // The interruption ran the last checkpoint: at least what the child had reported is recorded.
      assert.isAtLeast(done, seen)
      assert.isBelow(done, size)

      const child = yield* startChild(url, path, expected)
      const line = yield* child.until("the done line", (line) => line.event === "done")
      assert.deepStrictEqual(yield* child.ended, { code: 0, signal: null }, child.diagnostics())
      const result = line.result!
      const state = yield* snapshot(folder, path)
      assert.deepStrictEqual(state.destination, { size, sha256: expected })
      assert.isTrue(result.resumed)
      assert.strictEqual(result.bytesTransferred, size - done)
      assert.deepStrictEqual(state.names, ["i.bin"])
      assert.deepStrictEqual(yield* rangesOf(server, "/files/i.bin"), [undefined, `bytes=${done}-${size - 1}`])
    }).pipe(Effect.scoped),
  120_000
)
