import { afterAll, assert, describe, it } from "@effect/vitest"
import * as DurationInput from "@httpkit/core/DurationInput"
import { Effect, Layer } from "effect"
import { execFile, fork } from "node:child_process"
import { createHash, randomUUID } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import * as LocalDatabase from "../src/internal/localDatabase.ts"
import * as LimiterStore from "../src/LimiterStore.ts"
import * as LocalStore from "../src/LocalStore.ts"
import { busiestSpan, sleepLive, take, windowItem } from "./support/items.ts"
import type { Admission, WorkerConfig, WorkerMessage } from "./support/localWorker.ts"
import { assertOpenAtOnce } from "./support/processes.ts"
import { storeSuite } from "./support/storeSuite.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-local-store-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

/**
 * Copies what `support/localOpenAlone.ts` needs into `folder` (created, mode
 * 0755, every copy readable by all): the driver and the modules it imports,
 * at the same relative places, and the node binary running this
 * test (hard-linked when the file system allows, else copied), so another
 * user can run it without entering the checkout.
 */
const unprivilegedCopy = (folder: string) => {
  const here = Path.dirname(fileURLToPath(import.meta.url))
  const files = [
    "test/support/localOpenAlone.ts",
    "src/internal/localDatabase.ts",
    "src/internal/localWindow.ts",
    "src/internal/algorithm.ts"
  ]
  for (const file of files) {
    const target = Path.join(folder, file)
    Fs.mkdirSync(Path.dirname(target), { recursive: true, mode: 0o755 })
    Fs.copyFileSync(Path.join(here, "..", file), target)
    Fs.chmodSync(target, 0o644)
  }
  Fs.writeFileSync(Path.join(folder, "package.json"), `{ "type": "module" }\n`, { mode: 0o644 })
  const node = Path.join(folder, "node")
  // A hard link shares the binary's mode, so it serves only when everyone may run the binary already.
  let linked = false
  if ((Fs.statSync(process.execPath).mode & 0o005) === 0o005) {
    try {
      Fs.linkSync(process.execPath, node)
      linked = true
    } catch {
      // Another file system: copied below.
    }
  }
  if (!linked) {
    Fs.copyFileSync(process.execPath, node)
    Fs.chmodSync(node, 0o755)
  }
  for (const dir of ["", "test", "test/support", "src", "src/internal"]) Fs.chmodSync(Path.join(folder, dir), 0o755)
  return { folder, node, script: Path.join(folder, files[0]!) }
}

/** A fresh database path in the test folder. */
const freshPath = (label: string) => Path.join(root, `${label}-${randomUUID()}`, "limiter.sqlite")

storeSuite("local", LocalStore.layer({ path: freshPath("suite") }), {
  realClock: true,
  slackMillis: 2,
  pass: sleepLive,
  cancels: true
})

const digest = (path: string) => createHash("sha256").update(Fs.readFileSync(path)).digest("hex")

/** Builds the layer and returns its error (the layer must fail). */
const openFailure = (options: LocalStore.Options) => Effect.flip(Effect.scoped(Layer.build(LocalStore.layer(options))))

/**
 * The largest number of admissions certainly booked inside one span
 * `[t, t + spanMillis)`: those whose booking bounds both lie inside it.
 *
 * Why not wake-up times: a sliding window re-admits a burst exactly one
 * window after the previous one, slot for slot, so when one request of a
 * burst wakes a few milliseconds late and its successor a second later
 * does not, both fall in one span. Wake-up times of correct bookings then
 * show 51 to 55 in a span; the bookings themselves show at most 50.
 */
const busiestBookedSpan = (admissions: ReadonlyArray<Admission>, spanMillis: number): number => {
  let busiest = 0
  for (const { bookedFrom: start } of admissions) {
    let inside = 0
    for (const admission of admissions) {
      if (admission.bookedFrom >= start && admission.bookedTo < start + spanMillis) inside++
    }
    busiest = Math.max(busiest, inside)
  }
  return busiest
}

type Done = Extract<WorkerMessage, { _tag: "Done" }>

/** A running thread or process of `support/localWorker.ts`. */
interface Participant {
  readonly ready: Promise<void>
  readonly done: Promise<Done>
  readonly go: (at: number) => void
  readonly stop: () => Promise<void>
}

const workerUrl = new URL("./support/localWorker.ts", import.meta.url)

/** Wires a participant's messages to its `ready` and `done` promises. */
const track = (label: string) => {
  const ready = Promise.withResolvers<void>()
  const done = Promise.withResolvers<Done>()
  // Handled here so a failure before anyone awaits is not an unhandled rejection.
  ready.promise.catch(() => {})
  done.promise.catch(() => {})
  const fail = (error: unknown) => {
    ready.reject(error)
    done.reject(error)
  }
  return {
    ready: ready.promise,
    done: done.promise,
    onMessage: (message: WorkerMessage) => {
      if (message._tag === "Ready") ready.resolve()
      else if (message._tag === "Done") done.resolve(message)
      else if (message._tag === "Failed") fail(new Error(`${label} failed: ${message.error}`))
    },
    onExit: (code: number | null) => fail(new Error(`${label} exited (${code}) before it was done`)),
    fail
  }
}

const thread = (config: WorkerConfig, index: number): Participant => {
  const worker = new Worker(workerUrl, { workerData: config })
  const tracked = track(`thread ${index}`)
  worker.on("message", tracked.onMessage)
  worker.on("error", tracked.fail)
  worker.on("exit", tracked.onExit)
  return {
    ready: tracked.ready,
    done: tracked.done,
    go: (at) => worker.postMessage({ _tag: "Go", at } satisfies WorkerMessage, []),
    stop: () => worker.terminate().then(() => undefined)
  }
}

const child = (config: WorkerConfig, index: number): Participant => {
  const process = fork(fileURLToPath(workerUrl), [JSON.stringify(config)], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const tracked = track(`process ${index}`)
  process.on("message", (message) => tracked.onMessage(message as WorkerMessage))
  process.on("error", tracked.fail)
  process.on("exit", tracked.onExit)
  return {
    ready: tracked.ready,
    done: tracked.done,
    go: (at) => process.send({ _tag: "Go", at } satisfies WorkerMessage),
    stop: async () => {
      if (process.exitCode === null && process.signalCode === null) process.kill()
    }
  }
}

/**
 * Starts the participants, waits until every one has opened the store, starts
 * them together, and collects what each was admitted. They are stopped when
 * the test's scope closes, whatever happened.
 */
const runTogether = (participants: () => ReadonlyArray<Participant>) =>
  Effect.gen(function*() {
    const running = yield* Effect.acquireRelease(
      Effect.sync(participants),
      (running) => Effect.promise(() => Promise.all(running.map((participant) => participant.stop())))
    )
    yield* Effect.promise(() => Promise.all(running.map((participant) => participant.ready)))
    const at = Date.now() + 200
    for (const participant of running) participant.go(at)
    return yield* Effect.promise(() => Promise.all(running.map((participant) => participant.done)))
  })

/** Participants that wait for their slots of a window of `limit` per second, for `seconds` and a half. */
const waiting = (label: string, limit: number, seconds: number): WorkerConfig => ({
  path: freshPath(label),
  id: `${label}:${randomUUID()}`,
  limit,
  windowMillis: 1_000,
  runMillis: seconds * 1_000 + 500
})

/**
 * Asserts that the participants together were admitted `limit` per second:
 * `limit * seconds` (within 5%) in the first `seconds`, at most `limit`
 * (plus 5%) booked in any one second, and every participant had its share.
 */
const assertShared = (label: string, results: ReadonlyArray<Done>, limit: number, seconds: number) => {
  const admissions = results.flatMap((result) => result.admitted)
  const woke = admissions.map((admission) => admission.woke).toSorted((a, b) => a - b)
  const end = woke[0]! + seconds * 1_000
  const within = woke.filter((time) => time < end).length
  const booked = busiestBookedSpan(admissions, 1_000)
  const observed = busiestSpan(woke, 1_000)
  const shares = results.map((result) => result.admitted.filter((admission) => admission.woke < end).length)
  console.info(
    `${label}: ${within} admitted within ${seconds} s (${shares.join(" + ")}); busiest 1-second span: ` +
      `${booked} booked, ${observed} by wake-up time; ${woke.length} in all`
  )
  assert.ok(Math.abs(within - limit * seconds) <= limit * seconds * 0.05, `${within} admitted within ${seconds} s`)
  assert.ok(booked <= limit * 1.05, `${booked} booked within one second`)
  // Wake-ups jitter by a few milliseconds around the bursts (see busiestBookedSpan); copies of the
  // limit that were not shared would let through one limit per participant.
  assert.ok(observed < limit * 2, `${observed} let through within one second`)
  for (const share of shares) assert.ok(share > 0, "every participant was admitted")
}

describe("LocalStore", () => {
  it.live("creates a missing folder (0700) and the file (0600)", () =>
    Effect.gen(function*() {
      const path = Path.join(root, `created-${randomUUID()}`, "deeper", "limiter.sqlite")
      yield* LocalStore.make({ path })
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o600)
      assert.strictEqual(Fs.statSync(Path.dirname(path)).mode & 0o777, 0o700)
    }))

  it.live("the default file is per user, under the temporary folder", () =>
    Effect.sync(() => {
      const path = LocalStore.defaultPath()
      assert.strictEqual(Path.dirname(Path.dirname(path)), Os.tmpdir())
      assert.match(Path.basename(Path.dirname(path)), /^httpkit-[A-Za-z0-9._-]+$/)
      assert.strictEqual(Path.basename(path), "rate-limiter.sqlite")
    }))

  it.live("the default folder must belong to this user alone: a link or a shared folder is refused", () =>
    Effect.sync(() => {
      const real = Path.join(root, `real-${randomUUID()}`)
      Fs.mkdirSync(real, { mode: 0o700 })
      const link = Path.join(root, `link-${randomUUID()}`)
      Fs.symlinkSync(real, link)
      const shared = Path.join(root, `shared-${randomUUID()}`)
      Fs.mkdirSync(shared)
      Fs.chmodSync(shared, 0o777)
      for (const folder of [link, shared]) {
        assert.throws(
          () => LocalDatabase.open(Path.join(folder, "rate-limiter.sqlite"), 1_000, true),
          /not a folder of this user only/
        )
        assert.deepStrictEqual(Fs.readdirSync(folder), [])
      }
    }))

  it.live("a timeout that is no duration, or beyond SQLite's 2^31-1 ms, is refused in the one shape; no file is made", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        ["Infinity", `timeout is "Infinity", expected ${DurationInput.accepted}`],
        ["soon", `timeout is "soon", expected ${DurationInput.accepted}`],
        [-1, `timeout is -1, expected ${DurationInput.accepted}`],
        ["30d", "timeout is 2592000000 ms, expected a duration of at most 2147483647 ms (SQLite's busy timeout)"]
      ]
      for (const [timeout, problem] of cases) {
        const path = freshPath("bad-timeout")
        const error = yield* openFailure({ path, timeout: timeout as DurationInput.Input })
        assert.strictEqual(error._tag, "RateLimiterUnavailableError")
        assert.strictEqual(error.retryable, false)
        assert.strictEqual(error.detail, `invalid local store configuration: ${problem}`)
        assert.isFalse(Fs.existsSync(Path.dirname(path)))
      }
    }))

  it.live("a timeout of \"250ms\" is SQLite's busy timeout of 250 ms", () =>
    Effect.gen(function*() {
      const path = freshPath("short-timeout")
      const store = yield* LocalStore.make({ path, timeout: "250ms" })
      assert.strictEqual(store.backend, "local")
      const probe = new DatabaseSync(path)
      try {
        // A second connection holding the write lock makes the store wait its busy timeout, then fail.
        probe.exec("BEGIN IMMEDIATE")
        const started = performance.now()
        const error = yield* Effect.flip(store.block("k", 1_000))
        const waited = performance.now() - started
        probe.exec("ROLLBACK")
        assert.strictEqual(error._tag, "RateLimiterUnavailableError")
        assert.isAtLeast(waited, 200)
        assert.isBelow(waited, 5_000)
      } finally {
        probe.close()
      }
    }).pipe(Effect.scoped))

  it.live("names SQLite would read as a private database are files like any other", () =>
    Effect.gen(function*() {
      const folder = Path.join(root, `names-${randomUUID()}`)
      Fs.mkdirSync(folder)
      const cwd = process.cwd()
      process.chdir(folder)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.chdir(cwd)))
      for (const name of [":memory:", "file:limiter.sqlite?mode=memory"]) {
        const first = yield* LocalStore.make({ path: name })
        const second = yield* LocalStore.make({ path: name })
        const item = windowItem(`names:${randomUUID()}`, 1, 60_000)
        assert.strictEqual((yield* take(first, item))._tag, "Granted", name)
        assert.strictEqual((yield* take(second, item))._tag, "Refused", name)
        assert.ok(Fs.existsSync(Path.join(folder, name)), name)
      }
    }))

  it.live("two stores on one file share one state", () =>
    Effect.gen(function*() {
      const path = freshPath("shared")
      const first = yield* LocalStore.make({ path })
      const second = yield* LocalStore.make({ path })
      const item = windowItem(`shared:${randomUUID()}`, 2, 60_000)
      assert.strictEqual((yield* take(first, item))._tag, "Granted")
      assert.strictEqual((yield* take(second, item))._tag, "Granted")
      assert.strictEqual((yield* take(first, item))._tag, "Refused")
      assert.strictEqual((yield* take(second, item))._tag, "Refused")
      yield* first.block("shared-key", 60_000)
      const blocked = yield* take(second, windowItem(`other:${randomUUID()}`, 10, 1_000), "shared-key")
      assert.strictEqual(blocked._tag, "Refused")
      if (blocked._tag === "Refused") assert.strictEqual(blocked.item, -1)
      assert.strictEqual(
        (yield* first.lease({ id: "shared-lease", max: 1, token: "a", leaseMillis: 60_000 }))._tag,
        "Granted"
      )
      assert.strictEqual(
        (yield* second.lease({ id: "shared-lease", max: 1, token: "b", leaseMillis: 60_000 }))._tag,
        "Full"
      )
      yield* first.release("shared-lease", "a")
      assert.strictEqual(
        (yield* second.lease({ id: "shared-lease", max: 1, token: "b", leaseMillis: 60_000 }))._tag,
        "Granted"
      )
    }))

  it.live("ids with quotes, SQL and __proto__ are plain data", () =>
    Effect.gen(function*() {
      const store = yield* LocalStore.make({ path: freshPath("hostile") })
      const ids = ["__proto__", "constructor", `it's "quoted"'); DROP TABLE items; --`, "prototype\u0000nul"]
      for (const id of ids) {
        const item = windowItem(id, 1, 60_000)
        assert.strictEqual((yield* take(store, item))._tag, "Granted", id)
        assert.strictEqual((yield* take(store, item))._tag, "Refused", id)
        yield* store.block(id, 60_000)
        assert.strictEqual((yield* take(store, windowItem(`free:${randomUUID()}`, 1, 1_000), id))._tag, "Refused", id)
        assert.strictEqual((yield* store.lease({ id, max: 1, token: id, leaseMillis: 60_000 }))._tag, "Granted", id)
        assert.strictEqual((yield* store.lease({ id, max: 1, token: "__proto__x", leaseMillis: 60_000 }))._tag, "Full")
        yield* store.release(id, id)
      }
      // Each id kept its own state: the tables are intact and nothing leaked into prototypes.
      assert.strictEqual((yield* take(store, windowItem(`after:${randomUUID()}`, 1, 1_000)))._tag, "Granted")
      assert.strictEqual(({} as Record<string, unknown>)["limit"], undefined)
      assert.strictEqual(Object.getPrototypeOf({}), Object.prototype)
    }))

  it.live("items of one request sharing an id share one state, as in memory", () =>
    Effect.gen(function*() {
      const store = yield* LocalStore.make({ path: freshPath("same-id") })
      const memory = yield* LimiterStore.makeMemory()
      const item = windowItem(`same:${randomUUID()}`, 3, 60_000)
      for (let i = 0; i < 3; i++) {
        const request = { items: [item, item], blockKey: undefined, maxWaitMillis: 0 }
        assert.strictEqual((yield* store.reserve(request))._tag, (yield* memory.reserve(request))._tag, `request ${i}`)
      }
    }))

  it.live("expired rows are swept now and then, so the file stays bounded", () =>
    Effect.gen(function*() {
      const path = freshPath("sweep")
      const store = yield* LocalStore.make({ path })
      for (let i = 0; i < 600; i++) {
        yield* take(store, windowItem(`short:${i}`, 1, 20))
        yield* store.block(`block:${i}`, 20)
        yield* store.lease({ id: `lease:${i}`, max: 1, token: "t", leaseMillis: 20 })
      }
      yield* sleepLive(100)
      // Enough operations to run at least one sweep after every row expired.
      for (let i = 0; i < LocalDatabase.sweepEvery; i++) yield* store.release("none", "none")
      const reader = new DatabaseSync(path, { readOnly: true })
      try {
        for (const table of ["items", "blocks", "leases"]) {
          const row = reader.prepare(`SELECT count(*) AS n FROM ${table}`).get()
          assert.strictEqual(row?.["n"], 0, table)
        }
      } finally {
        reader.close()
      }
    }))

  it.live("the sweep never deletes a state that still limits: a window and a rate of one name sharing a row keep the later expiry", () =>
    Effect.gen(function*() {
      const database = LocalDatabase.open(freshPath("shared-row"), 1_000, false)
      try {
        const reserve = (item: LimiterStore.Item) => database.reserve([item], undefined, 0)._tag
        // Two policies of one name share a state: a window of one a minute, and a rate of one a second.
        const window = windowItem("shared", 1, 60_000)
        const rate: LimiterStore.Item = { ...window, kind: "rate", windowMillis: 1_000 }
        assert.strictEqual(reserve(window), "Granted")
        assert.strictEqual(reserve(rate), "Granted")
        // The rate's part ends within a second; the window's entry counts for a minute.
        yield* sleepLive(1_100)
        database.sweep()
        assert.strictEqual(reserve(window), "Refused")
      } finally {
        database.close()
      }
    }))

  it.live("a locked database fails with the typed error within the timeout, then recovers", () =>
    Effect.gen(function*() {
      const path = freshPath("locked")
      const store = yield* LocalStore.make({ path, timeout: "300 millis" })
      const locker = yield* Effect.acquireRelease(
        Effect.sync(() => new DatabaseSync(path)),
        (db) => Effect.sync(() => db.close())
      )
      locker.exec("BEGIN EXCLUSIVE")
      const item = windowItem(`locked:${randomUUID()}`, 10, 1_000)
      const started = Date.now()
      const error = yield* Effect.flip(take(store, item))
      const elapsed = Date.now() - started
      assert.strictEqual(error._tag, "RateLimiterUnavailableError")
      assert.strictEqual(error.backend, "local")
      assert.strictEqual(error.retryable, true)
      assert.match(error.detail, /locked/)
      assert.ok(elapsed >= 250 && elapsed <= 300 + 2_000, `failed after ${elapsed} ms`)
      assert.strictEqual(
        (yield* Effect.flip(store.lease({ id: "l", max: 1, token: "t", leaseMillis: 1_000 })))._tag,
        "RateLimiterUnavailableError"
      )
      locker.exec("ROLLBACK")
      assert.strictEqual((yield* take(store, item))._tag, "Granted")
    }))

  it.live("a file that is not a database fails the layer with the typed error and stays untouched", () =>
    Effect.gen(function*() {
      const path = freshPath("not-a-database")
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      Fs.writeFileSync(path, "precious notes, not a database\n".repeat(200))
      const before = digest(path)
      const error = yield* openFailure({ path })
      assert.strictEqual(error._tag, "RateLimiterUnavailableError")
      assert.strictEqual(error.backend, "local")
      assert.strictEqual(error.retryable, false)
      assert.match(error.detail, /not a database/)
      assert.strictEqual(digest(path), before)
    }))

  it.live("a corrupted store file fails with the typed error and stays untouched", () =>
    Effect.gen(function*() {
      const path = freshPath("corrupt")
      yield* Effect.scoped(Effect.asVoid(LocalStore.make({ path })))
      // Garble the schema page after the 100-byte header.
      const bytes = Fs.readFileSync(path)
      bytes.fill(0xa5, 100, Math.min(bytes.length, 4_096))
      Fs.writeFileSync(path, bytes)
      const before = digest(path)
      const error = yield* openFailure({ path })
      assert.strictEqual(error._tag, "RateLimiterUnavailableError")
      assert.strictEqual(error.backend, "local")
      assert.match(error.detail, /malformed|corrupt/)
      assert.strictEqual(digest(path), before)
    }))

  it.live("a database of another application is refused and stays untouched", () =>
    Effect.gen(function*() {
      const path = freshPath("foreign")
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      const foreign = new DatabaseSync(path)
      foreign.exec("CREATE TABLE accounts (name TEXT); INSERT INTO accounts VALUES ('alice')")
      foreign.close()
      const before = digest(path)
      const error = yield* openFailure({ path })
      assert.strictEqual(error._tag, "RateLimiterUnavailableError")
      assert.match(error.detail, /another application/)
      assert.strictEqual(digest(path), before)
    }))

  it.live("a folder that cannot be created fails the layer with the typed error", () =>
    Effect.gen(function*() {
      const blocker = Path.join(root, `file-${randomUUID()}`)
      Fs.writeFileSync(blocker, "a file where a folder should be")
      const error = yield* openFailure({ path: Path.join(blocker, "limiter.sqlite") })
      assert.strictEqual(error._tag, "RateLimiterUnavailableError")
      assert.strictEqual(error.backend, "local")
      assert.match(error.detail, /cannot create the folder .*(EEXIST|ENOTDIR)/)
    }))

  it.live("a folder without write permission is refused (EACCES, not retryable) and left empty", () =>
    Effect.gen(function*() {
      // Root may write anywhere, so as root the check runs as another user (nobody), in a child process whose
      // files (the node binary, the store's database module, a small driver) are copied into a fresh folder
      // that user may enter: the checkout may live where only its owner can (a home folder, `mktemp -d`).
      const asRoot = process.getuid?.() === 0
      const folder = Fs.mkdtempSync(Path.join(Os.tmpdir(), "httpkit-local-readonly-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true })))
      Fs.chmodSync(folder, 0o755)
      const readonly = Path.join(folder, "readonly")
      Fs.mkdirSync(readonly)
      Fs.chmodSync(readonly, 0o555)
      const child = unprivilegedCopy(Path.join(folder, "child"))
      const output = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) =>
          execFile(
            child.node,
            [child.script, Path.join(readonly, "limiter.sqlite")],
            { timeout: 30_000, cwd: child.folder, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) },
            (error, stdout, stderr) => error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)
          )
        )
      )
      const outcome = JSON.parse(output.trim()) as Record<string, unknown>
      assert.strictEqual(outcome["opened"], false)
      assert.strictEqual(outcome["retryable"], false)
      assert.match(String(outcome["detail"]), /EACCES/)
      assert.deepStrictEqual(Fs.readdirSync(readonly), [])
    }))

  it.live(
    "eight processes opening one new file at once all open it (switching to WAL waits for the lock)",
    () =>
      Effect.gen(function*() {
        const path = freshPath("race")
        yield* assertOpenAtOnce(path)
      }),
    60_000
  )

  it.live("four worker threads share one limit of 50 per second for 5 seconds", () =>
    Effect.gen(function*() {
      const config = waiting("threads", 50, 5)
      const results = yield* runTogether(() => [0, 1, 2, 3].map((index) => thread(config, index)))
      assertShared("4 threads", results, 50, 5)
    }), 60_000)

  it.live("two processes share one limit of 20 per second for 2 seconds", () =>
    Effect.gen(function*() {
      const config = waiting("processes", 20, 2)
      const results = yield* runTogether(() => [0, 1].map((index) => child(config, index)))
      assertShared("2 processes", results, 20, 2)
    }), 60_000)
})
