import { createHash } from "node:crypto"

/** A stage's seed: a uint32 from the run seed and the instance name, so instances get independent streams. */
export const stageSeed = (runSeed: number, instance: string): number =>
  createHash("sha256").update(`${runSeed}/${instance}`).digest().readUInt32BE(0)
