/**
 * Redact.text: free text (an error message from a refresh hook, a server's
 * answer) with the URLs in it redacted and secret-named `name=value` pairs
 * replaced, before it reaches a log line.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Redact from "../src/Redact.ts"

describe("Redact.text", () => {
  it("URLs in text lose user-info, secret query values and fragments; sentence punctuation stays", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      [
        "POST https://alice:SECRET1@auth.example.com/oauth/token?client_secret=SECRET2&refresh_token=SECRET3&x=1 failed: 400.",
        "POST https://REDACTED@auth.example.com/oauth/token?client_secret=REDACTED&refresh_token=REDACTED&x=1 failed: 400."
      ],
      ["see (http://u:SECRET4@h.example/a#access_token=SECRET5).", "see (http://REDACTED@h.example/a)."],
      ["no URL here, 127.0.0.1:8080 refused", "no URL here, 127.0.0.1:8080 refused"],
      // A scheme after a digit or a dash starts at its first letter; a `://` without a scheme or a rest is text.
      ["9http://u:SECRET6@h/ and -ftp://u:SECRET7@h/", "9http://REDACTED@h/ and -ftp://REDACTED@h/"],
      ["x http:// y", "x http:// y"]
    ]
    for (const [input, expected] of cases) {
      assert.strictEqual(Redact.text(input), expected, input)
    }
  })

  it("secret-named name=value, name: value and JSON pairs are replaced; other pairs are kept", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      [
        "body client_secret=SECRET1&refresh_token=SECRET2&grant_type=refresh_token",
        "body client_secret=REDACTED&refresh_token=REDACTED&grant_type=refresh_token"
      ],
      [
        "{\"error\":\"invalid_grant\",\"access_token\":\"SECRET3\",\"expires_in\":3}",
        "{\"error\":\"invalid_grant\",\"access_token\":\"REDACTED\",\"expires_in\":3}"
      ],
      ["Authorization: Bearer SECRET4 refused", "Authorization: REDACTED refused"],
      [
        "token=SECRET5, password: SECRET6; apiToken = SECRET7",
        "token=REDACTED, password: REDACTED; apiToken = REDACTED"
      ],
      ["status=400 error: invalid_grant", "status=400 error: invalid_grant"],
      // A secret pair right after a `word:` (the value of the pair found first).
      ["Error: client_secret=SECRET8", "Error: client_secret=REDACTED"],
      ["refresh failed: token=SECRET9&x=1", "refresh failed: token=REDACTED&x=1"],
      ["webhook refused: hmac=SECRET10, shop=s", "webhook refused: hmac=REDACTED, shop=s"],
      ["Error: password: SECRET12 (retry later)", "Error: password: REDACTED (retry later)"],
      ["{\"detail\":\"password=SECRET11\"}", "{\"detail\":\"password=REDACTED\"}"],
      ["at: 12:30:00 ok", "at: 12:30:00 ok"],
      ["StatusCode: Non 2xx status code (400)", "StatusCode: Non 2xx status code (400)"]
    ]
    for (const [input, expected] of cases) {
      const shown = Redact.text(input)
      assert.strictEqual(shown, expected, input)
      assert.notMatch(shown, /SECRET/, input)
    }
  })

  // A message is text from the network (a hook's error, a server's answer): a long one must not stall the log line.
  it("200,000 letters without a separator, with or without a :// after them, take one pass (quadratic took 24 s)", () => {
    for (const input of ["a".repeat(200_000), `${"a".repeat(200_000)}://u:SECRET@h/`, "x=".repeat(100_000)]) {
      const started = performance.now()
      assert.notMatch(Redact.text(input), /SECRET/)
      // Linear is a few milliseconds; the bound is for a loaded machine, far below the quadratic seconds.
      assert.isBelow(performance.now() - started, 2_000)
    }
  })
})

describe("Redact.headerValue", () => {
  it("URL-valued headers have their URLs redacted, relative ones included; other headers are kept", () => {
    const cases: ReadonlyArray<readonly [string, string, string]> = [
      [
        "Location",
        "https://u:SECRET1@h.example/a?access_token=SECRET2&x=1",
        "https://REDACTED@h.example/a?access_token=REDACTED&x=1"
      ],
      ["location", "/next?token=SECRET3&page=2", "/next?token=REDACTED&page=2"],
      ["content-location", "doc?sig=SECRET4", "doc?sig=REDACTED"],
      ["refresh", "5; url=https://h.example/?code=SECRET5", "5; url=https://h.example/?code=REDACTED"],
      [
        "link",
        "</p?page=2&token=SECRET6>; rel=\"next\", <https://u:SECRET7@h.example/>; rel=\"last\"",
        "</p?page=2&token=REDACTED>; rel=\"next\", <https://REDACTED@h.example/>; rel=\"last\""
      ],
      ["content-type", "text/plain; token=kept", "text/plain; token=kept"]
    ]
    for (const [name, value, expected] of cases) {
      assert.strictEqual(Redact.headerValue(name, value), expected, `${name}: ${value}`)
    }
    assert.deepStrictEqual(Redact.headers({ Location: "/x?token=SECRET8", Authorization: "Bearer y" }), {
      location: "/x?token=REDACTED",
      authorization: "REDACTED"
    })
  })
})
