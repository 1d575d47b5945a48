/**
 * Validation of every caller-supplied name that becomes a path segment under the store root
 * (stage keys, run ids, lock names), so no id can point outside the root.
 */
import { Effect } from "effect"
import { StoreError } from "./Store.ts"

const allowed = /^[A-Za-z0-9_.-]{1,200}$/

/** Whether `id` is a single safe path segment: [A-Za-z0-9_.-], at most 200 characters, no "..". */
export const isValidId = (id: unknown): id is string =>
  typeof id === "string" && allowed.test(id) && !id.includes("..") && id !== "."

/** Fails with a StoreError naming `method` unless `id` is a safe path segment. */
export const validateId = (method: string, id: unknown): Effect.Effect<string, StoreError> =>
  isValidId(id)
    ? Effect.succeed(id)
    : Effect.fail(
        new StoreError({
          method,
          key: String(id),
          message: `invalid id ${JSON.stringify(String(id))}: expected 1-200 characters of [A-Za-z0-9_.-], not "." and without ".."`
        })
      )
