/**
 * The SQLite side of the local store: the file, the schema, the cached
 * statements, and one `BEGIN IMMEDIATE` ... `COMMIT` transaction per
 * operation that reads its rows, runs the arithmetic of `algorithm.ts` and
 * writes back. Everything here is synchronous and throws `LocalFailure`
 * or SQLite's own errors; `LocalStore.ts` turns both into typed errors.
 *
 * Schema (version 2, marked by `PRAGMA application_id` so a file of another
 * application is never touched):
 *
 * - `items(id, tat, expires_at)`: one row per limit state: a rate's `tat`,
 *   and when the state stops mattering (a window's too).
 * - `bookings(seq, id, time, cost, total)`: a window's bookings, one row
 *   each, with running totals (`localWindow.ts`), so a call costs `O(log n)`
 *   for the `n` bookings of its window.
 * - `blocks(key, until)`: server-imposed blocks.
 * - `leases(id, token, expires_at)`: concurrency leases.
 *
 * Version 1 kept a window's log in `items.entries`, little-endian float64
 * pairs `[time, cost]`, read and written whole by every call. A file of
 * version 1 is converted when a store opens it, in the transaction that
 * identifies it (so once, whoever opens it first): the logs become bookings
 * and the column goes, so a process of the earlier version still using the
 * file fails on it (`no such column: entries`, a `RateLimiterUnavailableError`)
 * rather than keep a second count beside this one.
 *
 * A row whose `expires_at` (now + `Algorithm.lifetime`) has passed means the
 * same as no row, so expired rows (and their bookings) are swept in bounded
 * batches every `sweepEvery` operations of a connection.
 *
 * `node:sqlite` itself is loaded by `open`, when a store first opens a file,
 * not when this module is: the package root re-exports `LocalStore`, and on
 * Node 22 loading `node:sqlite` prints `ExperimentalWarning: SQLite is an
 * experimental feature`, which an application using only the memory or
 * Redis store must not see. Only its types are imported here.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { DatabaseSync, SQLOutputValue, StatementSync } from "node:sqlite"
import * as Algorithm from "./algorithm.ts"
import * as LocalWindow from "./localWindow.ts"

/**
 * `node:sqlite`'s `DatabaseSync`, loaded on first use (synchronously, as
 * `open` is): Node loads a built-in module once, so later calls cost a
 * lookup.
 */
const databaseSync = (): typeof DatabaseSync => process.getBuiltinModule("node:sqlite").DatabaseSync

/** Marks our files (`PRAGMA application_id`): "htkl". */
export const applicationId = 0x68746b6c

/** The schema version this code reads and writes (`PRAGMA user_version`). */
export const schemaVersion = 2

/** The earlier version this code converts when it opens a file (a window's log as one blob per state). */
export const convertedVersion = 1

/** Operations of one connection between two sweeps. */
export const sweepEvery = 256

/** Most expired rows one sweep deletes per table (bookings included), so a sweep never holds the lock for long. */
export const sweepBatch = 1_000

/** The WAL file is truncated to this size after a checkpoint. */
const journalSizeLimit = 4 * 1024 * 1024

const schema = `
CREATE TABLE items (
  id TEXT PRIMARY KEY NOT NULL,
  tat REAL NOT NULL,
  expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX items_expires_at ON items (expires_at);${LocalWindow.schema}
CREATE TABLE blocks (
  key TEXT PRIMARY KEY NOT NULL,
  until REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX blocks_until ON blocks (until);
CREATE TABLE leases (
  id TEXT NOT NULL,
  token TEXT NOT NULL,
  expires_at REAL NOT NULL,
  PRIMARY KEY (id, token)
) WITHOUT ROWID;
CREATE INDEX leases_expires_at ON leases (expires_at);
`

/** A failure found by this module (not by SQLite), with whether another attempt could succeed. */
export class LocalFailure extends Error {
  readonly retryable: boolean
  constructor(detail: string, retryable: boolean) {
    super(detail)
    this.name = "LocalFailure"
    this.retryable = retryable
  }
}

/** SQLite primary result codes after which another attempt may succeed: busy, locked, I/O, full, cannot open. */
const transientCodes = new Set([5, 6, 10, 13, 14])

/** What a thrown value says, without a stack, and whether retrying could help. */
export const describeFailure = (cause: unknown): { readonly detail: string; readonly retryable: boolean } => {
  if (cause instanceof LocalFailure) return { detail: cause.message, retryable: cause.retryable }
  if (typeof cause === "object" && cause !== null) {
    const error = cause as { readonly message?: unknown; readonly errcode?: unknown }
    const message = typeof error.message === "string" ? error.message : String(cause)
    if (typeof error.errcode === "number") {
      return {
        detail: `${message} (SQLite code ${error.errcode})`,
        retryable: transientCodes.has(error.errcode & 0xff)
      }
    }
    return { detail: message, retryable: false }
  }
  return { detail: String(cause), retryable: false }
}

/** A file system error as `what path: CODE`, without the stack. */
const fsFailure = (what: string, path: string, cause: unknown): LocalFailure => {
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : String(cause)
  return new LocalFailure(`cannot ${what} ${path}: ${code}`, false)
}

/**
 * `options` on an object without a prototype: Node reads inherited options
 * (`node:sqlite`'s `readOnly`, `returnArrays`, `readBigInts`...), so what it
 * is handed holds exactly the keys meant. (Not `Own.bare`: this module
 * imports nothing outside `node:`, `localWindow.ts` and `algorithm.ts`, so a
 * test can run it alone as another user.)
 */
const bare = <A extends object>(options: A): A => Object.assign(Object.create(null) as A, options)

/**
 * Creates the folder (mode 0700) and the file (mode 0600) when missing; an
 * existing file is left as it is. With `privateFolder`, the folder must be a
 * real folder (not a link) owned by this user and writable by no one else:
 * it lives in a shared temporary folder, where another user could otherwise
 * plant the database or its `-wal` file.
 */
const prepareFile = (path: string, privateFolder: boolean): void => {
  const folder = Path.dirname(path)
  try {
    Fs.mkdirSync(folder, bare({ recursive: true, mode: 0o700 }))
  } catch (cause) {
    throw fsFailure("create the folder", folder, cause)
  }
  if (privateFolder) {
    const stats = Fs.lstatSync(folder)
    const uid = process.getuid?.()
    if (!stats.isDirectory() || (uid !== undefined && stats.uid !== uid) || (stats.mode & 0o022) !== 0) {
      throw new LocalFailure(`${folder} is not a folder of this user only: refusing to use it`, false)
    }
  }
  try {
    Fs.closeSync(Fs.openSync(path, Fs.constants.O_RDWR | Fs.constants.O_CREAT | Fs.constants.O_EXCL, 0o600))
  } catch (cause) {
    const code = typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined
    if (code !== "EEXIST") throw fsFailure("create", path, cause)
  }
  let stats: Fs.Stats
  try {
    stats = Fs.statSync(path)
  } catch (cause) {
    throw fsFailure("read", path, cause)
  }
  if (!stats.isFile()) throw new LocalFailure(`${path} is not a regular file`, false)
}

const pragma = (db: DatabaseSync, name: string): SQLOutputValue | undefined => {
  const row = db.prepare(`PRAGMA ${name}`).get()
  return row === undefined ? undefined : Object.values(row)[0]
}

const countObjects = (db: DatabaseSync): number => {
  const row = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()
  return Number(row?.n ?? 0)
}

/**
 * Whether the file is ours, ours in the layout of version 1 (to convert),
 * empty (a new file), or someone else's. Reads only, so a file that is not
 * ours is left byte for byte as it was.
 */
const identify = (db: DatabaseSync, path: string): "ours" | "version 1" | "empty" => {
  const id = Number(pragma(db, "application_id"))
  const version = Number(pragma(db, "user_version"))
  if (id === applicationId) {
    if (version === convertedVersion) return "version 1"
    if (version !== schemaVersion) {
      throw new LocalFailure(
        `${path} has schema version ${version}; this version reads ${schemaVersion} (and converts ${convertedVersion})`,
        false
      )
    }
    return "ours"
  }
  if (id === 0 && countObjects(db) === 0) return "empty"
  throw new LocalFailure(`${path} is a database of another application: left untouched`, false)
}

/** Whether a SQLite failure is a lock held by another connection (which waiting may clear). */
const isBusy = (cause: unknown): boolean =>
  /\b(SQLITE_BUSY|SQLITE_LOCKED|database is locked|database table is locked)\b/i.test(String(cause))

/** Blocks this thread for `millis` (opening is synchronous, and happens once). */
const pause = (millis: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, millis)
}

/**
 * Runs `step`, again while another connection holds a lock, for up to
 * `timeoutMillis`: switching a new file to WAL takes an exclusive lock, and
 * several processes opening one new file at once meet there.
 */
const whileBusy = <A>(timeoutMillis: number, step: () => A): A => {
  const until = Date.now() + timeoutMillis
  while (true) {
    try {
      return step()
    } catch (cause) {
      if (!isBusy(cause) || Date.now() >= until) throw cause
      pause(10)
    }
  }
}

/**
 * Converts a file of version 1: each state's log becomes its bookings, and
 * `items.entries` goes (so statements of version 1 fail on the file). A log
 * that cannot be read fails the conversion, which leaves the file as it was.
 */
const convert = (db: DatabaseSync): void => {
  db.exec(LocalWindow.table)
  const insert = LocalWindow.inserter(db)
  for (const row of db.prepare("SELECT id, entries FROM items").all()) {
    if (typeof row.id !== "string") throw new LocalFailure("corrupt state row", false)
    const entries = decodeEntries(row.entries, row.id)
    if (entries.length > 0) insert(row.id, entries)
  }
  db.exec(LocalWindow.indexes)
  db.exec("ALTER TABLE items DROP COLUMN entries")
  db.exec(`PRAGMA user_version = ${schemaVersion}`)
}

const initialise = (db: DatabaseSync, path: string, timeoutMillis: number): void => {
  // Identified under the write lock only: a file another process is creating (or converting) right now must not
  // look foreign (or be converted twice). A file that is not ours is left as it was (the transaction writes
  // nothing and is rolled back), and so is a file whose conversion fails.
  db.exec("BEGIN IMMEDIATE")
  try {
    const found = identify(db, path)
    if (found === "empty") {
      db.exec(schema)
      db.exec(`PRAGMA application_id = ${applicationId}`)
      db.exec(`PRAGMA user_version = ${schemaVersion}`)
    } else if (found === "version 1") convert(db)
    db.exec("COMMIT")
  } catch (cause) {
    rollbackQuietly(db)
    throw cause
  }
  const mode = whileBusy(timeoutMillis, () => pragma(db, "journal_mode = WAL"))
  if (mode !== "wal") throw new LocalFailure(`${path} cannot use WAL journal mode (got ${String(mode)})`, false)
  db.exec("PRAGMA synchronous = NORMAL")
  db.exec(`PRAGMA journal_size_limit = ${journalSizeLimit}`)
}

const rollbackQuietly = (db: DatabaseSync): void => {
  try {
    if (db.isOpen && db.isTransaction) db.exec("ROLLBACK")
  } catch {
    // The original failure is the one worth reporting.
  }
}

/** Reads a window log of version 1, stored as little-endian float64 pairs. */
const decodeEntries = (value: SQLOutputValue | undefined, id: string): Array<number> => {
  if (!(value instanceof Uint8Array) || value.byteLength % 16 !== 0) {
    throw new LocalFailure(`corrupt state row for item ${JSON.stringify(id)}`, false)
  }
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength)
  return Array.from({ length: value.byteLength / 8 }, (_, i) => view.getFloat64(i * 8, true))
}

const numberOf = (value: SQLOutputValue | undefined, what: string): number => {
  if (typeof value !== "number") throw new LocalFailure(`corrupt ${what}`, false)
  return value
}

/** Marks a stored name that is an escaped id (see `storedName`); a noncharacter no caller's id is expected to start with. */
const escapeMark = "\uFFFE"

/**
 * The name an id (item id, block key, lease id or token) is stored under.
 * SQLite keeps text as UTF-8, where a lone UTF-16 surrogate becomes U+FFFD:
 * `"user-\ud800"` and `"user-\udfff"` would share one row. So an id that is
 * not well-formed UTF-16, or that starts with `escapeMark`, is stored as
 * `escapeMark` and the hex of each of its UTF-16 code units (lossless, and no
 * well-formed id without the mark can equal it); every other id is stored as
 * it is, so rows of ordinary ids keep their names.
 */
export const storedName = (id: string): string => {
  if (id.isWellFormed() && !id.startsWith(escapeMark)) return id
  let out = escapeMark
  for (let i = 0; i < id.length; i++) out += id.charCodeAt(i).toString(16).padStart(4, "0")
  return out
}

/** What a lease request is answered. */
export type LeaseResult = ReturnType<typeof Algorithm.lease>

/** One open database; every method is one transaction and may throw. */
export interface LocalDatabase {
  readonly reserve: (
    items: ReadonlyArray<Algorithm.Item>,
    blockKey: string | undefined,
    maxWaitMillis: number
  ) => Algorithm.Reservation
  readonly block: (key: string, millis: number) => void
  readonly cancel: (items: ReadonlyArray<Algorithm.Item>, at: number) => void
  readonly lease: (id: string, max: number, token: string, leaseMillis: number) => LeaseResult
  readonly release: (id: string, token: string) => void
  /** Deletes expired rows (at most `sweepBatch` per table); also run every `sweepEvery` operations. */
  readonly sweep: () => void
  readonly close: () => void
}

/**
 * Opens (creating when missing) the database at `path`, waiting at most
 * `timeoutMillis` for a lock in any one step; a file of version 1 is
 * converted. `clock` is read once per transaction, once the lock is held
 * (the machine's clock; tests pass their own to run operations at chosen
 * instants).
 */
export const open = (
  file: string,
  timeoutMillis: number,
  privateFolder: boolean,
  clock: () => number = Date.now
): LocalDatabase => {
  // Absolute, so SQLite never reads the name as `:memory:` or a `file:` URI: both would not be shared.
  const path = Path.resolve(file)
  prepareFile(path, privateFolder)
  const Database = databaseSync()
  const db = new Database(path, bare({ timeout: timeoutMillis, enableDoubleQuotedStringLiterals: false }))
  try {
    initialise(db, path, timeoutMillis)
    const database = prepared(db, clock)
    database.sweep()
    return database
  } catch (cause) {
    db.close()
    throw cause
  }
}

const prepared = (db: DatabaseSync, clock: () => number): LocalDatabase => {
  const statement = (sql: string): StatementSync => db.prepare(sql)
  const begin = statement("BEGIN IMMEDIATE")
  const commit = statement("COMMIT")
  const window = LocalWindow.prepare(db)
  const selectItem = statement("SELECT tat FROM items WHERE id = ?")
  const upsertItem = statement(
    "INSERT INTO items (id, tat, expires_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (id) DO UPDATE SET tat = excluded.tat, expires_at = excluded.expires_at"
  )
  const upsertItemKeepingExpiry = statement(
    "INSERT INTO items (id, tat, expires_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (id) DO UPDATE SET tat = excluded.tat, expires_at = max(excluded.expires_at, items.expires_at)"
  )
  const deleteItem = statement("DELETE FROM items WHERE id = ?")
  const selectBlock = statement("SELECT until FROM blocks WHERE key = ?")
  const upsertBlock = statement(
    "INSERT INTO blocks (key, until) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET until = excluded.until"
  )
  const selectLeases = statement("SELECT token, expires_at FROM leases WHERE id = ?")
  const upsertLease = statement(
    "INSERT INTO leases (id, token, expires_at) VALUES (?, ?, ?) " +
      "ON CONFLICT (id, token) DO UPDATE SET expires_at = excluded.expires_at"
  )
  const deleteLease = statement("DELETE FROM leases WHERE id = ? AND token = ?")
  const selectExpiredItems = statement("SELECT id FROM items WHERE expires_at <= ? LIMIT ?")
  const sweepBlocks = statement(
    "DELETE FROM blocks WHERE key IN (SELECT key FROM blocks WHERE until <= ? LIMIT ?)"
  )
  const sweepLeases = statement(
    "DELETE FROM leases WHERE (id, token) IN (SELECT id, token FROM leases WHERE expires_at <= ? LIMIT ?)"
  )

  let operations = 0

  /**
   * Deletes expired states, each once its bookings are gone: at most `sweepBatch` states and `sweepBatch`
   * bookings (oldest first), so a state whose window held many is taken over several sweeps.
   */
  const sweepItems = (now: number): void => {
    let bookings = sweepBatch
    for (const row of selectExpiredItems.all(now, sweepBatch)) {
      const name = row.id
      if (typeof name !== "string") throw new LocalFailure("corrupt state row", false)
      if (bookings > 0) bookings -= window.deleteOldest(name, bookings)
      if (!window.holds(name)) deleteItem.run(name)
    }
  }

  const sweepAt = (now: number): void => {
    sweepItems(now)
    sweepBlocks.run(now, sweepBatch)
    sweepLeases.run(now, sweepBatch)
  }

  /** Runs `body` in one write transaction; `now` is read once the lock is held. */
  const transaction = <A>(body: (now: number) => A): A => {
    begin.run()
    try {
      const now = clock()
      const result = body(now)
      operations++
      if (operations % sweepEvery === 0) sweepAt(now)
      commit.run()
      return result
    } catch (cause) {
      rollbackQuietly(db)
      throw cause
    }
  }

  interface Slot {
    readonly name: string
    readonly state: LocalWindow.State
    /** The items of this request stored under this id (usually one). */
    readonly items: Array<Algorithm.Item>
  }

  /**
   * Writes a state back, expiring when it stops mattering. A row shared by a rate and a window (two policies
   * of one name) keeps the later of the two: the rate's `tat` always counts, and a request without a window
   * item keeps the row's expiry when it is later (the window of its bookings is not known here), so the sweep
   * never deletes a state that still limits. A row stays while its id holds bookings, counting or not, so
   * that the sweep takes them before it.
   */
  const save = (slot: Slot, now: number): void => {
    const { name, state } = slot
    let lifetime = Math.max(0, state.tat - now)
    let windowKnown = false
    for (const item of slot.items) {
      if (item.kind !== "window" || state.window === undefined) continue
      windowKnown = true
      lifetime = Math.max(lifetime, window.lifetime(state.window, item, now))
    }
    if (windowKnown) {
      const holds = window.tidy(state.window!)
      if (lifetime > 0 || holds) upsertItem.run(name, state.tat, now + lifetime)
      else deleteItem.run(name)
    } else if (lifetime > 0) {
      upsertItemKeepingExpiry.run(name, state.tat, now + lifetime)
    } else if (window.holds(name)) {
      upsertItemKeepingExpiry.run(name, state.tat, now)
    } else deleteItem.run(name)
  }

  /**
   * The states of `items`, loaded once per id: items sharing an id share one state, as they do in memory; the
   * window's bookings are read only for an id a window item uses.
   */
  const loadAll = (items: ReadonlyArray<Algorithm.Item>) => {
    const slots = new Map<string, Slot>()
    const states = items.map((item) => {
      let slot = slots.get(item.id)
      if (slot === undefined) {
        const name = storedName(item.id)
        const row = selectItem.get(name)
        const tat = row === undefined ? 0 : numberOf(row.tat, `state row for item ${JSON.stringify(item.id)}`)
        const windowed = items.some((other) => other.id === item.id && other.kind === "window")
        slot = { name, state: { tat, window: windowed ? window.load(name) : undefined }, items: [] }
        slots.set(item.id, slot)
      }
      slot.items.push(item)
      return slot.state
    })
    return { slots, states }
  }

  return {
    reserve: (items, blockKey, maxWaitMillis) =>
      transaction((now) => {
        const { slots, states } = loadAll(items)
        const block = blockKey === undefined ? undefined : selectBlock.get(storedName(blockKey))
        const blockedUntil = block === undefined ? 0 : numberOf(block.until, "block row")
        const reservation = Algorithm.reserveWith(window.windows, states, items, blockedUntil, now, maxWaitMillis)
        // A refusal books nothing: the rows stay as they were.
        if (reservation._tag !== "Granted") return reservation
        for (const slot of slots.values()) save(slot, now)
        return reservation.delayMillis > 0 ? { ...reservation, at: now + reservation.delayMillis } : reservation
      }),
    cancel: (items, at) =>
      transaction((now) => {
        if (at <= now) return
        const { slots, states } = loadAll(items)
        Algorithm.cancelWith(window.windows, states, items, at, now)
        for (const slot of slots.values()) save(slot, now)
      }),
    block: (key, millis) =>
      transaction((now) => {
        const name = storedName(key)
        const row = selectBlock.get(name)
        const until = Math.max(row === undefined ? 0 : numberOf(row.until, "block row"), now + millis)
        upsertBlock.run(name, until)
      }),
    lease: (leaseId, max, leaseToken, leaseMillis) =>
      transaction((now) => {
        // Tokens are stored by name too, and compared as stored.
        const id = storedName(leaseId)
        const token = storedName(leaseToken)
        const held: Algorithm.Leases = new Map()
        for (const row of selectLeases.all(id)) {
          if (typeof row.token !== "string") throw new LocalFailure("corrupt lease row", false)
          held.set(row.token, numberOf(row.expires_at, "lease row"))
        }
        const before = [...held.keys()]
        const result = Algorithm.lease(held, max, token, leaseMillis, now)
        for (const expired of before) if (!held.has(expired)) deleteLease.run(id, expired)
        if (result._tag === "Granted") upsertLease.run(id, token, held.get(token)!)
        return result
      }),
    release: (id, token) =>
      transaction(() => {
        deleteLease.run(storedName(id), storedName(token))
      }),
    sweep: () => transaction(sweepAt),
    close: () => {
      if (db.isOpen) db.close()
    }
  }
}
