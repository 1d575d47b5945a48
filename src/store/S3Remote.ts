/**
 * The shared store on S3-compatible object storage (AWS S3, Ceph radosgw, …), `s3://bucket/prefix`.
 * The endpoint, region and credentials come from the AWS SDK's usual sources (AWS_ENDPOINT_URL,
 * AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, profiles).
 *
 * A stage record is created with `If-None-Match: *`, which S3 and radosgw apply atomically to a
 * single PUT, so exactly one of two racing writers wins. Objects above `partSize` go up in parts;
 * CompleteMultipartUpload ignores If-None-Match, which is harmless for content-addressed objects
 * (both writers complete the same bytes). Every upload hashes what it sends and is abandoned before
 * it becomes visible if that is not the object's digest.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { Effect, Layer, Option } from "effect"
import * as Digests from "./Digest.ts"
import { type RecordKind, Remote, type RemoteShape, validateRecordKind } from "./Remote.ts"
import type { S3Location } from "./S3Location.ts"
import { type ObjectRef, StoreError } from "./Store.ts"
import { isValidId, validateId, validateRef } from "./StoreId.ts"

/**
 * 16 MiB parts: S3 allows at most 10,000 parts (so up to 156 GiB per object) and at least 5 MiB per
 * part; a part is held in memory once while it is hashed and sent.
 */
export const partSize = 16 << 20

const status = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
const isAbsent = (error: unknown): boolean => status(error) === 404
/** 412: the record exists; 409: radosgw lost a race with a concurrent conditional PUT of the same key. */
const isTaken = (error: unknown): boolean => status(error) === 412 || status(error) === 409

/** The shared store at `location`, through `client`. */
export const makeS3Remote = (location: S3Location, client: S3Client): RemoteShape => {
  const { bucket } = location
  const url = `s3://${bucket}${location.prefix === "" ? "" : `/${location.prefix}`}`
  const keyOf = (...parts: ReadonlyArray<string>) => [location.prefix, ...parts].filter((part) => part !== "").join("/")
  const objectKey = (digest: string) => keyOf("objects", "sha256", digest.slice(0, 2), digest)
  const recordKey = (kind: RecordKind, id: string) => keyOf(kind, `${id}.json`)

  const call = <A>(method: string, key: string, send: (signal: AbortSignal) => Promise<A>) =>
    Effect.tryPromise({
      try: send,
      catch: (cause) => new StoreError({ method, key, message: `${url}: ${method} ${key}: ${(cause as Error).message}`, cause })
    })
  /** A call whose 404 means "absent" rather than an error. */
  const optional = <A>(method: string, key: string, send: (signal: AbortSignal) => Promise<A>) =>
    call(method, key, (signal) => send(signal).then(Option.some, (error) => (isAbsent(error) ? Option.none<A>() : Promise.reject(error))))

  const hasObject = (ref: ObjectRef) =>
    Effect.gen(function* () {
      yield* validateRef("hasObject", ref)
      const head = yield* optional("hasObject", ref.digest, (abortSignal) =>
        client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(ref.digest) }), { abortSignal }))
      return Option.isSome(head) && head.value.ContentLength === ref.size
    })

  const mismatch = (ref: ObjectRef) =>
    new StoreError({ method: "putObject", key: ref.digest, message: `${url}: object ${ref.digest}: its source changed while it was uploaded` })

  const putWhole = (ref: ObjectRef, bytes: Uint8Array) =>
    Effect.gen(function* () {
      if (bytes.length !== ref.size || Digests.ofBytes(bytes) !== ref.digest) return yield* mismatch(ref)
      yield* call("putObject", ref.digest, (abortSignal) =>
        client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey(ref.digest), Body: bytes, ContentLength: bytes.length }), { abortSignal }))
    })

  const putParts = (ref: ObjectRef, source: Parameters<RemoteShape["putObject"]>[1]) =>
    Effect.gen(function* () {
      const Key = objectKey(ref.digest)
      const created = yield* call("putObject", ref.digest, (abortSignal) =>
        client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }), { abortSignal }))
      const UploadId = created.UploadId!
      const upload = Effect.gen(function* () {
        const hash = Digests.hasher()
        const parts: Array<{ ETag: string; PartNumber: number }> = []
        for (let offset = 0, PartNumber = 1; offset < ref.size; offset += partSize, PartNumber++) {
          const bytes = yield* source.read(offset, Math.min(partSize, ref.size - offset))
          hash.update(bytes)
          const sent = yield* call("putObject", ref.digest, (abortSignal) =>
            client.send(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body: bytes, ContentLength: bytes.length }), { abortSignal }))
          parts.push({ ETag: sent.ETag!, PartNumber })
        }
        if (Digests.fromHash(hash) !== ref.digest) return yield* mismatch(ref)
        yield* call("putObject", ref.digest, (abortSignal) =>
          client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: parts } }), { abortSignal }))
      })
      yield* upload.pipe(
        Effect.onExit((exit) =>
          exit._tag === "Success"
            ? Effect.void
            : call("putObject", ref.digest, () => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }))).pipe(Effect.ignore)
        )
      )
    })

  const putObject: RemoteShape["putObject"] = (ref, source) =>
    Effect.gen(function* () {
      if (yield* hasObject(ref)) return
      if (source.size !== ref.size) return yield* mismatch(ref)
      if (ref.size <= partSize) yield* putWhole(ref, yield* source.read(0, ref.size))
      else yield* putParts(ref, source)
    })

  const getObject = (ref: ObjectRef) =>
    Effect.gen(function* () {
      yield* validateRef("getObject", ref)
      const got = yield* optional("getObject", ref.digest, (abortSignal) =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(ref.digest) }), { abortSignal }))
      return Option.map(got, (response) => response.Body as AsyncIterable<Uint8Array>)
    })

  /** Copies `key` to quarantine/ with the reason in its metadata, then deletes it. */
  const quarantine = (method: string, key: string, name: string, reason: string) =>
    Effect.gen(function* () {
      const copied = yield* optional(method, key, (abortSignal) =>
        client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            CopySource: `${bucket}/${encodeURIComponent(key).replaceAll("%2F", "/")}`,
            Key: keyOf("quarantine", `${name}.${Date.now()}`),
            Metadata: { why: encodeURIComponent(reason) },
            MetadataDirective: "REPLACE"
          }),
          { abortSignal }
        ))
      if (Option.isSome(copied)) yield* call(method, key, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal }))
    })

  const checkRecord = (method: string, kind: RecordKind, id: string) =>
    validateRecordKind(method, kind).pipe(Effect.andThen(validateId(method, id)), Effect.as(recordKey(kind, id)))

  const putText = (method: string, id: string, Key: string, text: string, ifAbsent: boolean) =>
    call(method, id, (abortSignal) =>
      client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: text,
          ContentType: "application/json",
          ...(ifAbsent ? { IfNoneMatch: "*" } : {})
        }),
        { abortSignal }
      ))

  return {
    location: url,
    hasObject,
    putObject,
    getObject,
    quarantineObject: (digest, reason) => quarantine("quarantineObject", objectKey(digest), digest, `object ${digest}: ${reason}`),
    getRecord: (kind, id) =>
      Effect.gen(function* () {
        const Key = yield* checkRecord("getRecord", kind, id)
        const got = yield* optional("getRecord", id, async (abortSignal) => {
          const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key }), { abortSignal })
          return { text: await response.Body!.transformToString("utf8"), mtimeMs: response.LastModified?.getTime() ?? 0 }
        })
        return got
      }),
    createRecord: (kind, id, text) =>
      Effect.gen(function* () {
        const Key = yield* checkRecord("createRecord", kind, id)
        return yield* putText("createRecord", id, Key, text, true).pipe(
          Effect.as(true),
          Effect.catchIf((error) => isTaken(error.cause), () => Effect.succeed(false))
        )
      }),
    putRecord: (kind, id, text) =>
      Effect.gen(function* () {
        yield* putText("putRecord", id, yield* checkRecord("putRecord", kind, id), text, false)
      }),
    deleteRecord: (kind, id) =>
      Effect.gen(function* () {
        const Key = yield* checkRecord("deleteRecord", kind, id)
        yield* call("deleteRecord", id, (abortSignal) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key }), { abortSignal }))
      }),
    quarantineRecord: (kind, id, reason) =>
      Effect.gen(function* () {
        const Key = yield* checkRecord("quarantineRecord", kind, id)
        yield* quarantine("quarantineRecord", Key, `${kind}.${id}.json`, `${kind}/${id}.json: ${reason}`)
      }),
    listRecords: (kind, idPrefix = "") =>
      Effect.gen(function* () {
        yield* validateRecordKind("listRecords", kind)
        const Prefix = `${keyOf(kind)}/`
        const found: Array<{ id: string; mtimeMs: number }> = []
        let ContinuationToken: string | undefined
        do {
          const page = yield* call("listRecords", kind, (abortSignal) =>
            client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: Prefix + idPrefix, ContinuationToken }), { abortSignal }))
          for (const item of page.Contents ?? []) {
            const name = item.Key!.slice(Prefix.length)
            const id = name.slice(0, -".json".length)
            if (name.endsWith(".json") && isValidId(id)) found.push({ id, mtimeMs: item.LastModified?.getTime() ?? 0 })
          }
          ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined
        } while (ContinuationToken !== undefined)
        return found
      })
  }
}

/** A client configured from the environment, with the settings S3-compatible servers need. */
export const clientFromEnv = (): S3Client =>
  new S3Client({
    // Path-style URLs work with every S3-compatible server; virtual-host style needs DNS per bucket.
    forcePathStyle: true,
    // Checksums the SDK adds by default make radosgw answer 411 to streamed bodies.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1"
  })

/** The shared store at `location`, its client made from the environment and destroyed with the layer. */
export const layerS3 = (location: S3Location): Layer.Layer<Remote> =>
  Layer.effect(
    Remote,
    Effect.acquireRelease(Effect.sync(clientFromEnv), (client) => Effect.sync(() => client.destroy())).pipe(
      Effect.map((client) => makeS3Remote(location, client))
    )
  )
