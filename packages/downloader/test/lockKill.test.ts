/**
 * RELIABILITY 5 for the `.part` lock: a process killed at any moment while it
 * takes or gives back the lock never leaves one that keeps the next download
 * out. The lock exists only with its owner named (a link created with its
 * text), so what a killed process leaves is a lock naming a pid that no
 * longer runs, taken over at once: not an empty file, which nobody can tell
 * from one being written and which was taken over only once it had gone 30 s
 * unrefreshed (a distributed crawl's workers gave up on the file meanwhile).
 * Where the file system has no symbolic links, the lock is a file, which
 * must still keep a second taker out and be taken over from a dead pid.
 */
import { assert, it } from "@effect/vitest"
import { NodeChild } from "@httpkit/testing"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import * as PartLock from "../src/internal/partLock.ts"
import { childReport, tempFolder } from "./support/setup.ts"

const child = Path.join(import.meta.dirname, "support", "lockChurnChild.ts")
const noLinksChild = Path.join(import.meta.dirname, "support", "lockNoLinksChild.ts")

it.live(
  "a process killed with SIGKILL at 16 moments of taking and releasing the lock: each time, what it left names its dead pid, and the next acquire takes it at once",
  () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const partPath = Path.join(folder, "churn.bin.part")
      const lockPath = PartLock.pathFor(partPath)
      for (let round = 0; round < 16; round++) {
        const churn = yield* NodeChild.start([child, partPath])
        yield* churn.until("the loop starting", (line) => line.event === "taking")
        // Somewhere between 5 and 80 ms into the loop: thousands of takes and releases.
        yield* Effect.sleep(5 + ((round * 37) % 76))
        yield* churn.kill("SIGKILL")
        assert.strictEqual((yield* churn.ended).signal, "SIGKILL", churn.diagnostics())

        const left = yield* Effect.promise(() => Fs.lstat(lockPath).catch(() => undefined))
        if (left !== undefined) {
          const text = yield* Effect.promise(() =>
            left.isSymbolicLink() ? Fs.readlink(lockPath, "utf8") : Fs.readFile(lockPath, "utf8")
          )
          assert.match(text, /"pid":\d+/, `round ${round}: the lock left names its owner`)
          assert.strictEqual(JSON.parse(text).pid, churn.pid, `round ${round}: the lock left names the killed process`)
        }
        // Taken at once, though the lock was refreshed moments ago and goes stale only after 30 s unrefreshed.
        const lock = yield* PartLock.acquire("http://test/", partPath, 30_000)
        yield* lock.release
        assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(folder)), [], `round ${round}`)
      }
    }).pipe(Effect.scoped)
)

it.live(
  "on a file system without symbolic links (symlink fails with EPERM) the lock is a file naming its owner: a second taker gets EBUSY, the release removes it, and one left by a dead pid is taken over",
  () =>
    Effect.gen(function*() {
      const folder = yield* tempFolder
      const partPath = Path.join(folder, "fat.bin.part")
      const gone = yield* Effect.promise(() => NodeChild.run(["-e", "process.stdout.write(String(process.pid))"]))
      assert.deepStrictEqual(yield* childReport([noLinksChild, partPath, gone.stdout]), {
        file: true,
        ownerIsThis: true,
        second: "EBUSY",
        afterRelease: [],
        retakenByThis: true
      })
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(folder)), [])
    }).pipe(Effect.scoped)
)
