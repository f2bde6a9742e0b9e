/**
 * Redact: URL user-info and token-like query parameters, in URLs that parse
 * and in texts that do not (a typo, a bad port), never leaking a password.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Redact from "../src/Redact.ts"

/** A URL carrying `inner` as its `next` parameter. */
const nested = (inner: string) => `https://h.example/x?next=${encodeURIComponent(inner)}&page=2`

describe("Redact.url", () => {
  it("a URL that does not parse loses everything up to its last @, a password with @ or / included", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["http://alice:p@ss-SECRET1@api.example.com:99999/v1", "http://REDACTED@api.example.com:99999/v1"],
      ["http://alice:pa/ss-SECRET2@api.example.com/v1", "http://REDACTED@api.example.com/v1"],
      ["http://alice:SECRET3@exa mple.com/v1?token=x", "http://REDACTED@exa mple.com/v1"],
      ["http//alice:SECRET4@api.example.com", "http//REDACTED@api.example.com"],
      ["alice:SECRET5@api.example.com", "REDACTED@api.example.com"],
      ["http://exa mple.com/v1?key=SECRET6#frag", "http://exa mple.com/v1"]
    ]
    for (const [input, expected] of cases) {
      const shown = Redact.url(input)
      assert.strictEqual(shown, expected, input)
      assert.notMatch(shown, /SECRET/, input)
    }
  })

  it("a URL that parses keeps its host and path, user-info replaced", () => {
    assert.strictEqual(
      Redact.url("http://alice:p@ss-SECRET@api.example.com/v1"),
      "http://REDACTED@api.example.com/v1"
    )
    assert.strictEqual(Redact.url("https://api.example.com/v1?page=2"), "https://api.example.com/v1?page=2")
  })

  it("camelCase and common token names are redacted: apiToken, authToken, sessionToken, secretKey, accessKey, jwt, session_id, sid", () => {
    const names = [
      "apiToken",
      "authToken",
      "sessionToken",
      "secretKey",
      "accessKey",
      "clientSecret",
      "sessionId",
      "jwt",
      "session_id",
      "sid",
      "api_token",
      "SESSION_TOKEN",
      "X-Amz-Signature",
      "x-amz-security-token",
      "access_token",
      "apitoken"
    ]
    const shown = new URL(Redact.url(`https://h.example/x?${names.map((n) => `${n}=S3CR3T`).join("&")}&page=2`))
    for (const name of names) assert.strictEqual(shown.searchParams.get(name), Redact.redacted, name)
    assert.strictEqual(shown.searchParams.get("page"), "2")
  })

  it("bracket, dot and ;-separated forms are redacted: user[password], auth[token], token[], api.key, access-key-id, a=1;token=x", () => {
    for (
      const name of ["user[password]", "auth[token]", "token[]", "api.key", "access-key-id", "apiToken[]", "passphrase"]
    ) {
      assert.isTrue(Redact.isSecretParam(name), name)
      const shown = Redact.url(`https://example.com/x?${encodeURIComponent(name)}=s3cr3t&page=2`)
      assert.notInclude(shown, "s3cr3t", name)
      assert.include(shown, "page=2", name)
    }
    assert.notInclude(Redact.url("https://example.com/x?a=1;token=s3cr3t"), "s3cr3t")
    assert.strictEqual(Redact.url("https://example.com/x?a=1;b=2"), "https://example.com/x?a=1;b=2")
  })

  it("a URL given as a query value loses its secrets too, at any of four levels, and is kept as is without any", () => {
    const secretCases = [
      nested("http://alice:SECRET1@inner.example/p?page=1"),
      nested("https://inner.example/cb?code=SECRET2&state=s"),
      nested("https://inner.example/cb#access_token=SECRET3&expires_in=60"),
      nested("http//alice:SECRET4@inner.example"),
      nested("http://alice:SECRET5@inner.example:99999/"),
      nested(
        `https://a.example/?b=${
          encodeURIComponent(`https://c.example/?d=${encodeURIComponent("https://e.example/?token=SECRET6")}`)
        }`
      )
    ]
    for (const input of secretCases) {
      const shown = Redact.url(input)
      // Each level of encoding leaves the secret's letters as they were.
      assert.notMatch(shown, /SECRET/, input)
      assert.include(shown, "page=2", input)
      assert.include(shown, "h.example/x", input)
    }
    for (const inner of ["https://inner.example/cb?page=3#top", "mailto:a@b.example"]) {
      assert.strictEqual(Redact.url(nested(inner)), nested(inner))
    }
  })

  it("names found left in clear by a black-box review are redacted: pass, authorization, bearer, oauth_verifier, code_verifier, PHPSESSID, JSESSIONID, AWSAccessKeyId, and token%20, token%, token[0], amp;token, ;token", () => {
    const names = [
      "pass",
      "authorization",
      "bearer",
      "oauth_verifier",
      "code_verifier",
      "PHPSESSID",
      "JSESSIONID",
      "ASPSESSIONIDQSCTRBTA",
      "AWSAccessKeyId",
      "X-Goog-Signature",
      "Signature"
    ]
    for (const name of names) assert.isTrue(Redact.isSecretParam(name), name)
    for (const query of ["token%20=S3CR3T", "token%=S3CR3T", "token[0]=S3CR3T", "amp;token=S3CR3T", ";token=S3CR3T"]) {
      const shown = Redact.url(`https://h.example/x?page=2&${query}`)
      assert.notInclude(shown, "S3CR3T", query)
      assert.include(shown, "page=2", query)
    }
    for (const name of ["compass", "bypass", "passage", "verify", "session_count"]) {
      assert.isFalse(Redact.isSecretParam(name), name)
    }
  })

  it("a secret name with a control character after or before it is redacted as a server reads it: token%00, token%00x (cut at NUL), token%01, token%1f, token%7f, %00token; every C0 control after token", () => {
    for (
      const query of [
        "token%00=S3CR3T",
        "token%00x=S3CR3T",
        "token%00%3Bx=S3CR3T",
        "access_token%00=S3CR3T",
        "token%01=S3CR3T",
        "token%1f=S3CR3T",
        "token%7f=S3CR3T",
        "%00token=S3CR3T",
        "apiToken%00=S3CR3T",
        "PHPSESSID%00=S3CR3T"
      ]
    ) {
      const shown = Redact.url(`https://h.example/x?page=2&${query}`)
      assert.notInclude(shown, "S3CR3T", query)
      assert.include(shown, "page=2", query)
    }
    for (let code = 0; code < 0x20; code++) {
      const name = `token${String.fromCharCode(code)}`
      assert.isTrue(Redact.isSecretParam(name), JSON.stringify(name))
    }
    // Path parameters are read the same way.
    assert.strictEqual(Redact.url("https://h.example/a;token%00=S3CR3T/b"), "https://h.example/a;token%00=REDACTED/b")
    // A control character does not make an ordinary name secret.
    for (const name of ["page\u0000", "\u0000page", "tokens_used\u0000", "page\u0000x"]) {
      assert.isFalse(Redact.isSecretParam(name), JSON.stringify(name))
    }
  })

  it("HMAC signatures are redacted: hmac, HMAC, x_hmac, auth[hmac], hmac_sha256, hmac-sha1, hmacsha256, requestHmac; mac, client_mac, machine, hmacs stay", () => {
    const names = [
      "hmac",
      "HMAC",
      "x_hmac",
      "auth[hmac]",
      "hmac_sha256",
      "hmac-sha1",
      "hmacsha256",
      "hmac_md5",
      "requestHmac"
    ]
    for (const name of names) assert.isTrue(Redact.isSecretParam(name), name)
    const shown = Redact.url(
      `https://h.example/x?${names.map((n) => `${encodeURIComponent(n)}=S3CR3T`).join("&")}&page=2`
    )
    assert.notInclude(shown, "S3CR3T")
    assert.include(shown, "page=2")
    assert.strictEqual(
      Redact.url("https://shop.example/app?shop=s.example&hmac=S3CR3T&timestamp=1"),
      "https://shop.example/app?shop=s.example&hmac=REDACTED&timestamp=1"
    )
    assert.strictEqual(Redact.text("webhook refused (hmac=S3CR3T, shop=s)"), "webhook refused (hmac=REDACTED, shop=s)")
    for (const name of ["mac", "client_mac", "ap_mac", "machine", "hmacs", "chmac", "macro"]) {
      assert.isFalse(Redact.isSecretParam(name), name)
    }
  })

  it("path parameters with a secret name lose their values (;jsessionid=), others are kept", () => {
    assert.strictEqual(
      Redact.url("https://h.example/app;jsessionid=S3CR3T/page;v=2?x=1"),
      "https://h.example/app;jsessionid=REDACTED/page;v=2?x=1"
    )
    assert.strictEqual(
      Redact.url("https://h.example/a;token=S3CR3T;lang=en/b"),
      "https://h.example/a;token=REDACTED;lang=en/b"
    )
    assert.strictEqual(Redact.url("https://h.example/a;lang=en/b;%zz=1"), "https://h.example/a;lang=en/b;%zz=1")
  })

  it("ordinary names stay in clear: page, monkey, decode, keyboard, sort, tokens_used", () => {
    for (
      const name of [
        "page",
        "monkey",
        "decode",
        "keyboard",
        "sort",
        "tokens_used",
        "user",
        "offset",
        "sidebar",
        "items[]",
        "filter[name]",
        "a.b"
      ]
    ) {
      assert.isFalse(Redact.isSecretParam(name), name)
    }
  })
})

describe("Redact.isSecretHeader", () => {
  it("names listed or of a secret's form are secret, in any case; a bare -key, idempotency-key or content headers are not", () => {
    for (
      const name of [
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "apikey",
        "ocp-apim-subscription-key",
        "x-functions-key",
        "private-token",
        "PRIVATE-TOKEN",
        "x-access-token",
        "x-csrf-token",
        "x-client-secret",
        "x-password",
        "x_auth_token",
        "x-auth",
        "Authentication",
        "x-session",
        "x-session-id",
        "X-Hub-Signature-256",
        "x-signature-sha256",
        "X-Shopify-Hmac-Sha256",
        "x-hmac",
        "X-Authorization",
        "x-serverless-authorization",
        "x-forwarded-authorization",
        "x-ms-authorization-auxiliary",
        "X-RapidAPI-Key",
        "DD-Application-Key",
        "x-app-key",
        "x-consumer-key",
        "x-amz-server-side-encryption-customer-key",
        "X-Goog-IAP-JWT-Assertion",
        "x-jwt",
        "x-honeycomb-team"
      ]
    ) {
      assert.isTrue(Redact.isSecretHeader(name), name)
      assert.strictEqual(Redact.headers({ [name]: "s3cr3t" })[name.toLowerCase()], Redact.redacted, name)
    }
    for (
      const name of [
        "idempotency-key",
        "cache-key",
        "x-request-id",
        "content-type",
        "x-tokens-used",
        "keep-alive",
        "accept",
        "x-session-count",
        "x-author",
        "x-signature-version",
        "x-partition-key",
        "x-authorizer",
        "x-jwtish"
      ]
    ) {
      assert.isFalse(Redact.isSecretHeader(name), name)
    }
  })
})
