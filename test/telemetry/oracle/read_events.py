"""TensorBoard's own readers over a store's runs folder, as `tensorboard --logdir <store>/runs` sees it.

  python read_events.py <runs-dir> <run-id>/<stage>

Prints JSON: the runs TensorBoard's multiplexer finds under <runs-dir>, and for the one named, every
scalar tag (step, value, wall time) and every text tag (step, text) its event accumulator reads.
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator, plugin_event_multiplexer

runs_dir, name = sys.argv[1], sys.argv[2]
multiplexer = plugin_event_multiplexer.EventMultiplexer()
multiplexer.AddRunsFromDirectory(runs_dir)
multiplexer.Reload()
runs = sorted(multiplexer.Runs().keys())

accumulator = event_accumulator.EventAccumulator(f"{runs_dir}/{name}", size_guidance={"scalars": 0, "tensors": 0})
accumulator.Reload()
tags = accumulator.Tags()
scalars = {tag: [[e.step, e.value, e.wall_time] for e in accumulator.Scalars(tag)] for tag in tags["scalars"]}
texts = {
    tag: [[e.step, b"".join(e.tensor_proto.string_val).decode("utf-8")] for e in accumulator.Tensors(tag)]
    for tag in tags["tensors"]
}
json.dump({"runs": runs, "scalars": scalars, "texts": texts}, sys.stdout)
