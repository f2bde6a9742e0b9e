/**
 * Helpers for the client's tests on `TestTransport` (no sockets) under
 * `TestClock`: a client over a fresh scripted transport, replies queued on a
 * route, and when the transport's calls were made.
 */
import * as TestTransport from "@httpkit/testing/TestTransport"
import { Effect, Layer } from "effect"
import * as ResilientClient from "../src/ResilientClient.ts"

/** The origin the scripted transport answers for. */
export const base = "http://api.test"

/** Provides a `ResilientClient` built with `options` over a fresh `TestTransport` (both in context). */
export const onTestTransport = (options: ResilientClient.Options) =>
  Effect.provide(ResilientClient.layerWith(options).pipe(Layer.provideMerge(TestTransport.layer())))

/** The transport and the client, `replies` queued on `route` first. */
export const scripted = (route: TestTransport.Route, ...replies: ReadonlyArray<TestTransport.Reply>) =>
  Effect.gen(function*() {
    const transport = yield* TestTransport.TestTransport
    const client = yield* ResilientClient.ResilientClient
    yield* transport.enqueue(route, ...replies)
    return { transport, client }
  })

/** When (`TestClock` ms) the transport's calls were made, oldest first. */
export const callTimes = Effect.map(
  Effect.flatMap(TestTransport.TestTransport, (transport) => transport.calls),
  (calls) => calls.map((call) => call.at)
)
