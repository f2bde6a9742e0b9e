/**
 * Type-checked only: the installed declarations carry real types, not `any`.
 * Each `@ts-expect-error` below is itself an error if the type it guards
 * resolved to `any` (an unused directive).
 */
import * as ResilientClient from "@httpkit/client/ResilientClient"
import * as Redact from "@httpkit/core/Redact"
import * as Checksum from "@httpkit/downloader/Checksum"
import * as Policy from "@httpkit/rate-limiter/Policy"
import * as TestServer from "@httpkit/testing/TestServer"

export const options: ResilientClient.Options = {
  // @ts-expect-error maxAttempts is a number
  retry: { maxAttempts: "three" }
}

// @ts-expect-error a rate needs its limit
export const rate = Policy.rate({ window: "1 second" })

// @ts-expect-error the server's port is a number
export const port: string = (null as unknown as TestServer.TestServer["Service"]).port

// @ts-expect-error not a checksum algorithm
export const algorithm: Checksum.Algorithm = "crc32"

// @ts-expect-error a URL to redact is a string or a URL
export const redacted = Redact.url(42)
