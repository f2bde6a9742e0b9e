/**
 * The `ietf` dialect of `ServerFeedback`: the IETF httpapi rate-limit drafts
 * in their three shapes, `RateLimit-Limit`/`-Remaining`/`-Reset` (drafts 00
 * to 06), the `RateLimit` dictionary (draft 07) and the `RateLimit` list of
 * named service limits (drafts 08 and later), each joined with the windows
 * (and, from draft 08, the quotas) of `RateLimit-Policy`.
 */
import type { Budget } from "../ServerFeedback.ts"
import {
  budget,
  count,
  type HeaderValues,
  parseInteger,
  parseResetInteger,
  pick,
  resetFromNumber
} from "./feedbackHeaders.ts"
import * as StructuredField from "./structuredField.ts"

/** Items of a structured field beyond this many are ignored. */
const maxItems = 16

/** The first `maxItems` members of a list field; `undefined` when it is absent or malformed. */
const readList = (lines: ReadonlyArray<string> | undefined): Array<StructuredField.Member> | undefined =>
  lines === undefined ? undefined : StructuredField.parseList(lines)?.slice(0, maxItems)

/** The non-negative integer value of a bare item or parameter. */
const itemCount = (item: StructuredField.BareItem | "inner-list" | undefined): number | undefined =>
  item !== undefined && item !== "inner-list" && item.kind === "number" ? count(item.value) : undefined

/** The name of a bare item (a string, or leniently a token). */
const itemName = (item: StructuredField.BareItem | "inner-list"): string | undefined =>
  item !== "inner-list" && (item.kind === "string" || item.kind === "token") ? item.value : undefined

/** A policy of `RateLimit-Policy`: a quota with its window, named in drafts 08 and later. */
interface Policy {
  readonly name: string | undefined
  readonly quota: number | undefined
  readonly windowMillis: number | undefined
  /** Whether its quota unit (`qu`) is requests, the only unit modelled. */
  readonly requests: boolean
}

const readPolicies = (lines: ReadonlyArray<string> | undefined): ReadonlyArray<Policy> => {
  const out: Array<Policy> = []
  for (const member of readList(lines) ?? []) {
    if (member.value === "inner-list") continue
    const window = itemCount(member.params.get("w"))
    const unit = member.params.get("qu")
    out.push({
      // Drafts up to 07: `100;w=60` (the item is the quota); 08 and later: `"name";q=100;w=60`.
      name: itemName(member.value),
      quota: member.value.kind === "number" ? itemCount(member.value) : itemCount(member.params.get("q")),
      windowMillis: window === undefined || window === 0 ? undefined : window * 1000,
      requests: unit === undefined || (unit.kind === "string" && unit.value === "requests")
    })
  }
  return out
}

/**
 * The quota and window of every named requests policy whose service limit is
 * not in `reported`: a policy without a service limit still tells them.
 */
const unreportedPolicies = (policies: ReadonlyArray<Policy>, reported: ReadonlySet<string>): Array<Budget> =>
  policies.flatMap((policy): Array<Budget> =>
    policy.name === undefined || reported.has(policy.name) || !policy.requests || policy.quota === undefined
      ? []
      : [{
        unit: "requests",
        limit: policy.quota,
        ...(policy.windowMillis === undefined ? {} : { windowMillis: policy.windowMillis }),
        source: "ietf"
      }]
  )

/** Every `requests` budget the IETF headers report, in the order: drafts 00 to 06, then `RateLimit`. */
export const readIetf = (headers: HeaderValues, now: number | undefined): Array<Budget> => {
  const out: Array<Budget> = []
  const policies = readPolicies(headers.get("ratelimit-policy"))
  const windowForQuota = (quota: number | undefined) =>
    quota === undefined ? undefined : policies.find((policy) => policy.quota === quota)?.windowMillis
  const reset = (seconds: number | undefined) => seconds === undefined ? undefined : resetFromNumber(seconds, now)

  // Drafts 00 to 06.
  const limit = pick(headers.get("ratelimit-limit"), parseInteger, "min")
  const legacy = budget("ietf", "requests", {
    limit,
    remaining: pick(headers.get("ratelimit-remaining"), parseInteger, "min"),
    resetAfterMillis: reset(pick(headers.get("ratelimit-reset"), parseResetInteger, "max")),
    windowMillis: windowForQuota(limit)
  })
  if (legacy !== undefined) out.push(legacy)

  const field = headers.get("ratelimit")
  if (field === undefined) {
    out.push(...unreportedPolicies(policies, new Set()))
    return out
  }

  // Drafts 08 and later: a list of named service limits.
  const list = readList(field)
  if (list !== undefined) {
    const named = new Set<string>()
    for (const member of list) {
      const name = itemName(member.value)
      if (name === undefined) continue
      const policy = policies.find((candidate) => candidate.name === name)
      if (policy !== undefined && !policy.requests) continue
      named.add(name)
      const item = budget("ietf", "requests", {
        limit: policy?.quota,
        remaining: itemCount(member.params.get("r")),
        resetAfterMillis: reset(itemCount(member.params.get("t"))),
        windowMillis: policy?.windowMillis
      })
      if (item !== undefined) out.push(item)
    }
    out.push(...unreportedPolicies(policies, named))
    return out
  }

  // Draft 07: one dictionary.
  const dictionary = StructuredField.parseDictionary(field)
  if (dictionary !== undefined) {
    const dictionaryLimit = itemCount(dictionary.get("limit")?.value)
    const item = budget("ietf", "requests", {
      limit: dictionaryLimit,
      remaining: itemCount(dictionary.get("remaining")?.value),
      resetAfterMillis: reset(itemCount(dictionary.get("reset")?.value)),
      windowMillis: windowForQuota(dictionaryLimit)
    })
    if (item !== undefined) out.push(item)
  }
  return out
}
