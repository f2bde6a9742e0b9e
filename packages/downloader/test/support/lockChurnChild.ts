/**
 * The child of `lockKill.test.ts`: takes and releases the lock of one `.part`
 * over and over, as fast as it can, until it is killed. Prints `{"event":"taking"}`
 * once, before the first.
 *
 * Usage: `node lockChurnChild.ts <part path>`.
 */
import { Effect } from "effect"
import * as PartLock from "../../src/internal/partLock.ts"

const partPath = process.argv[2]!
console.log(JSON.stringify({ event: "taking" }))
await Effect.runPromise(
  Effect.forever(Effect.flatMap(PartLock.acquire("http://test/", partPath, 30_000), (lock) => lock.release))
)
