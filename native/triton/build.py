"""Ahead-of-time build of the Triton kernel library: every kernel variant the cuda backend launches,
compiled with triton.compile(ASTSource(...), target=GPUTarget("cuda", 90, 32)) to a cubin, plus
native/kernels/manifest.json saying, per variant: the kernel, its parameters in launch order
(Triton's two trailing scratch pointers included), num_warps, shared memory and the constexprs the
launcher must follow (block sizes). This needs no GPU and no driver.

    python native/triton/build.py            writes native/kernels/
    python native/triton/build.py --check    rebuilds in a scratch dir, fails unless identical

dtype policy of the cuda backend: parameters and activations bf16; parameter gradients, master
weights, Adam moments, norm statistics (rstd, lse) and the logits chunk fp32.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "kernels")
TARGET = ("cuda", 90, 32)

# Block sizes of the device build: starting points until bench/train-gpu sweeps them. The gemm's
# 128 x 128 x 64 tiles with 3 stages need 32 KB (bf16 operands) to 80 KB (an fp32 operand) of shared
# memory (the manifest's "shared"): the fp32 and dz variants need more than the 48 KB a launch gets
# without cuFuncSetAttribute.
GEMM = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64)
GEMM_WARPS, GEMM_STAGES = 8, 3
ATTENTION_BLOCK = 64
RMSNORM_BLOCKS = (128, 1024, 2048, 4096, 8192)  # the launcher takes the smallest >= C
HEAD_DIMS = (64, 128)  # attention's BLOCK_D


def variants():
    """(name, module, kernel, {arg: type}, {constexpr: value}, num_warps, num_stages)."""
    import adamw
    import attention
    import colsum
    import cross_entropy
    import elementwise
    import embedding
    import gemm
    import rmsnorm
    import rope
    import swiglu

    out = []

    def add(name, module, kernel, types, constexprs, num_warps=4, num_stages=3):
        out.append((name, module.__name__, kernel, types, constexprs, num_warps, num_stages))

    for b in RMSNORM_BLOCKS:
        add(f"rmsnorm_forward.c{b}", rmsnorm, rmsnorm._rmsnorm_forward,
            dict(out="*bf16", rstd="*fp32", inp="*bf16", weight="*bf16", C="i32", eps="fp32"), dict(BLOCK_C=b),
            num_warps=4 if b <= 1024 else 8)
        for acc in (False, True):
            add(f"rmsnorm_backward.c{b}{'.acc' if acc else ''}", rmsnorm, rmsnorm._rmsnorm_backward,
                dict(dinp="*bf16", dweight_partial="*fp32", dout="*bf16", inp="*bf16", weight="*bf16",
                     rstd="*fp32", N="i32", C="i32"), dict(ROWS=rmsnorm.ROWS, BLOCK_C=b, ACCUMULATE=acc),
                num_warps=4 if b <= 1024 else 8)
    for x in ("fp32", "bf16"):
        add(f"colsum_accumulate.{x}", colsum, colsum._colsum_accumulate,
            dict(out="*fp32", x=f"*{x}", R="i32", C="i32"), dict(BLOCK_C=colsum.BLOCK_C))
    add("swiglu_forward", swiglu, swiglu._swiglu_forward, dict(out="*bf16", gate="*bf16", up="*bf16", n="i32"),
        dict(BLOCK=swiglu.BLOCK))
    add("swiglu_backward", swiglu, swiglu._swiglu_backward,
        dict(dgate="*bf16", dup="*bf16", dout="*bf16", gate="*bf16", up="*bf16", n="i32"), dict(BLOCK=swiglu.BLOCK))
    add("rope", rope, rope._rope,
        dict(out="*bf16", inp="*bf16", pos="*i32", inv_freq="*fp32", attention_scaling="fp32", sign="fp32",
             NH="i32", D="i32"), dict(BLOCK_HALF=rope.BLOCK_HALF), num_warps=1)
    add("embedding_forward", embedding, embedding._embedding_forward,
        dict(out="*bf16", ids="*i32", wte="*bf16", C="i32"), dict(BLOCK_C=embedding.BLOCK_C), num_warps=1)
    add("embedding_backward", embedding, embedding._embedding_backward,
        dict(dwte="*fp32", dout="*bf16", order="*i32", seg_start="*i32", seg_id="*i32", C="i32"),
        dict(BLOCK_C=embedding.BLOCK_C), num_warps=1)
    add("adamw_update", adamw, adamw._adamw_update,
        dict(param="*bf16", master="*fp32", m="*fp32", v="*fp32", grad="*fp32", n="i32", decay="fp32", w1="fp32",
             b2="fp32", w2="fp32", step_size="fp32", bc2_sqrt="fp32", eps="fp32", grad_scale="fp32"),
        dict(BLOCK=adamw.BLOCK))
    add("sum_squares_partial", adamw, adamw._sum_squares_partial, dict(partial="*fp64", x="*fp32", n="i32"),
        dict(BLOCK=adamw.BLOCK))
    add("sum_in_order", adamw, adamw._sum_in_order, dict(out="*fp64", partial="*fp64", P="i32"), {}, num_warps=1)
    add("add_inplace", elementwise, elementwise._add_inplace, dict(out="*bf16", inp="*bf16", n="i32"),
        dict(BLOCK=elementwise.BLOCK))
    add("scale_inplace", elementwise, elementwise._scale_inplace, dict(x="*fp32", s="fp32", n="i32"),
        dict(BLOCK=elementwise.BLOCK))
    gemm_args = lambda c, a, b: dict(c=f"*{c}", a=f"*{a}", b=f"*{b}", bias="*bf16", M="i32", N="i32", K="i32",
                                     stride_am="i32", stride_ak="i32", stride_bk="i32", stride_bn="i32",
                                     stride_cm="i32")
    # (name, c, a, b, accumulate, bias): linear forward (with and without bias), input gradients
    # (written, or added when several linears read one input), weight gradients (fp32, added), the
    # logits chunk (fp32) and the cross-entropy's fp32 logit gradients against bf16 weights.
    for name, c, a, b, acc, bias in [
        ("gemm.bf16", "bf16", "bf16", "bf16", False, False),
        ("gemm.bf16.bias", "bf16", "bf16", "bf16", False, True),
        ("gemm.bf16.acc", "bf16", "bf16", "bf16", True, False),
        ("gemm.fp32", "fp32", "bf16", "bf16", False, False),
        ("gemm.fp32.acc", "fp32", "bf16", "bf16", True, False),
        ("gemm.dz", "bf16", "fp32", "bf16", False, False),
        ("gemm.dz.acc", "fp32", "fp32", "bf16", True, False),
    ]:
        add(name, gemm, gemm._gemm, gemm_args(c, a, b), dict(GEMM, ACCUMULATE=acc, HAS_BIAS=bias),
            num_warps=GEMM_WARPS, num_stages=GEMM_STAGES)
    for grad in (False, True):
        add(f"cross_entropy_rows{'.grad' if grad else ''}", cross_entropy, cross_entropy._cross_entropy_rows,
            dict(logits="*fp32", loss="*fp32", correct="*i32", target="*i32", V="i32", grad_scale="fp32"),
            dict(BLOCK_V=cross_entropy.BLOCK_V, WITH_GRAD=grad), num_warps=8)
    for x in ("fp32", "i32"):
        add(f"sum_rows_in_order.{x}", cross_entropy, cross_entropy._sum_rows_in_order,
            dict(out="*fp64", x=f"*{x}", n="i32"), {}, num_warps=1)
    blocks = dict(blk_row="*i32", blk_doc_start="*i32", blk_doc_end="*i32", sm_scale="fp32", H="i32", KVH="i32",
                  D="i32")
    for d in HEAD_DIMS:
        tile = dict(BLOCK=ATTENTION_BLOCK, BLOCK_D=d)
        add(f"attention_forward.d{d}", attention, attention._attention_forward,
            dict(out="*bf16", lse="*fp32", q="*bf16", k="*bf16", v="*bf16", **blocks), tile)
        add(f"attention_delta.d{d}", attention, attention._attention_delta,
            dict(delta="*fp32", out="*bf16", dout="*bf16", H="i32", D="i32"), dict(BLOCK_D=d), num_warps=1)
        add(f"attention_backward_dq.d{d}", attention, attention._attention_backward_dq,
            dict(dq="*bf16", dout="*bf16", q="*bf16", k="*bf16", v="*bf16", lse="*fp32", delta="*fp32", **blocks),
            tile)
        add(f"attention_backward_dkdv.d{d}", attention, attention._attention_backward_dkdv,
            dict(dk="*bf16", dv="*bf16", dout="*bf16", q="*bf16", k="*bf16", v="*bf16", lse="*fp32", delta="*fp32",
                 **blocks), tile)
    return out


def compile_one(variant):
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    name, module, fn, types, constexprs, num_warps, num_stages = variant
    runtime = [a for a in fn.arg_names if a not in constexprs]
    assert sorted(runtime) == sorted(types), f"{name}: signature {sorted(types)} vs arguments {runtime}"
    signature = {a: types.get(a, "constexpr") for a in fn.arg_names}
    src = ASTSource(fn, signature, constexprs={k: v for k, v in constexprs.items()})
    kernel = triton.compile(src, target=GPUTarget(*TARGET), options=dict(num_warps=num_warps, num_stages=num_stages))
    md = kernel.metadata
    # the PTX entry's parameters: ours in order, then Triton's global and profile scratch pointers
    entry = kernel.asm["ptx"].split(".entry", 1)[1].split(")", 1)[0]
    ptx_params = re.findall(r"\.param \.(\w+)", entry)
    assert len(ptx_params) == len(runtime) + 2, f"{name}: {len(ptx_params)} PTX parameters for {len(runtime)} + 2"
    cubin = kernel.asm["cubin"]
    return cubin, {
        "name": name,
        "module": module,
        "kernel": md.name,
        "cubin": f"{name}.cubin",
        "sha256": hashlib.sha256(cubin).hexdigest(),
        "params": [{"name": a, "type": types[a]} for a in runtime]
        + [{"name": "global_scratch", "type": "*scratch"}, {"name": "profile_scratch", "type": "*scratch"}],
        "constexprs": {k: (int(v) if isinstance(v, bool) else v) for k, v in constexprs.items()},
        "num_warps": md.num_warps,
        "num_stages": num_stages,
        "shared": md.shared,
        "global_scratch_size": md.global_scratch_size,
        "global_scratch_align": md.global_scratch_align,
        "profile_scratch_size": md.profile_scratch_size,
    }


def build(out_dir):
    import triton

    sys.path.insert(0, HERE)
    os.makedirs(out_dir, exist_ok=True)
    entries = []
    for v in variants():
        cubin, entry = compile_one(v)
        with open(os.path.join(out_dir, entry["cubin"]), "wb") as f:
            f.write(cubin)
        entries.append(entry)
    manifest = {"triton": triton.__version__, "target": list(TARGET), "kernels": entries}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true", help="rebuild in a scratch dir and compare with native/kernels")
    args = parser.parse_args()
    # a fresh cache: a cached kernel from another Triton build must not stand in for a compile
    cache = tempfile.mkdtemp(prefix="sft-triton-cache-")
    os.environ["TRITON_CACHE_DIR"] = cache
    # no line info: it names the absolute path of the sources, so the cubins (and --check) would depend on
    # where the checkout lies
    os.environ["TRITON_DISABLE_LINE_INFO"] = "1"
    try:
        if not args.check:
            shutil.rmtree(OUT, ignore_errors=True)
            build(OUT)
            return 0
        scratch = tempfile.mkdtemp(prefix="sft-kernels-")
        try:
            build(scratch)
            ours, theirs = sorted(os.listdir(scratch)), sorted(os.listdir(OUT)) if os.path.isdir(OUT) else []
            differ = [f for f in ours if f not in theirs or open(os.path.join(scratch, f), "rb").read()
                      != open(os.path.join(OUT, f), "rb").read()]
            differ += [f for f in theirs if f not in ours]
            if differ:
                print(f"native/kernels is stale; rebuild with python native/triton/build.py: {', '.join(differ)}",
                      file=sys.stderr)
                return 1
            print(f"native/kernels: {len(ours) - 1} kernels rebuilt identically")
            return 0
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
