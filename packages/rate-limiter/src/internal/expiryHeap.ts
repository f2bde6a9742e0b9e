/**
 * A min-heap of the things a store holds in memory, by when each stops
 * mattering, with each node's place kept on the node: adding, moving (its
 * expiry changed) and removing a node are O(log n), and the first to expire
 * is O(1). The memory store uses it to forget exactly the states that no
 * longer limit anything, and to say when the first of the others will.
 */

/** What the heap orders: a node knows its expiry and its place. */
export interface Node {
  /** When it stops mattering (the store's clock, ms). */
  expiresAt: number
  /** Its place in the heap; -1 when it is in none. */
  index: number
}

/** A heap of nodes ordered by `expiresAt`. */
export interface ExpiryHeap<N extends Node> {
  readonly size: () => number
  /** The node that expires first, if any. */
  readonly first: () => N | undefined
  /** Adds a node that is in no heap. */
  readonly add: (node: N) => void
  /** Sets a node's expiry and moves it to its place. */
  readonly update: (node: N, expiresAt: number) => void
  /** Removes a node (one in no heap is left alone). */
  readonly remove: (node: N) => void
}

/** Makes an empty heap. */
export const make = <N extends Node>(): ExpiryHeap<N> => {
  const nodes: Array<N> = []

  const place = (node: N, index: number) => {
    nodes[index] = node
    node.index = index
  }

  const up = (index: number) => {
    const node = nodes[index]!
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (nodes[parent]!.expiresAt <= node.expiresAt) break
      place(nodes[parent]!, index)
      index = parent
    }
    place(node, index)
  }

  const down = (index: number) => {
    const node = nodes[index]!
    const length = nodes.length
    while (true) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && nodes[right]!.expiresAt < nodes[left]!.expiresAt ? right : left
      if (node.expiresAt <= nodes[child]!.expiresAt) break
      place(nodes[child]!, index)
      index = child
    }
    place(node, index)
  }

  return {
    size: () => nodes.length,
    first: () => nodes[0],
    add: (node) => {
      nodes.push(node)
      up(nodes.length - 1)
    },
    update: (node, expiresAt) => {
      const before = node.expiresAt
      node.expiresAt = expiresAt
      if (node.index < 0 || nodes[node.index] !== node) return
      if (expiresAt < before) up(node.index)
      else if (expiresAt > before) down(node.index)
    },
    remove: (node) => {
      const index = node.index
      if (index < 0 || nodes[index] !== node) return
      node.index = -1
      const last = nodes.pop()!
      if (last === node) return
      place(last, index)
      up(index)
      down(last.index)
    }
  }
}
