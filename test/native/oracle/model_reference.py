"""Reference numbers for the native model, from transformers and torch.optim.AdamW.

  model_reference.py make-qwen3 OUTDIR   writes a small random Qwen3 (q/k norm, GQA 4:1, head_dim
                                         larger than hidden/heads, untied) with perturbed norm weights
  model_reference.py reference < JSON    runs the request below and prints JSON

Request: { model_dir, docs: [{ids, labels}], microbatches: [[doc index, ...], ...], steps,
           adamw: {lr, beta1, beta2, eps, weight_decay, max_grad_norm}, prompt, max_new_tokens, stop }
Every document runs on its own (batch of one), so nothing can attend across documents; the native
side packs them into one sequence and must match.
"""
import json
import sys

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM, Qwen3Config, Qwen3ForCausalLM

torch.set_num_threads(1)


def make_qwen3(outdir):
    torch.manual_seed(0)
    config = Qwen3Config(
        vocab_size=384, hidden_size=48, intermediate_size=80, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, head_dim=16, rms_norm_eps=1e-6, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 1e6}, initializer_range=0.2,
        bos_token_id=1, eos_token_id=2)
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
    model.save_pretrained(outdir)


def load(model_dir):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()  # dropout is 0 in these configs; eval() only makes that explicit
    return model


def doc_loss_sum(model, doc):
    """Sum of token losses of one document (labels shifted inside) and its logits (T, V)."""
    ids = torch.tensor([doc["ids"]])
    labels = torch.tensor(doc["labels"])
    logits = model(input_ids=ids).logits[0]
    loss = F.cross_entropy(logits[:-1], labels[1:], ignore_index=-100, reduction="sum")
    return loss, logits


def decays(name):
    return "bias" not in name and "norm" not in name


def reference(req):
    docs = req["docs"]
    out = {}
    model = load(req["model_dir"])
    rotary = model.model.rotary_emb
    out["inv_freq"] = rotary.inv_freq.tolist()
    out["attention_scaling"] = float(rotary.attention_scaling)

    # logits, loss and the gradient of the summed loss over all documents
    total = 0
    out["logits"], out["loss_sums"] = [], []
    for doc in docs:
        loss, logits = doc_loss_sum(model, doc)
        out["logits"].append(logits.detach().flatten().tolist())
        out["loss_sums"].append(loss.item())
        total = total + loss
    total.backward()
    out["grads"] = {n: p.grad.flatten().tolist() for n, p in model.named_parameters()}

    # greedy generation
    with torch.no_grad():
        prompt = torch.tensor([req["prompt"]])
        generated = model.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=req["max_new_tokens"],
                                   do_sample=False, eos_token_id=req["stop"], pad_token_id=req["stop"][0])
    out["generated"] = generated[0, prompt.shape[1]:].tolist()

    # AdamW steps: every step sees all micro-batches; the loss is normalised by the step's tokens
    model = load(req["model_dir"])
    a = req["adamw"]
    named = list(model.named_parameters())
    groups = [{"params": [p for n, p in named if decays(n)], "weight_decay": a["weight_decay"]},
              {"params": [p for n, p in named if not decays(n)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=a["lr"], betas=(a["beta1"], a["beta2"]), eps=a["eps"])
    tokens = sum(sum(1 for l in d["labels"][1:] if l != -100) for d in docs)
    out["grad_norms"] = []
    for _ in range(req["steps"]):
        opt.zero_grad()
        for mb in req["microbatches"]:
            loss = sum(doc_loss_sum(model, docs[i])[0] for i in mb)
            (loss / tokens).backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), a["max_grad_norm"])
        out["grad_norms"].append(norm.item())
        opt.step()
    out["weights_after"] = {n: p.detach().flatten().tolist() for n, p in model.named_parameters()}
    return out


if __name__ == "__main__":
    if sys.argv[1] == "make-qwen3":
        make_qwen3(sys.argv[2])
    elif sys.argv[1] == "reference":
        json.dump(reference(json.load(sys.stdin)), sys.stdout)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
