/**
 * The polluted half of `pollution.test.ts`, run as a child process (polluting
 * `Object.prototype` inside the vitest worker would reach vitest itself).
 *
 * For each key named on the command line it prepares a folder of its own
 * (an existing destination, a symbolic link to a file outside, a `.part` and
 * sidecar to resume), sets `Object.prototype[key]` to a hostile value, runs
 * what a user runs (a client, a downloader and a memory queue built while
 * polluted; `download`, `downloadAll`, `retryFailed`, the queue's workers,
 * `Progress.meter`, `FileName.choose`), deletes the key again, and prints one
 * line: what each call returned (result fields or error tags), what is on
 * disk afterwards (names and sha256s, the outside file's content), and how
 * often a planted function ran. The parent owns the test server, which
 * records the requests, and judges.
 *
 * Usage: `node pollutionChild.ts <json>` with `{ url, folder, outside, keys }`;
 * `keys` may include `""` for an unpolluted baseline.
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Content from "@httpkit/testing/Content"
import { Context, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as Downloader from "../../src/Downloader.ts"
import * as DownloadQueue from "../../src/DownloadQueue.ts"
import * as FileName from "../../src/FileName.ts"
import * as HashFollower from "../../src/internal/hashFollower.ts"
import * as Progress from "../../src/Progress.ts"
import * as Kit from "./pollutionChildKit.ts"

interface Input {
  /** The test server. */
  readonly url: string
  /** Where each key gets a folder of its own. */
  readonly folder: string
  /** A folder outside, for the files symbolic links point to. */
  readonly outside: string
  readonly keys: ReadonlyArray<string>
}

const input = Kit.input<Input>()

/** How often each planted function ran, for the key being polluted. */
let planted: Record<string, number> = Object.create(null)
const spy = (name: string) => (..._args: Array<unknown>) => {
  planted[name] = (planted[name] ?? 0) + 1
  return undefined
}

/** A hostile value for `key`: what would change a download most if the downloader picked it up. */
const hostile = (key: string): unknown => {
  switch (key) {
    case "overwrite":
    case "allowSymlinks":
    case "allowSymlink":
    case "createFolders":
      return true
    case "ifExists":
      return "overwrite"
    case "checksum":
      return `sha256:${"0".repeat(64)}`
    case "algorithm":
      return "md5"
    case "expected":
      return "0".repeat(64)
    case "segments":
      return 4
    case "segmentThreshold":
      return 1
    case "headers":
      return { "x-polluted": "headers", authorization: "Bearer polluted" }
    case "resume":
    case "restartOnChange":
    case "metrics":
      return false
    case "maxRestarts":
      return 0
    case "maxStalls":
      return 1
    case "writeBatch":
    case "maxBytes":
      return 3
    case "progressInterval":
    case "checkpointInterval":
    case "intervalMillis":
    case "windowMillis":
      return 1
    case "onProgress":
    case "onStart":
    case "onSuccess":
    case "onError":
      return spy(key)
    case "options":
      return {
        ifExists: "overwrite",
        allowSymlinks: true,
        createFolders: true,
        resume: false,
        segments: 4,
        headers: { "x-polluted": "options" }
      }
    case "concurrency":
    case "perHostConcurrency":
      return "polluted"
    case "id":
      return "polluted-id"
    case "until":
      return "shutdown"
    case "mode":
      return "park"
    case "capacity":
      return 1
    case "maxAttempts":
      return 1
    case "retryDelay":
    case "maxRetryDelay":
      return "1 hour"
    case "maxDeadLetters":
    case "maxIds":
      return 0
    // The options Node's `Worker` reads (the checksum's worker thread): each one a value Node takes.
    case "execArgv":
      return ["--max-old-space-size=16"]
    case "argv":
    case "env":
    case "transferList":
      return "polluted"
    case "name":
      return 5
    case "resourceLimits":
      return { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1, stackSizeMb: 0.5 }
    case "trackUnmanagedFds":
    case "eval":
      return false
    case "workerData":
      return { path: "/etc/hostname", algorithm: "md5" }
    case "digest":
      return "0".repeat(64)
    case "fallback":
      return "polluted-fallback.bin"
    case "contentDisposition":
    case "content-disposition":
      return "attachment; filename=\"polluted-disposition.bin\""
    case "size":
    case "end":
    case "start":
    case "done":
      return 1
    case "version":
      return 2
    case "problems":
      return "polluted problems"
    case "etag":
    case "if-range":
      return "\"polluted\""
    case "lastModified":
    case "last-modified":
    case "date":
      return "Mon, 01 Jan 2001 00:00:00 GMT"
    case "content-range":
      return "bytes 0-0/1"
    case "content-length":
      return "1"
    case "content-encoding":
    case "accept-encoding":
      return "gzip"
    case "accept-ranges":
      return "none"
    case "range":
      return "bytes=0-0"
    default:
      return true
  }
}

/** A call's result or its error's tag (and OS code), given up after 20 s. */
const outcome = <A>(effect: Effect.Effect<A, unknown, never>) => Kit.outcome(effect, 20, true)

/** What a result says, without times and speeds. */
const summary = (result: {
  readonly bytes: number
  readonly bytesTransferred: number
  readonly verified: boolean
  readonly resumed: boolean
  readonly restarts: number
  readonly continuations: number
  readonly segments: number
  readonly skipped: boolean
  readonly path: string
  readonly checksum?: { readonly algorithm: string; readonly digest: string } | undefined
}) => ({
  name: Path.basename(result.path),
  bytes: result.bytes,
  bytesTransferred: result.bytesTransferred,
  verified: result.verified,
  resumed: result.resumed,
  restarts: result.restarts,
  continuations: result.continuations,
  segments: result.segments,
  skipped: result.skipped,
  // Read by own key, as the downloader must: a field the result lacks would otherwise show the polluted value.
  checksum: Object.hasOwn(result, "checksum") && result.checksum !== undefined
    ? `${result.checksum.algorithm}:${result.checksum.digest}`
    : null
})

const { fields } = Kit

/** Every file under `folder`, with its sha256 (a link with its target), sorted. */
const contents = async (folder: string): Promise<Array<string>> => {
  const out: Array<string> = []
  const walk = async (dir: string, prefix: string) => {
    for (const entry of await Fs.readdir(dir, { withFileTypes: true })) {
      const full = Path.join(dir, entry.name)
      const shown = `${prefix}${entry.name}`
      if (entry.isSymbolicLink()) out.push(`${shown} -> ${Path.basename(await Fs.readlink(full))}`)
      else if (entry.isDirectory()) await walk(full, `${shown}/`)
      // A part left by a broken download: its length depends on the wire; its sidecar's fields must not.
      else if (entry.name.endsWith(".part")) out.push(shown)
      else if (entry.name.endsWith(".part.json")) {
        const sidecar = JSON.parse(await Fs.readFile(full, "utf8")) as { segments: Array<object> }
        out.push(`${shown} {${fields(sidecar)}} [${sidecar.segments.map(fields).join(" ")}]`)
      } else out.push(`${shown} ${createHash("sha256").update(await Fs.readFile(full)).digest("hex").slice(0, 16)}`)
    }
  }
  await walk(folder, "")
  return out.toSorted()
}

/** How many of this process's file descriptors are open on `path` (-1 without `/proc`). */
const descriptorsOn = async (path: string): Promise<number> => {
  let names: Array<string>
  try {
    names = await Fs.readdir("/proc/self/fd")
  } catch {
    return -1
  }
  let count = 0
  for (const name of names) {
    const target = await Fs.readlink(`/proc/self/fd/${name}`).catch(() => "")
    if (target === path) count++
  }
  return count
}

/** Polls `check` every 20 ms until it holds or `millis` pass; whether it held. */
const eventually = async (check: () => Promise<boolean>, millis: number): Promise<boolean> => {
  const deadline = Date.now() + millis
  while (!(await check())) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/**
 * The checksum's worker thread on its own: the digest of a whole file, of a
 * file shorter than asked (the worker's error must not read as a digest), and
 * a worker ended while its file is open (Node must close the file).
 */
const hashWorker = async (dir: string) => {
  const path = Path.join(dir, "hash-probe.bin")
  const bytes = Content.bytesAt(14, 0, 100_000)
  await Fs.writeFile(path, bytes)
  const whole = HashFollower.threaded(path, "sha256", () => bytes.length)
  const digest = await whole.digest(bytes.length).then(
    (digest) => digest === Content.digest(14, 0, bytes.length) ? "matches" : `wrong ${digest}`,
    (error: { readonly code?: unknown }) => `failed ${String(error.code)}`
  )
  whole.close()
  const short = HashFollower.threaded(path, "sha256", () => 0)
  const shortFile = await short.digest(bytes.length + 10).then(
    (digest) => `resolved ${digest}`,
    (error: { readonly code?: unknown }) => `failed ${String(error.code)}`
  )
  short.close()
  const ended = HashFollower.threaded(path, "sha256", () => 0)
  const opened = await eventually(async () => (await descriptorsOn(path)) === 1, 10_000)
  ended.close()
  await eventually(async () => (await descriptorsOn(path)) === 0, 3_000)
  return { digest, shortFile, opened, leftOpen: await descriptorsOn(path) }
}

/**
 * A `.part` at `path` holding the first `done` bytes of the test server's file (`/files/<name>`), and its sidecar
 * naming `url`, the file's strong ETag and, when `known`, its size.
 */
const leavePart = async (
  path: string,
  url: string,
  file: { readonly name: string; readonly size: number; readonly seed: number },
  done: number,
  known = true
) => {
  await Fs.writeFile(`${path}.part`, Content.bytesAt(file.seed, 0, done))
  await Fs.writeFile(
    `${path}.part.json`,
    JSON.stringify({
      version: 1,
      url,
      ...(known ? { size: file.size } : {}),
      etag: Content.entityTag({ ...file, encoding: "identity" }),
      segments: [{ start: 0, ...(known ? { end: file.size } : {}), done }]
    })
  )
}

/**
 * The folder of one key: an existing file, a link to a file outside, `.part`s of `resume.bin` and `open.bin` (of
 * unknown length) with their sidecars.
 */
const prepare = async (marker: string) => {
  const dir = Path.join(input.folder, marker)
  await Fs.mkdir(dir)
  const victim = Path.join(input.outside, `${marker}-victim.txt`)
  await Fs.writeFile(victim, "keep me")
  await Fs.writeFile(Path.join(dir, "existing.bin"), "previous")
  await Fs.writeFile(Path.join(dir, "existing2.bin"), "previous")
  await Fs.writeFile(Path.join(dir, "existing3.bin"), "previous")
  await Fs.symlink(victim, Path.join(dir, "link.bin"))
  const resumeUrl = `${input.url}/files/${marker}-r.bin?size=300000&seed=4&probe=${marker}`
  await leavePart(Path.join(dir, "resume.bin"), resumeUrl, { name: `${marker}-r.bin`, size: 300_000, seed: 4 }, 100_000)
  // A file of unknown length (chunked, 206 totals `*`): its sidecar has neither `size` nor an `end`.
  const openUrl =
    `${input.url}/files/${marker}-u.bin?size=200000&seed=5&chunked=1&range_total_unknown=1&probe=${marker}`
  await leavePart(
    Path.join(dir, "open.bin"),
    openUrl,
    { name: `${marker}-u.bin`, size: 200_000, seed: 5 },
    80_000,
    false
  )
  return { dir, victim, resumeUrl, openUrl }
}

/** What a user does, with every piece built while `Object.prototype` is polluted. */
const calls = (marker: string, dir: string, resumeUrl: string, openUrl: string) =>
  Effect.scoped(Effect.gen(function*() {
    const file = (name: string, query: string) => `${input.url}/files/${marker}-${name}?${query}&probe=${marker}`
    const client = yield* ResilientClient.make({ retry: { maxAttempts: 2, minDelay: 1, maxDelay: 5 } })
    const downloader = yield* Effect.provideService(
      Downloader.make({ checkpointInterval: 50, progressInterval: 20 }),
      ResilientClient.ResilientClient,
      client
    )
    const bare = yield* Effect.provideService(Downloader.make(), ResilientClient.ResilientClient, client)
    const impatient = yield* Effect.provideService(
      Downloader.make({ maxStalls: 1 }),
      ResilientClient.ResilientClient,
      client
    )
    const fromEnv = yield* Effect.provideService(
      Layer.build(Downloader.layerConfig()).pipe(Effect.map((context) => Context.get(context, Downloader.Downloader))),
      ResilientClient.ResilientClient,
      client
    )
    const at = (name: string) => Path.join(dir, name)
    const result = <E>(effect: Effect.Effect<Parameters<typeof summary>[0], E>) => outcome(Effect.map(effect, summary))

    const plain = yield* result(
      downloader.download(file("a.bin", "size=4194304&seed=1"), at("a.bin"), { headers: { "x-user": "1" } })
    )
    const checksumObject = yield* result(
      bare.download(file("c.bin", "size=2000&seed=2"), at("c.bin"), { checksum: { algorithm: "sha256" } })
    )
    const existing = yield* result(downloader.download(file("e.bin", "size=1000&seed=3"), at("existing.bin")))
    const symlink = yield* result(downloader.download(file("l.bin", "size=1000&seed=3"), at("link.bin")))
    const resumed = yield* result(downloader.download(resumeUrl, at("resume.bin")))
    const resumedOpen = yield* result(downloader.download(openUrl, at("open.bin")))
    const missingFolder = yield* result(
      downloader.download(file("mf.bin", "size=1000&seed=3"), Path.join(dir, "missing", "mf.bin"))
    )
    const createdFolder = yield* result(
      downloader.download(file("cf.bin", "size=1000&seed=3"), Path.join(dir, "made", "deeper", "cf.bin"), {
        createFolders: true
      })
    )
    const intoFolder = yield* result(downloader.download(file("named.bin", "size=1000&seed=6"), `${dir}/`))
    const unnamed = yield* result(downloader.download(`${input.url}/?probe=${marker}`, `${dir}/`))
    // A body broken once, with no continuation allowed: the part and its sidecar stay.
    const broken = yield* result(
      impatient.download(file("br.bin", "size=300000&seed=12&no_etag=1&drop_after=100000&drop_times=1"), at("br.bin"))
        .pipe(
          Effect.mapError((error) =>
            error._tag === "ConnectionError" || error._tag === "BodyLengthError" ? "a broken body" : error
          )
        )
    )
    const changed = yield* result(
      downloader.download(
        file("m.bin", "size=300000&seed=7&mutate=1&drop_after=100000&drop_times=1"),
        at("m.bin")
      )
    )
    // Of unknown length, so hashed by a worker thread while it arrives.
    const hashed = yield* result(
      downloader.download(file("h.bin", "size=300000&seed=13&chunked=1"), at("h.bin"), {
        checksum: `sha256:${Content.digest(13, 0, 300_000)}`
      })
    )
    const worker = yield* outcome(Effect.tryPromise(() => hashWorker(dir)))

    const batch = yield* outcome(Effect.gen(function*() {
      const first = yield* downloader.downloadAll([
        { url: file("b1.bin", "size=1000&seed=8"), destination: at("b1.bin") },
        { url: `${input.url}/status/404?probe=${marker}`, destination: at("b2.bin") },
        { url: file("b3.bin", "size=1000&seed=9"), destination: at("existing2.bin") }
      ])
      const again = yield* downloader.retryFailed(first)
      const view = (batch: typeof first) => ({
        succeeded: batch.succeeded.map(summary),
        failed: batch.failed.map((failure) => ({
          index: failure.index,
          id: Object.hasOwn(failure, "id") ? failure.id : null,
          checksum: Object.hasOwn(failure, "checksum") ? failure.checksum : null,
          error: failure.error._tag
        })),
        successRate: batch.successRate
      })
      return { first: view(first), again: view(again) }
    }))

    const queue = yield* outcome(Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(
        DownloadQueue.layerMemory({ retryDelay: "20 millis", maxRetryDelay: "50 millis" })
      )
      const queue = Context.get(context, DownloadQueue.DownloadQueue)
      const offered = yield* queue.offerAll([
        { id: "q1", url: file("q1.bin", "size=1000&seed=10"), destination: at("q1.bin") },
        { id: "q2", url: `${input.url}/status/503?probe=${marker}`, destination: at("q2.bin") },
        { id: "q3", url: file("q3.bin", "size=1000&seed=11"), destination: at("existing3.bin") }
      ])
      // A task without an id: a typed error, built without the polluted prototype's fields.
      const invalid = yield* outcome(
        Effect.map(
          Effect.flip(queue.offer({ id: "", url: file("q4.bin", "size=10"), destination: at("q4.bin") })),
          (error) => ({ tag: error._tag, fields: Object.keys(error).toSorted() })
        )
      )
      const report = yield* queue.runWorkers({ until: "idle" }).pipe(
        Effect.provideService(Downloader.Downloader, downloader)
      )
      const letters = yield* queue.deadLetters
      const shutdown = yield* queue.shutdown({})
      return {
        offered,
        invalid,
        report,
        deadLetters: letters.map((letter) => ({
          id: letter.task.id,
          attempts: letter.attempts,
          error: letter.error._tag
        })),
        shutdown: { mode: shutdown.mode, parked: shutdown.parked.length }
      }
    })))

    // A meter fed fixed times and byte counts gives the same events every time.
    const meter = Progress.meter({
      url: "http://example.test/x",
      destination: "/x",
      total: 10_000,
      startedAt: 0,
      initialBytes: 0
    })
    const events: Array<unknown> = []
    for (let t = 50; t <= 10_000; t += 50) {
      const event = meter.update(t * (t < 5_000 ? 2 : 0.5), t)
      if (event !== undefined) events.push({ bytes: event.bytes, speed: event.bytesPerSecond, eta: event.etaSeconds })
    }
    // Effect's own concurrent `forEach`, for the parent to tell Effect's traps from ours.
    let ran = 0
    yield* Effect.forEach([1, 2, 3], () => Effect.sync(() => ran++), { concurrency: 2, discard: true })
    const names = [
      FileName.choose({ url: "http://example.test/" }),
      FileName.choose({ url: "http://example.test/report.pdf" }),
      FileName.sanitize("a-rather-long-name.bin", {})
    ]

    return {
      plain,
      checksumObject,
      existing,
      symlink,
      resumed,
      resumedOpen,
      missingFolder,
      createdFolder,
      intoFolder,
      unnamed,
      broken,
      changed,
      hashed,
      worker,
      batch,
      queue,
      meter: events,
      names,
      effectForEach: ran,
      config: { layer: downloader.config, bare: bare.config, fromEnv: fromEnv.config }
    }
  }))

/**
 * Keys whose pollution breaks Node itself, whatever a library does: Node's
 * `Readable` keeps its listeners in an object literal, so
 * `Object.prototype.resume = false` is taken for a "resume" listener and every
 * stream crashes. For these the hostile value is seen only by httpkit's own
 * sources (the reading frame is under `packages/.../src/`); Node and its
 * dependencies read `undefined`, as without pollution.
 */
const seenOnlyByHttpkit: ReadonlySet<string> = new Set(["resume"])

/** Whether the code reading a property (two frames up: past this function and the getter) is httpkit's own. */
const readByHttpkit = (): boolean => {
  const frame = new Error().stack?.split("\n")[3] ?? ""
  return /\/packages\/[a-z-]+\/src\//.test(frame) && !frame.includes("node_modules")
}

/** Sets `Object.prototype[key]` to its hostile value. */
const pollute = (proto: Record<string, unknown>, key: string): void => {
  const value = hostile(key)
  if (!seenOnlyByHttpkit.has(key)) {
    proto[key] = value
    return
  }
  Object.defineProperty(proto, key, {
    configurable: true,
    enumerable: false,
    get: () => (readByHttpkit() ? value : undefined),
    // An assignment (`stream.resume = ...`) makes an own property, as it would without the accessor.
    set(this: object, own: unknown) {
      Object.defineProperty(this, key, { value: own, writable: true, enumerable: true, configurable: true })
    }
  })
}

await Kit.forEachKey(input.keys, "k", "@@pollution ", async (key, marker) => {
  planted = Object.create(null)
  const { dir, openUrl, resumeUrl, victim } = await prepare(marker)
  const proto = Object.prototype as Record<string, unknown>
  if (key !== "") pollute(proto, key)
  let result: unknown
  try {
    result = await Kit.settled(() => Effect.runPromise(calls(marker, dir, resumeUrl, openUrl)))
  } finally {
    if (key !== "") delete proto[key]
  }
  const files = await contents(dir)
  const outside = await Fs.readFile(victim, "utf8")
  return { planted, files, outside, ...(result as object) }
})
