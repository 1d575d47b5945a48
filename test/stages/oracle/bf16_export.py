"""A bf16 (and sharded) export against torch's own rounding of the fp32 export.

stdin: {"fp32", "bf16"}: two exported directories of the same weights. Prints JSON: the dtype
transformers loads the bf16 one in, how many tensors it has, and the names of those that differ
from the fp32 model's tensors rounded with .to(torch.bfloat16).
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM

request = json.load(sys.stdin)
exact = AutoModelForCausalLM.from_pretrained(request["fp32"], dtype=torch.float32).state_dict()
rounded = AutoModelForCausalLM.from_pretrained(request["bf16"])
state = rounded.state_dict()
differ = [name for name, tensor in state.items() if not torch.equal(tensor, exact[name].to(torch.bfloat16))]
print(json.dumps({"dtype": str(rounded.dtype), "tensors": len(state), "differ": differ}))
