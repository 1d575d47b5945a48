"""Reference side of the engine parity tests: transformers models in fp32 on CPU.

  make OUT         stdin: {name: {"config": config.json dict, "seed": int, "bf16_shards"?: size}}; writes
                   OUT/<name>/ with random weights (norm weights and biases perturbed too, so their
                   gradients matter), and with bf16_shards also OUT/<name>-bf16-sharded/ in bf16, sharded
  run              stdin: {"models": {name: dir}, "docs": [{"ids", "labels"}], "micro_batches": [[doc...]],
                   "lrs": [...], "adam": {...}, "prompt": [...], "max_new_tokens", "stop": [...]};
                   for each model prints:
                     logits      every document run SEPARATELY, rows concatenated (what packing must equal)
                     loss_sum    sum over documents of the shifted token losses (-100 ignored); tokens
                     grads       d(loss_sum)/dθ by parameter name
                     generated   greedy generation after the prompt (generate, do_sample=False), ending
                                 after a stop token; gaps: per new token, its logit's lead over the
                                 runner-up (a tiny lead is a tie that rounding may decide either way)
                     steps       len(lrs) optimizer steps: per step the micro-batches' summed losses are
                                 divided by the step's scored tokens, the gradient norm is clipped
                                 (clip_grad_norm_) and torch.optim.AdamW steps with no weight decay on
                                 biases and norm weights; grad_norms and the final weights
                     noise_floor per parameter, how far the same training with transformers' sdpa
                                 attention ends from the eager one (relative L2): the reference's
                                 own rounding noise, large where a gradient is zero in exact
                                 arithmetic (k_proj biases in dims RoPE barely rotates)
  logits           stdin: {name: {"dir", "docs"}}; loads each exported directory with
                   AutoModelForCausalLM and prints its per-document logits, concatenated
Tensors are printed as flat lists of fp32 values.
"""
import json
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM

torch.set_num_threads(1)


def flat(t):
    return t.detach().to(torch.float32).flatten().tolist()


def load(path, attention="eager"):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation=attention)
    model.train()  # dropout is 0 in every config we accept; train mode is what fine-tuning runs
    return model


def doc_loss(model, doc):
    ids = torch.tensor([doc["ids"]])
    logits = model(input_ids=ids).logits[0]
    labels = torch.tensor(doc["labels"])
    # HF's causal-LM shift: position t is scored against labels[t+1]
    loss = torch.nn.functional.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum")
    return logits, loss, int((labels[1:] != -100).sum())


def make(out):
    specs = json.load(sys.stdin)
    for name, spec in specs.items():
        torch.manual_seed(spec["seed"])
        config = AutoConfig.for_model(**spec["config"])
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        with torch.no_grad():
            for pname, p in model.named_parameters():
                if "norm" in pname:
                    p.add_(torch.randn_like(p) * 0.1)
                elif pname.endswith(".bias"):
                    p.copy_(torch.randn_like(p) * 0.1)
        model.save_pretrained(f"{out}/{name}", safe_serialization=True)
        if spec.get("bf16_shards"):
            # the form most hub checkpoints take: bf16 weights split into shards with an index
            model.to(torch.bfloat16).save_pretrained(f"{out}/{name}-bf16-sharded", max_shard_size=spec["bf16_shards"])
    print(json.dumps(sorted(specs)))


def no_decay(name):
    return name.endswith(".bias") or "norm" in name


def train(model, request):
    docs = request["docs"]
    adam = request["adam"]
    groups = [
        {"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": adam["weight_decay"]},
        {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=request["lrs"][0], betas=(adam["beta1"], adam["beta2"]), eps=adam["eps"])
    step_tokens = sum(sum(1 for label in docs[d]["labels"][1:] if label != -100) for mb in request["micro_batches"] for d in mb)
    grad_norms = []
    for lr in request["lrs"]:
        for group in optimizer.param_groups:
            group["lr"] = lr
        for micro_batch in request["micro_batches"]:
            for d in micro_batch:
                _, loss, _ = doc_loss(model, docs[d])
                (loss / step_tokens).backward()
        grad_norms.append(torch.nn.utils.clip_grad_norm_(model.parameters(), adam["max_grad_norm"]).item())
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return {n: p.detach().clone() for n, p in model.named_parameters()}, grad_norms


def greedy(model, request):
    prompt = torch.tensor([request["prompt"]])
    stop = request["stop"]
    with torch.no_grad():
        out = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=request["max_new_tokens"],
                             do_sample=False, eos_token_id=stop, pad_token_id=stop[0], output_logits=True,
                             return_dict_in_generate=True)
    gaps = [(top[0] - top[1]).item() for top in (step[0].topk(2).values for step in out.logits)]
    return out.sequences[0, prompt.shape[1]:].tolist(), gaps


def run():
    request = json.load(sys.stdin)
    docs = request["docs"]
    results = {}
    for name, path in request["models"].items():
        model = load(path)
        logits, loss_sum, tokens = [], 0.0, 0
        for doc in docs:
            doc_logits, loss, n = doc_loss(model, doc)
            loss.backward()
            logits.append(doc_logits)
            loss_sum += loss.item()
            tokens += n
        grads = {n: flat(p.grad) for n, p in model.named_parameters()}
        model.zero_grad(set_to_none=True)
        generated, gaps = greedy(model, request)

        weights, grad_norms = train(model, request)
        sdpa, _ = train(load(path, "sdpa"), request)
        noise_floor = {n: (sdpa[n] - w).norm().item() / max(w.norm().item(), 1e-30) for n, w in weights.items()}
        results[name] = {
            "logits": flat(torch.cat(logits)),
            "loss_sum": loss_sum,
            "tokens": tokens,
            "grads": grads,
            "generated": generated,
            "gaps": gaps,
            "grad_norms": grad_norms,
            "weights": {n: flat(w) for n, w in weights.items()},
            "noise_floor": noise_floor,
        }
    print(json.dumps(results))


def logits():
    request = json.load(sys.stdin)
    out = {}
    with torch.no_grad():
        for name, item in request.items():
            model = load(item["dir"])
            out[name] = flat(torch.cat([model(input_ids=torch.tensor([d["ids"]])).logits[0] for d in item["docs"]]))
    print(json.dumps(out))


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "make":
        make(sys.argv[2])
    elif command == "run":
        run()
    elif command == "logits":
        logits()
    else:
        raise SystemExit(f"unknown command {command}")
