/**
 * Which process owns a lock file or a tmp/ entry, and whether that process is gone.
 *
 * Ownership is the pid plus a short hash of the hostname: a pid can only be checked for liveness on
 * its own host, so entries from another host (a store on shared storage) are never judged dead by pid.
 */
import { createHash, randomBytes } from "node:crypto"
import { hostname } from "node:os"

/** A process that may hold a lock or own a temporary entry. */
export interface Owner {
  readonly pid: number
  readonly host: string
}

const hostId = (name: string): string => createHash("sha256").update(name).digest("hex").slice(0, 8)

/** This process. */
export const self: Owner = { pid: process.pid, host: hostId(hostname()) }

/**
 * Whether `owner` certainly no longer runs: same host and signal 0 says no such process.
 * EPERM means the process exists under another user, so it counts as alive.
 */
export const isDead = (owner: Owner): boolean => {
  if (owner.host !== self.host) return false
  if (owner.pid === self.pid) return false
  try {
    process.kill(owner.pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}

/** A fresh tmp/ entry name that records its owner: `<pid>.<host>.<purpose>.<random>`. */
export const tmpName = (purpose: string): string =>
  `${self.pid}.${self.host}.${purpose}.${randomBytes(8).toString("hex")}`

const tmpPattern = /^(\d+)\.([0-9a-f]{8})\.[a-z]+\.[0-9a-f]{16}$/

/** The owner encoded in a name made by `tmpName`, if it is one. */
export const parseTmpName = (name: string): Owner | undefined => {
  const match = tmpPattern.exec(name)
  return match ? { pid: Number(match[1]), host: match[2]! } : undefined
}
