/**
 * Writes a local store file in the layout of schema version 1, as the store
 * wrote it before a window's bookings became a table of their own: one row
 * per state in `items`, a window's log as little-endian float64 pairs
 * `[time, cost, ...]` in `items.entries`. The conversion tests start from
 * such a file, and so does `bench/rate-limiter-window.ts` (every version of
 * the store reads it: the earlier one as it is, later ones by converting it).
 *
 * It imports nothing but `node:` modules.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"

/** Version 1's tables, byte for byte as it created them. */
export const schema = `
CREATE TABLE items (
  id TEXT PRIMARY KEY NOT NULL,
  tat REAL NOT NULL,
  entries BLOB NOT NULL,
  expires_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX items_expires_at ON items (expires_at);
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

/** One state row: `id` as stored (`LocalDatabase.storedName`), a window's log as `[time, cost, ...]`. */
export interface Item {
  readonly id: string
  readonly tat: number
  readonly entries: ReadonlyArray<number>
  readonly expiresAt: number
}

/** What the file holds besides its states. */
export interface Contents {
  readonly items: ReadonlyArray<Item>
  readonly blocks?: ReadonlyArray<{ readonly key: string; readonly until: number }> | undefined
  readonly leases?:
    | ReadonlyArray<{ readonly id: string; readonly token: string; readonly expiresAt: number }>
    | undefined
}

/** A log as version 1 stored it. */
export const encode = (entries: ReadonlyArray<number>): Uint8Array => {
  const bytes = new Uint8Array(entries.length * 8)
  const view = new DataView(bytes.buffer)
  entries.forEach((x, i) => view.setFloat64(i * 8, x, true))
  return bytes
}

/** Creates `path` (and its folder) as a store of version 1 holding `contents`. */
export const write = (path: string, contents: Contents): void => {
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  const db = new DatabaseSync(path)
  try {
    db.exec(schema)
    db.exec(`PRAGMA application_id = ${0x68746b6c}`)
    db.exec("PRAGMA user_version = 1")
    db.exec("BEGIN")
    const item = db.prepare("INSERT INTO items (id, tat, entries, expires_at) VALUES (?, ?, ?, ?)")
    for (const { entries, expiresAt, id, tat } of contents.items) item.run(id, tat, encode(entries), expiresAt)
    const block = db.prepare("INSERT INTO blocks (key, until) VALUES (?, ?)")
    for (const { key, until } of contents.blocks ?? []) block.run(key, until)
    const lease = db.prepare("INSERT INTO leases (id, token, expires_at) VALUES (?, ?, ?)")
    for (const { expiresAt, id, token } of contents.leases ?? []) lease.run(id, token, expiresAt)
    db.exec("COMMIT")
  } finally {
    db.close()
  }
}
