/**
 * The mutable state of one fault-injection server instance: the request log,
 * the failure switches, the dedupe table and the counters that the endpoints
 * consult. One instance per server, so two servers are two independent origins.
 */
import type { RecordedRequest } from "../RecordedRequest.ts"

/** Most requests kept in the log; older ones are dropped first. */
export const maxRecordedRequests = 10_000
/** Most idempotency keys remembered by `/msg`; the oldest is forgotten first. */
export const maxDedupeKeys = 10_000
/** Most resource keys (file names) whose hits are counted; the one hit longest ago is forgotten first. */
export const maxHitKeys = 10_000

/** A pending "fail the next n requests to /msg" switch. */
export interface FailureSwitch {
  remaining: number
  status: number
  retryAfter: string | undefined
  /** Sent verbatim as `retry-after-ms`. */
  retryAfterMs?: string | undefined
}

/** A fixed window of the rate-limited endpoint. */
export interface RateWindow {
  startedAt: number
  used: number
}

export class ServerState {
  /** This server's own base URL, set once it listens (for absolute redirects). */
  baseUrl = ""
  /** The raw-socket listener's base URL, set once it listens. */
  rawUrl = ""
  private readonly resetHooks: Array<() => void> = []
  requests: Array<RecordedRequest> = []
  failure: FailureSwitch = { remaining: 0, status: 503, retryAfter: undefined }
  messageIds = new Map<string, string>()
  messageCounter = 0
  bearerToken = "token-1"
  tokenGeneration = 1
  rateWindows = new Map<string, RateWindow>()
  /** How many times each resource key (for example a file's name) was served. */
  hits = new Map<string, number>()
  /** Connections accepted so far by either listener; never reset, so numbers stay unique per server. */
  private connectionCount = 0

  record(request: RecordedRequest): void {
    if (this.requests.length >= maxRecordedRequests) this.requests.shift()
    this.requests.push(request)
  }

  /** Numbers a newly accepted connection: 1, 2, 3... across both listeners of this server. */
  nextConnection(): number {
    this.connectionCount += 1
    return this.connectionCount
  }

  /**
   * Counts one more hit for `key` and returns the count including this one.
   * At most {@link maxHitKeys} keys are kept: a hit moves its key to the end,
   * and a new key past the cap forgets the one hit longest ago.
   */
  hit(key: string): number {
    const count = (this.hits.get(key) ?? 0) + 1
    if (!this.hits.delete(key) && this.hits.size >= maxHitKeys) {
      const oldest = this.hits.keys().next()
      if (!oldest.done) this.hits.delete(oldest.value)
    }
    this.hits.set(key, count)
    return count
  }

  rememberMessage(key: string, id: string): void {
    if (this.messageIds.size >= maxDedupeKeys) {
      const oldest = this.messageIds.keys().next()
      if (!oldest.done) this.messageIds.delete(oldest.value)
    }
    this.messageIds.set(key, id)
  }

  nextMessageId(): string {
    this.messageCounter += 1
    return `msg_${this.messageCounter.toString().padStart(6, "0")}_${crypto.randomUUID().slice(0, 8)}`
  }

  /** Registers private state of a route module to be cleared by `reset`. */
  onReset(hook: () => void): void {
    this.resetHooks.push(hook)
  }

  reset(): void {
    for (const hook of this.resetHooks) hook()
    this.requests = []
    this.failure = { remaining: 0, status: 503, retryAfter: undefined }
    this.messageIds.clear()
    this.messageCounter = 0
    this.bearerToken = "token-1"
    this.tokenGeneration = 1
    this.rateWindows.clear()
    this.hits.clear()
  }
}
