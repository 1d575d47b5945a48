"""What transformers makes of a directory `pipeline export` wrote, as a new user would load it.

stdin: {"dir", "out", "conversations": [[{role, content}...]], "max_new_tokens"}; for each
conversation (its last turn, the assistant's, held out) it loads the directory with
AutoModelForCausalLM and AutoTokenizer and prints, as JSON:
  prompt     apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
  ids        the tokenizer's ids of that prompt (add_special_tokens=False: the template wrote them)
  generated  the new ids of generate(do_sample=False) with the directory's generation_config
  text       those ids decoded with skip_special_tokens
  dtype      the dtype the model loaded in
and writes the prompt's logits (fp32, row-major, positions × vocab) to OUT/logits-<i>.f32.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

torch.set_num_threads(1)
request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["dir"])
model = AutoModelForCausalLM.from_pretrained(request["dir"])
model.eval()
results = []
for i, messages in enumerate(request["conversations"]):
    prompt = tokenizer.apply_chat_template(messages[:-1], add_generation_prompt=True, tokenize=False)
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    inputs = torch.tensor([ids])
    with torch.no_grad():
        logits = model(input_ids=inputs).logits[0].to(torch.float32)
        output = model.generate(inputs, attention_mask=torch.ones_like(inputs), do_sample=False, max_new_tokens=request["max_new_tokens"])
    logits.numpy().astype("<f4").tofile(os.path.join(request["out"], f"logits-{i}.f32"))
    new = output[0][len(ids):].tolist()
    text = tokenizer.decode(new, skip_special_tokens=True)
    results.append({"prompt": prompt, "ids": ids, "generated": new, "text": text, "dtype": str(model.dtype)})
print(json.dumps(results))
