/**
 * `NodeOptions`: options objects built with `Own.pinned` from its lists keep
 * every name as their own through the copies Node makes of them, and a stream
 * whose events are pinned can be listened to and emit while event names are
 * on a polluted `Object.prototype` (RELIABILITY 10). The polluted names are
 * set synchronously and removed before anything else runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Readable } from "node:stream"
import * as NodeOptions from "../src/NodeOptions.ts"
import * as Own from "../src/Own.ts"

/** Runs `body` with each of `values` set on `Object.prototype`, and removes them after. */
const polluted = <A>(values: Readonly<Record<string, unknown>>, body: () => A): A => {
  const proto = Object.prototype as Record<string, unknown>
  Object.assign(proto, values)
  try {
    return body()
  } finally {
    for (const name of Object.keys(values)) delete proto[name]
  }
}

const ignore = (): void => {}

/** Adds and removes a `resume` listener, and emits `pause` and `connect`: "ok", or the name of what it threw. */
const listenAndEmit = (stream: Readable): string => {
  try {
    stream.on("resume", ignore)
    stream.off("resume", ignore)
    stream.emit("pause")
    stream.emit("connect")
    return "ok"
  } catch (error) {
    return (error as Error).name
  }
}

describe("NodeOptions", () => {
  it("each list names every option once, and each wider list holds the narrower one", () => {
    for (const list of [NodeOptions.netConnectOptions, NodeOptions.tlsConnectOptions, NodeOptions.httpRequestOptions]) {
      assert.strictEqual(new Set(list).size, list.length)
    }
    for (const name of NodeOptions.netConnectOptions) assert.include(NodeOptions.tlsConnectOptions, name)
    for (const name of NodeOptions.tlsConnectOptions) assert.include(NodeOptions.httpRequestOptions, name)
  })

  it("a copy of pinned options reads no polluted value (socketPath, path, ca)", () => {
    const options: Record<string, unknown> = Own.pinned(NodeOptions.httpRequestOptions, { host: "127.0.0.1", port: 80 })
    const copy = polluted({ socketPath: "/planted.sock", path: "/planted", ca: "planted" }, () => ({ ...options }))
    const read = polluted(
      { socketPath: "/planted.sock", path: "/planted", ca: "planted" },
      () => [copy["socketPath"], copy["path"], copy["ca"], copy["host"]]
    )
    assert.deepStrictEqual(read, [undefined, undefined, undefined, "127.0.0.1"])
  })

  it("a stream whose events are pinned keeps its listeners, and takes and emits any event while they are polluted", () => {
    const pinned = new Readable({ read: ignore })
    pinned.on("end", ignore)
    NodeOptions.pinEvents(pinned)
    assert.deepStrictEqual(pinned.listeners("end"), [ignore])
    const bare = new Readable({ read: ignore })
    const outcome = polluted(
      { resume: true, removeListener: true, newListener: {}, connect: true },
      () => ({ pinned: listenAndEmit(pinned), bare: listenAndEmit(bare) })
    )
    assert.deepStrictEqual(outcome, { pinned: "ok", bare: "TypeError" })
    assert.deepStrictEqual(pinned.listeners("end"), [ignore])
  })
})
