/**
 * A program some tests need that CI installs and a user's machine may lack (the oracle, Chromium).
 * Without it those tests are skipped with the reason printed; in CI (`CI=true`) a missing one
 * fails instead of skipping silently.
 */
import { describe, it } from "vitest"

/** `describe` that runs only when `found`, and otherwise reports one skipped test naming `reason`. */
export const requiredInCi = (found: boolean, reason: string) => {
  if (!found && process.env.CI === "true") throw new Error(`${reason}: CI requires it`)
  // Without the program `body` is never called: vitest collects a skipped suite by running its
  // body, where any call to the program would throw and fail the whole file.
  return (name: string, body: () => void): void => {
    if (found) {
      describe(name, body)
    } else {
      console.warn(`skipped "${name}": ${reason}`)
      it.skip(`${name} [skipped: ${reason}]`)
    }
  }
}
