/**
 * The shared fixtures (real tokenizers, datasets, tiny models, goldens) live beside the checkout in
 * `../shared/fixtures`, in CI as here; SFT_FIXTURES points elsewhere.
 */
import { resolve } from "node:path"

export const fixtures = process.env.SFT_FIXTURES ?? resolve(import.meta.dirname, "../../../shared/fixtures")
