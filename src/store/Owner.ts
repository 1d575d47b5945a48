/**
 * Which process owns a lock file or a tmp/ entry, and whether that process is gone.
 *
 * Ownership is the pid plus a short hash of the hostname: a pid can only be checked for liveness on
 * its own host, so entries from another host (a store on shared storage) are never judged dead by pid.
 */
import { createHash, randomBytes } from "node:crypto"
import { readFileSync } from "node:fs"
import { hostname } from "node:os"
import { Option } from "effect"

/** A process that may hold a lock or own a temporary entry. */
export interface Owner {
  readonly pid: number
  readonly host: string
}

const hostId = (name: string): string => createHash("sha256").update(name).digest("hex").slice(0, 8)

/** This process. */
export const self: Owner = { pid: process.pid, host: hostId(hostname()) }

/**
 * Whether a live pid is a zombie: killed, not yet reaped by its parent (a `kill -9`ed run whose
 * parent has not waited yet). Linux says so in /proc; elsewhere it cannot be told, and it is alive.
 */
const isZombie = (pid: number): boolean => {
  try {
    return /^\d+ \(.*\) Z /s.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

/**
 * Whether `owner` certainly no longer runs: same host and signal 0 says no such process (or a
 * zombie). EPERM means the process exists under another user, so it counts as alive.
 */
export const isDead = (owner: Owner): boolean => {
  if (owner.host !== self.host) return false
  if (owner.pid === self.pid) return false
  try {
    process.kill(owner.pid, 0)
    return isZombie(owner.pid)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH"
  }
}

/**
 * How long an entry whose owner cannot be checked (another host's, or one without an owner) is
 * kept after its last change before gc may remove it.
 */
export const unownedLifetimeMs = 24 * 60 * 60 * 1000

/** Whether an entry last changed at `mtime` has outlived {@link unownedLifetimeMs}. */
export const outlived = (mtime: Option.Option<Date>): boolean =>
  Option.match(mtime, { onNone: () => false, onSome: (date) => Date.now() - date.getTime() > unownedLifetimeMs })

/** A fresh tmp/ entry name that records its owner: `<pid>.<host>.<purpose>.<random>`. */
export const tmpName = (purpose: string): string =>
  `${self.pid}.${self.host}.${purpose}.${randomBytes(8).toString("hex")}`

const tmpPattern = /^(\d+)\.([0-9a-f]{8})\.[a-z]+\.[0-9a-f]{16}$/

/** The owner encoded in a name made by `tmpName`, if it is one. */
export const parseTmpName = (name: string): Owner | undefined => {
  const match = tmpPattern.exec(name)
  return match ? { pid: Number(match[1]), host: match[2]! } : undefined
}
