import { randomBytes } from "node:crypto"

/**
 * A new run id: UTC time to the millisecond plus randomness, so ids sort chronologically and two
 * runs started together never collide. Only [0-9a-z-] characters: safe as a store document id.
 */
export const newRunId = (now: Date = new Date()): string => {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").replace(/\.(\d{3})Z$/, "$1")
  return `${stamp}-${randomBytes(3).toString("hex")}`.toLowerCase()
}
