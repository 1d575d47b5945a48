"""Harness of the Triton kernel checks (<op>_check.py, named apart from the kernel file <op>.py it
imports): for each case, compute(case) returns {name: (ours, reference)}; prints as JSON, per case
and tensor, max |diff|, relative L2 and cosine (in fp64).

On the CPU (TRITON_INTERPRET=1, set by the vitest side) the kernels run in Triton's interpreter on
fp32 tensors: the interpreter's fp32 tl.dot matches PyTorch, its bf16 tl.dot does not. With
SFT_TRITON_DEVICE=cuda they run compiled on the GPU in bf16, against the fp32 PyTorch reference on
the same (bf16-rounded) inputs. Each tensor gets a verdict against TOLERANCE; the exit status is 1
when any fails. check.ts puts native/triton on PYTHONPATH."""
import json
import os
import sys

import torch

DEVICE = os.environ.get("SFT_TRITON_DEVICE", "cpu")
DTYPE = torch.bfloat16 if DEVICE == "cuda" else torch.float32


def rand(*shape, scale=1.0):
    """A tensor in the kernels' dtype on the device."""
    return (scale * torch.randn(*shape)).to(DTYPE).to(DEVICE)


def ref(x):
    """The reference's copy of an input: fp32, on the CPU, requiring grad when x is floating."""
    y = x.detach().float().cpu().clone()
    return y.requires_grad_() if y.is_floating_point() else y


# fp32 in the interpreter: outputs 1e-5, gradients (names starting with "d") 1e-4 relative L2, as the
# cpu op tests; bf16 on the device: 1e-2 and 2e-2, and a cosine of at least 0.999 (issue 11).
TOLERANCE = {
    "cpu": {"output": 1e-5, "gradient": 1e-4, "cosine": 0.99999},
    "cuda": {"output": 1e-2, "gradient": 2e-2, "cosine": 0.999},
}[DEVICE]


def metrics(name, ours, reference):
    a = ours.detach().double().cpu().flatten()
    b = reference.detach().double().cpu().flatten()
    assert a.shape == b.shape, f"shape {tuple(ours.shape)} vs {tuple(reference.shape)}"
    norm = b.norm().item()
    denom = (a.norm() * b.norm()).item()
    rel = (a - b).norm().item() / norm if norm > 0 else (a - b).norm().item()
    cosine = (a @ b).item() / denom if denom > 0 else float(torch.equal(a, b))
    finite = bool(torch.isfinite(a).all())
    limit = TOLERANCE["gradient" if name.startswith("d") else "output"]
    return {
        "maxAbs": (a - b).abs().max().item() if a.numel() else 0.0,
        "relL2": rel,
        "cosine": cosine,
        "tolerance": limit,
        "ok": finite and rel <= limit and cosine >= TOLERANCE["cosine"],
    }


def serve(compute, cases):
    torch.set_num_threads(1)
    results = []
    for case in cases:
        torch.manual_seed(case["seed"])
        results.append({name: metrics(name, o, r) for name, (o, r) in compute(case).items()})
    json.dump({"device": DEVICE, "dtype": str(DTYPE), "results": results}, sys.stdout)
    sys.stdout.write("\n")
    # a failing check fails the process too, for runs without the vitest side (native/cuda/device-check.sh)
    sys.exit(0 if all(m["ok"] for r in results for m in r.values()) else 1)
