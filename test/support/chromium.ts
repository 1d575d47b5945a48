/**
 * Headless Chromium (Debian's `chromium`, or $CHROMIUM) driven by playwright-core, for tests that
 * open a page as a person would. `.ci/run` installs it; elsewhere those tests skip with the reason.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import type { BrowserContext } from "playwright-core"
import { requiredInCi } from "./optional.ts"

const executable = process.env.CHROMIUM ?? "/usr/bin/chromium"

/** `describe` that runs only when Chromium is installed. */
export const describeChromium = requiredInCi(
  existsSync(executable),
  `chromium not found at ${executable} (apt-get install chromium, or set CHROMIUM)`
)

/** A headless Chromium with a fresh profile that reaches no network service of its own; `close` removes the profile. */
export const launchChromium = async (): Promise<{ context: BrowserContext; close: () => Promise<void> }> => {
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    headless: true,
    args: [
      // Root (as in CI) cannot use Chromium's sandbox.
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync"
    ]
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
