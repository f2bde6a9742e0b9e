import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Tls from "node:tls"
import * as TlsTest from "../src/TlsTest.ts"

describe("TlsTest", () => {
  it.live("trusting adds a certificate to Node's default CAs until the scope closes", () =>
    Effect.gen(function*() {
      const { cert } = yield* TlsTest.selfSigned()
      assert.notInclude(Tls.getCACertificates("default"), cert)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* TlsTest.trusting(cert)
        assert.include(Tls.getCACertificates("default"), cert)
      }))
      assert.notInclude(Tls.getCACertificates("default"), cert)
    }))
})
