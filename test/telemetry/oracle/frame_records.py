"""TensorBoard's own TFRecord writer: frames each hex payload read from stdin (one a line, "-" for an empty one) and prints the framed bytes as hex."""
import io
import sys

from tensorboard.summary.writer.record_writer import RecordWriter

out = io.BytesIO()
writer = RecordWriter(out)
for line in sys.stdin.read().split("\n"):
    writer.write(b"" if line == "-" else bytes.fromhex(line))
sys.stdout.write(out.getvalue().hex())
