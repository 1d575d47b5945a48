"""Writes a messages JSONL as Parquet (snappy and zstd) and Arrow IPC (file and stream) with pyarrow.

Usage: write_columnar.py INPUT.jsonl OUT_DIR. Prints the codec of each Parquet column chunk as JSON
so the test can check the files really use the compression it asks for.
"""
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq

source, out = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]

message = pa.struct([
    ("role", pa.string()),
    ("content", pa.string()),
    ("tool_calls", pa.list_(pa.struct([
        ("type", pa.string()),
        ("function", pa.struct([("name", pa.string()), ("arguments", pa.string())])),
    ]))),
    ("name", pa.string()),
    # a field no row sets: every message gets it as null, which must not count as an unknown key
    ("tool_call_id", pa.string()),
])
# "id" is an int64 column no format reads: it must be counted as an ignored key, not break reading.
schema = pa.schema([("messages", pa.list_(message)), ("tools", pa.string()), ("id", pa.int64())])
table = pa.Table.from_pylist([{**row, "id": 2**40 + i} for i, row in enumerate(rows)], schema=schema)

codecs = {}
for codec in ("snappy", "zstd"):
    path = f"{out}/messages.{codec}.parquet"
    pq.write_table(table, path, compression=codec)
    meta = pq.ParquetFile(path).metadata
    codecs[codec] = sorted({meta.row_group(0).column(i).compression for i in range(meta.num_columns)})
with pa.OSFile(f"{out}/messages.arrow", "wb") as sink:
    with pa.ipc.new_file(sink, schema) as writer:
        writer.write_table(table)
with pa.OSFile(f"{out}/messages.arrows", "wb") as sink:
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(table)
print(json.dumps({"codecs": codecs, "schema": str(schema.field("messages").type), "pyarrow": pa.__version__}))
