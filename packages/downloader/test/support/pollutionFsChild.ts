/**
 * The polluted half of `pollutionFs.test.ts`, run as a child process
 * (polluting `Object.prototype` inside the vitest worker would reach vitest
 * itself).
 *
 * For each case (a name and a value) it sets `Object.prototype[name]` to the
 * value, builds a client and a downloader with metrics and tracing on (a
 * recording tracer), downloads a file whose body breaks once (a continuation:
 * the lock, the sidecar's checkpoint, the `.part`'s writes and syncs),
 * resumes a `.part` left with its sidecar by an earlier run (the sidecar read
 * back), makes one client `GET`, deletes the key again, and prints one line:
 * what each call gave (result fields or error tag and message), what is on
 * disk (names and sha256s: no `.part.lock` or sidecar left), the names of the
 * spans made and the attribute names of the `Downloader.download` span, and
 * the httpkit metric series recorded (names, attribute names, the type of
 * every number). Each case's client has a name of its own, so its series are
 * made while polluted; the downloader's are made by the first case of a
 * process (the parent runs one process per name). The parent owns the test
 * server, which records the requests, and judges.
 *
 * Usage: `node pollutionFsChild.ts <json>` with `{ url, folder, cases }`,
 * `cases` an array of `{ name, value }`; a `name` of `""` is the unpolluted
 * baseline.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import * as TracingTest from "@httpkit/testing/TracingTest"
import { Cause, Effect, Exit, Layer, Metric } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../../src/Downloader.ts"

// Node makes its stdio streams on first use: make them now, before any key is polluted.
const stdout = process.stdout
const stderr = process.stderr

interface Case {
  readonly name: string
  readonly value: unknown
}

interface Input {
  /** The test server. */
  readonly url: string
  /** Where each case gets a folder of its own. */
  readonly folder: string
  readonly cases: ReadonlyArray<Case>
}

const input = JSON.parse(process.argv[2]!) as Input

/** The size of the downloaded files. */
const size = 300_000

/** A call's result fields, or its error's tag and message. */
const outcome = <A>(effect: Effect.Effect<A, unknown>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (Exit.isSuccess(exit)) return { ok: exit.value as unknown }
    const error = Cause.squash(exit.cause) as { readonly _tag?: unknown; readonly message?: unknown }
    return { failed: `${String(error?._tag)} ${String(error?.message ?? error)}` }
  })

/** Every file under `dir`, with its sha256. */
const contents = async (dir: string) => {
  const out: Record<string, string> = {}
  for (const name of (await Fs.readdir(dir, { recursive: true })).toSorted()) {
    const path = Path.join(dir, name)
    if ((await Fs.lstat(path)).isFile()) out[name] = createHash("sha256").update(await Fs.readFile(path)).digest("hex")
    else out[name] = "not a file"
  }
  return out
}

/** The httpkit series recorded: name, type, attribute names and the type of every number of its state. */
const series = Effect.map(Metric.snapshot, (snapshots) =>
  snapshots
    .filter((snapshot) => snapshot.id.startsWith("httpkit_"))
    .map((snapshot) =>
      JSON.stringify({
        id: snapshot.id,
        type: snapshot.type,
        attributes: Object.keys(snapshot.attributes ?? {}).toSorted(),
        state: JSON.parse(
          JSON.stringify(
            snapshot.state,
            (_key, value) => typeof value === "number" || typeof value === "bigint" ? typeof value : value
          )
        ) as unknown
      })
    )
    .filter((line, index, lines) => lines.indexOf(line) === index)
    .toSorted())

/** What a run interrupted at `done` leaves (as `resume.test.ts` makes it): the content's first bytes in `.part`, and its sidecar. */
const leavePart = async (url: string, name: string, path: string, seed: number, done: number) => {
  await Fs.writeFile(`${path}.part`, Content.bytesAt(seed, 0, done))
  const etag = Content.entityTag({ name, size, seed, encoding: "identity" })
  await Fs.writeFile(
    `${path}.part.json`,
    JSON.stringify({ version: 1, url, size, etag, segments: [{ start: 0, end: size, done }] })
  )
}

/** The file resumed from a `.part` left by an earlier run. */
const resumedUrl = (marker: string) => `${input.url}/files/${marker}-resumed.bin?size=${size}&seed=5`

/** What a user does, with the client and downloader built while `Object.prototype` is polluted. */
const calls = (marker: string, dir: string) => {
  const { spans, tracer } = TracingTest.recordingTracer()
  const file = (name: string, query: string) => `${input.url}/files/${marker}-${name}.bin?size=${size}&${query}`
  return Effect.gen(function*() {
    const downloader = yield* Downloader.Downloader
    const client = yield* ResilientClient.ResilientClient
    const continued = yield* outcome(
      downloader.download(file("continued", "seed=4&drop_after=100000&drop_times=1"), Path.join(dir, "continued.bin"), {
        checksum: `sha256:${Content.digest(4, 0, size)}`
      }).pipe(
        Effect.map((result) => ({
          bytes: result.bytes,
          verified: result.verified,
          continuations: result.continuations
        }))
      )
    )
    const resumed = yield* outcome(
      downloader.download(resumedUrl(marker), Path.join(dir, "resumed.bin"), {
        checksum: `sha256:${Content.digest(5, 0, size)}`
      }).pipe(Effect.map((result) => ({
        bytes: result.bytes,
        verified: result.verified,
        resumed: result.resumed,
        transferred: result.bytesTransferred
      })))
    )
    const get = yield* outcome(
      Effect.flatMap(
        client.get(`${input.url}/status/200?probe=${marker}`),
        (response) => Effect.map(response.text, (text) => ({ status: response.status, bytes: text.length }))
      )
    )
    return {
      continued,
      resumed,
      get,
      spans: spans.map((span) => span.name).toSorted(),
      spanAttributes: spans.map((span) => `${span.name}: ${[...span.attributes.keys()].toSorted().join(",")}`)
        .toSorted()
    }
  }).pipe(
    Effect.withTracer(tracer),
    Effect.provide(
      Downloader.layer({ createFolders: true }).pipe(
        // A client of its own per case: its metric series are made while polluted.
        Layer.provideMerge(ResilientClient.layer({ name: marker, retry: { minDelay: 10, maxDelay: 20 } }))
      )
    )
  )
}

for (const { name, value } of input.cases) {
  const marker = `k_${name.replace(/[^A-Za-z0-9]/g, "_")}_${typeof value}`
  stderr.write(`[child] start ${name}=${JSON.stringify(value)}\n`)
  const dir = Path.join(input.folder, marker)
  await Fs.mkdir(dir, { recursive: true })
  await leavePart(resumedUrl(marker), `${marker}-resumed.bin`, Path.join(dir, "resumed.bin"), 5, 120_000)
  const proto = Object.prototype as Record<string, unknown>
  if (name !== "") proto[name] = value
  let result: unknown
  try {
    result = await Effect.runPromise(calls(marker, dir)).catch((error: unknown) => ({ threw: String(error) }))
  } finally {
    if (name !== "") delete proto[name]
  }
  const metrics = await Effect.runPromise(series)
  stdout.write(
    `@@pollutionFs ${
      JSON.stringify({ name, value, marker, ...(result as object), files: await contents(dir), metrics })
    }\n`
  )
}
