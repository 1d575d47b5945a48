/**
 * Validation of the caller-supplied arguments of store methods, shared by every implementation:
 * above all the names that become path segments under the store root (stage keys, run ids, lock
 * names), so no id can point outside the root.
 */
import { Effect } from "effect"
import * as Digests from "./Digest.ts"
import { seal, sealField } from "./DocumentSeal.ts"
import { type DocumentKind, type ObjectRef, StoreError } from "./Store.ts"

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

/** Fails unless `kind` is one of the two document kinds (callers may bypass the type). */
export const validateKind = (method: string, kind: unknown): Effect.Effect<DocumentKind, StoreError> =>
  kind === "stages" || kind === "runs"
    ? Effect.succeed(kind)
    : Effect.fail(new StoreError({ method, key: String(kind), message: `unknown document kind ${String(kind)}: expected "stages" or "runs"` }))

/** Fails unless `ref` holds a well-formed digest and a non-negative integer size. */
export const validateRef = (method: string, ref: ObjectRef): Effect.Effect<ObjectRef, StoreError> =>
  Digests.isDigest(ref.digest) && Number.isSafeInteger(ref.size) && ref.size >= 0
    ? Effect.succeed(ref)
    : Effect.fail(new StoreError({ method, key: String(ref.digest), message: `invalid object reference ${JSON.stringify(ref)}` }))

/** Fails unless `step` is a checkpoint step: an integer >= 0. */
export const validateStep = (step: number): Effect.Effect<number, StoreError> =>
  Number.isSafeInteger(step) && step >= 0
    ? Effect.succeed(step)
    : Effect.fail(new StoreError({ method: "saveCheckpoint", key: String(step), message: `invalid checkpoint step ${step}: expected an integer >= 0` }))

/** The sealed JSON text of a document (see DocumentSeal.ts), or a StoreError when `doc` has no such form. */
export const documentText = (kind: DocumentKind, id: string, doc: unknown): Effect.Effect<string, StoreError> =>
  Effect.try({
    try: () => seal(doc),
    catch: (cause) => new StoreError({ method: "putDocument", key: id, message: `${kind}/${id}: not serialisable: ${(cause as Error).message}`, cause })
  }).pipe(
    Effect.flatMap((text) =>
      text === undefined
        ? Effect.fail(
          new StoreError({
            method: "putDocument",
            key: id,
            message: `${kind}/${id}: a document is a JSON object without a "${sealField}" field (got ${Array.isArray(doc) ? "an array" : typeof doc})`
          })
        )
        : Effect.succeed(text)
    )
  )
