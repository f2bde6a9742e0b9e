/**
 * RELIABILITY 10 for downloads: every options object is read by its own keys
 * only, so a polluted `Object.prototype` changes no download.
 *
 * One child process (`support/pollutionChild.ts`) takes each name below in
 * turn, sets `Object.prototype[name]` to a hostile value (`ifExists:
 * "overwrite"`, `allowSymlinks: true`, a wrong checksum, extra headers, an
 * `options` record for batches, planted callbacks...), builds a client, a
 * downloader and a memory queue and runs a user's downloads while polluted,
 * then deletes the key. The test server runs here, unpolluted, and records
 * what reached it. Each name must leave everything as the unpolluted
 * baseline had it: what the server saw (methods, paths, queries, header names
 * and values), what the caller got (result fields, error tags), what is on
 * disk afterwards (an existing destination kept, a link not followed, the
 * file outside untouched), and no planted function called.
 *
 * The names: every per-download option (and `overwrite`, `allowSymlink`, the
 * names a user might guess), every layer option, the options of
 * `downloadAll`, the queue's store and worker options, the task fields, the
 * checksum object's fields, the options of `Progress.meter` and
 * `FileName.choose`, the sidecar's fields, the response and request headers
 * the downloader reads or sets, and the options Node's `Worker` reads (the
 * checksum's worker thread) with the field of its answer. The queue over
 * Redis has a test of its own (`queuePollution.test.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { mkdirSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Runs from "./support/pollutionRuns.ts"
import { assertLikeBaseline } from "./support/pollutionRuns.ts"

/** `DownloadOptions`, with the names a user might write for them. */
const downloadNames = [
  "checksum",
  "resume",
  "ifExists",
  "overwrite",
  "headers",
  "segments",
  "onProgress",
  "restartOnChange",
  "allowSymlinks",
  "allowSymlink",
  "createFolders"
]

/** `DownloadConfig.Options` beyond those, and the checksum object's fields. */
const configNames = [
  "segmentThreshold",
  "maxRestarts",
  "maxStalls",
  "progressInterval",
  "checkpointInterval",
  "writeBatch",
  "metrics",
  "algorithm",
  "expected"
]

/** `BatchOptions`, `WorkerOptions`, the queue store's options, task fields, `shutdown`'s, an error's optional field. */
const batchAndQueueNames = [
  "concurrency",
  "perHostConcurrency",
  "options",
  "onStart",
  "onSuccess",
  "onError",
  "id",
  "until",
  "mode",
  "capacity",
  "maxAttempts",
  "retryDelay",
  "maxRetryDelay",
  "maxDeadLetters",
  "maxIds",
  "problems"
]

/** `Progress.meter`'s and `FileName.choose`'s options, the sidecar's fields, headers read and set. */
const internalNames = [
  "intervalMillis",
  "windowMillis",
  "fallback",
  "contentDisposition",
  "maxBytes",
  "size",
  "start",
  "end",
  "done",
  "version",
  "etag",
  "lastModified",
  "content-disposition",
  "content-range",
  "content-length",
  "content-encoding",
  "accept-ranges",
  "last-modified",
  "date",
  "range",
  "if-range",
  "accept-encoding"
]

/**
 * What Node 24's `Worker` reads from its options (every name, found with a
 * `Proxy`: a polluted one would set the checksum thread's `env`, `argv`,
 * heap limits, or leave its file open when it ends), and the field of the
 * thread's answer that says it is a digest.
 */
const workerNames = [
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
  "workerData",
  "digest"
]

const names = [
  ...new Set([...downloadNames, ...configNames, ...batchAndQueueNames, ...internalNames, ...workerNames])
]

/**
 * Calls that a key breaks inside Effect, whatever the downloader does, left
 * out of that key's comparison: Effect 4.1's concurrent `forEach` reads `end`
 * from an options literal of its own, so `Object.prototype.end` stops every
 * concurrent `forEach` after its first item (a batch runs its first task only;
 * a segmented download would fetch its first segment only); the test "an
 * Effect trap" below pins it. (`resume` breaks Node's streams, so the child
 * shows its value to httpkit's sources only.)
 */
const brokenByEffect: Readonly<Record<string, ReadonlyArray<string>>> = { end: ["batch", "effectForEach"] }

/** The requests of the child's batch (its three tasks and their retry), as `seen` shows them. */
const batchRequest = /\/files\/MARKER-b[13]\.bin|\/status\/404/

/** How long the child may take over every name. */
const childTimeout = 540_000

interface Call {
  readonly ok: boolean
  readonly value?: Record<string, unknown>
  readonly error?: string
}

interface Outcome extends Runs.Outcome {
  readonly planted: Record<string, number>
  readonly files: ReadonlyArray<string>
  readonly outside: string
  readonly threw?: string
  readonly hung?: boolean
  readonly [call: string]: unknown
}

/** What the server saw of one key's requests: an `If-Range` (an `ETag`, which hashes the file's name) reduced to its presence. */
const seen = (records: ReadonlyArray<Runs.Recorded>, marker: string) =>
  Runs.seen(records, marker, (name, value) => name === "if-range" ? "(an ETag)" : value)

const dir = mkdtempSync(join(tmpdir(), "httpkit-dl-pollution-"))
mkdirSync(join(dir, "in"))
mkdirSync(join(dir, "outside"))

/** The child over the baseline and every name; after a crash, again over the keys it did not reach. */
const world = Runs.pollutionWorld<Outcome>(["", ...names], dir, async (url) => ({
  script: join(import.meta.dirname, "support", "pollutionChild.ts"),
  input: (remaining) => ({ url, folder: join(dir, "in"), outside: join(dir, "outside"), keys: remaining }),
  tag: "@@pollution ",
  timeoutMillis: childTimeout,
  crashed: (key, stderr) => ({ key, marker: "", planted: {}, files: [], outside: "", crashed: stderr })
}))

describe("a polluted Object.prototype changes no download (RELIABILITY 10)", () => {
  it("the unpolluted baseline: every call as expected, so that the comparisons below mean something", {
    timeout: childTimeout
  }, async () => {
    const { outcomes, records, stderr } = await world()
    const baseline = outcomes.get("")
    assert.isDefined(baseline, stderr.slice(-2_000))
    const shown = Runs.view(baseline!) as Record<string, Call>
    assert.isUndefined(baseline!.threw ?? baseline!.crashed ?? baseline!.hung, stderr.slice(-2_000))
    const value = (call: string) => shown[call]?.value ?? {}
    assert.deepInclude(value("plain"), { bytes: 4_194_304, segments: 1, resumed: false, restarts: 0 })
    assert.deepInclude(value("checksumObject"), { verified: false, bytes: 2000 })
    assert.deepStrictEqual(shown["existing"], { ok: false, error: "DestinationExistsError" })
    assert.deepStrictEqual(shown["symlink"], { ok: false, error: "UnsafeFileNameError" })
    assert.deepInclude(value("resumed"), { resumed: true, bytesTransferred: 200_000, restarts: 0 })
    assert.deepInclude(value("resumedOpen"), { resumed: true, bytesTransferred: 120_000, restarts: 0 })
    assert.deepStrictEqual(shown["missingFolder"], { ok: false, error: "FileSystemError ENOENT" })
    assert.deepInclude(value("createdFolder"), { name: "cf.bin", bytes: 1000 })
    assert.deepInclude(value("intoFolder"), { name: "MARKER-named.bin" })
    assert.deepInclude(value("unnamed"), { name: "download" })
    assert.deepInclude(value("changed"), { restarts: 1, bytes: 300_000 })
    assert.deepStrictEqual(shown["broken"], { ok: false, error: "a broken body" })
    assert.deepInclude(value("hashed"), { bytes: 300_000, verified: true, segments: 1 })
    assert.deepStrictEqual(value("worker"), {
      digest: "matches",
      shortFile: "failed ESHORT",
      opened: true,
      leftOpen: 0
    })
    const batch = value("batch") as { first: { failed: Array<unknown> } }
    assert.deepStrictEqual(batch.first.failed, [
      { index: 1, id: null, checksum: null, error: "NotFoundError" },
      { index: 2, id: null, checksum: null, error: "DestinationExistsError" }
    ])
    const queue = value("queue") as { invalid: Call; report: unknown; deadLetters: unknown }
    assert.deepStrictEqual(queue.invalid.value, { tag: "DownloadConfigError", fields: ["_tag"] })
    assert.deepStrictEqual(queue.report, { succeeded: 2, skipped: 0, retried: 4, deadLettered: 1, parked: 0 })
    assert.deepStrictEqual(queue.deadLetters, [{ id: "q2", attempts: 5, error: "ServiceUnavailableError" }])
    assert.strictEqual(baseline!.outside, "keep me")
    assert.include(baseline!.files, "existing.bin 6da0633528deaa01")
    assert.include(baseline!.files, "link.bin -> MARKER-victim.txt".replace("MARKER", baseline!.marker))
    assert.deepStrictEqual(baseline!.planted, {})
    const requests = seen(records, baseline!.marker)
    assert.isAbove(requests.length, 20)
    assert.isFalse(requests.some((request) => request.includes("polluted")))
  })

  it(
    "an Effect trap: Object.prototype.end stops Effect 4.1's concurrent forEach after its first item (when this fails, Effect fixed it: compare end again)",
    {
      timeout: childTimeout
    },
    async () => {
      const { outcomes, stderr } = await world()
      assert.strictEqual(outcomes.get("")?.["effectForEach"], 3, stderr.slice(-2_000))
      assert.strictEqual(outcomes.get("end")?.["effectForEach"], 1, stderr.slice(-2_000))
    }
  )

  for (const name of names) {
    it(
      `Object.prototype[${
        JSON.stringify(name)
      }]: the server sees the same requests, the caller the same answers, the disk the same files`,
      {
        timeout: childTimeout
      },
      async () => {
        const run = await world()
        const leftOut = brokenByEffect[name] ?? []
        assertLikeBaseline(
          run,
          name,
          (marker) =>
            seen(run.records, marker).filter((request) => !leftOut.includes("batch") || !batchRequest.test(request)),
          leftOut
        )
      }
    )
  }
})
