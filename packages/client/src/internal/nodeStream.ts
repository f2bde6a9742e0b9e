/**
 * Effect streams to Node streams and back, for the undici transport: a
 * request body stream as a Node `Readable` undici sends, and a response body
 * (a `Readable`) as an Effect `Stream`. They do what
 * `@effect/platform-node-shared`'s `NodeStream.toReadable` and `fromReadable`
 * do, without handing Node any object that has `Object.prototype` behind it.
 *
 * **Details**
 *
 * Node's streams read a dozen options (`signal`, `encoding`, `highWaterMark`,
 * `objectMode`...) from the object they are made with, and `stream.finished`
 * (which Effect's `fromReadable`, and Node's own async iteration of a
 * `Readable`, call with an object literal) reads `signal` from its options:
 * with one of those names on a polluted `Object.prototype`, every upload of a
 * stream body, or every streamed response, failed (RELIABILITY 10). Here the
 * `Readable` is made from an object without a prototype, with its table of
 * listeners pinned (`@httpkit/core/NodeOptions`), and the response is pulled
 * with the stream's own events, which its table names.
 */
import * as NodeOptions from "@httpkit/core/NodeOptions"
import * as Cause from "effect/Cause"
import * as Channel from "effect/Channel"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Latch from "effect/Latch"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import { exactly } from "./own.ts"

/**
 * A Node `Readable` of `stream`, run with the caller's context when undici
 * reads it; destroying it interrupts the stream, and a failure of the stream
 * destroys it with the failure.
 */
export const toReadable = <E, R>(stream: Stream.Stream<Uint8Array, E, R>): Effect.Effect<Readable, never, R> =>
  Effect.map(Effect.context<R>(), (context) => new StreamReadable(context, stream))

class StreamReadable<E, R> extends Readable {
  readonly #latch = Latch.makeUnsafe(false)
  #fiber: Fiber.Fiber<void, E> | undefined

  constructor(context: Context.Context<R>, stream: Stream.Stream<Uint8Array, E, R>) {
    super(exactly({}))
    NodeOptions.pinEvents(this)
    this.#fiber = Stream.runForEachArray(stream, (chunk) =>
      this.#latch.whenOpen(Effect.sync(() => {
        this.#latch.closeUnsafe()
        for (let i = 0; i < chunk.length; i++) this.push(chunk[i])
      }))).pipe(this.#latch.whenOpen, Effect.provideContext(context), Effect.runFork)
    this.#fiber.addObserver((exit) => {
      this.#fiber = undefined
      if (Exit.isSuccess(exit)) this.push(null)
      else this.destroy(Cause.squash(exit.cause) as Error)
    })
  }

  override _read(_size: number): void {
    this.#latch.openUnsafe()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const fiber = this.#fiber
    if (fiber === undefined) return callback(error)
    Effect.runFork(Fiber.interrupt(fiber)).addObserver((exit) => {
      callback(exit._tag === "Failure" ? Cause.squash(exit.cause) as Error : error)
    })
  }
}

/** How many chunks one pull takes at most, as Effect's `fromReadable` does by default. */
const chunkSize = 4096

/**
 * `readable` (a response body) as an Effect `Stream` of its chunks, failing
 * with `onError` of its error; the `Readable` is destroyed when the stream
 * ends, fails or is interrupted (which aborts a response not read to its end).
 */
export const fromReadable = <E>(
  evaluate: () => Readable,
  onError: (cause: unknown) => E
): Stream.Stream<Uint8Array, E> =>
  Stream.fromChannel(Channel.fromTransform((_, scope) => Effect.suspend(() => pullOf(evaluate(), scope, onError))))

const pullOf = <E>(readable: Readable, scope: Scope.Scope, onError: (cause: unknown) => E) => {
  let exit: Exit.Exit<never, E | Cause.Done> | undefined
  const latch = Latch.makeUnsafe(false)
  const wake = () => latch.openUnsafe()
  const ended = () => {
    exit ??= Exit.fail(Cause.Done())
    latch.openUnsafe()
  }
  const failed = (error: unknown) => {
    exit ??= Exit.fail(onError(error))
    latch.openUnsafe()
  }
  const closed = () => {
    // Closed before its end: destroyed, with its error or without one (an abort).
    if (!readable.readableEnded) failed(readable.errored ?? new Error("the response body was closed before its end"))
    else ended()
  }
  readable.on("readable", wake).on("end", ended).on("error", failed).on("close", closed)
  const pull = Effect.suspend(function loop(): Effect.Effect<[Uint8Array, ...Array<Uint8Array>], E | Cause.Done> {
    let item = readable.read() as Uint8Array | null
    if (item === null) {
      if (exit !== undefined) return exit
      if (readable.readableEnded) return Effect.fail(Cause.Done())
      latch.closeUnsafe()
      return Effect.flatMap(latch.await, loop)
    }
    const chunk: [Uint8Array, ...Array<Uint8Array>] = [item]
    while (chunk.length < chunkSize) {
      item = readable.read() as Uint8Array | null
      if (item === null) break
      chunk.push(item)
    }
    return Effect.succeed(chunk)
  })
  return Effect.as(
    Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        readable.off("readable", wake).off("end", ended).off("error", failed).off("close", closed)
        if (!readable.destroyed) readable.destroy()
      })
    ),
    pull
  )
}
