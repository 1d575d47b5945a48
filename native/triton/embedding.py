"""Token embedding lookup: out[t] = wte[ids[t]].

The backward adds each token's gradient row into its id's row without atomics: the host sorts the
token positions by id (stably, so equal ids keep their order) and passes the segments; one program
per (distinct id, column block) sums its segment in order. The bits do not depend on scheduling.
"""
import torch
import triton
import triton.language as tl


@triton.jit
def _embedding_forward(out, ids, wte, C, BLOCK_C: tl.constexpr):
    t = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = cols < C
    row = tl.load(ids + t).to(tl.int64)
    tl.store(out + t * C + cols, tl.load(wte + row * C + cols, mask=mask), mask=mask)


@triton.jit
def _embedding_backward(dwte, dout, order, seg_start, seg_id, C, BLOCK_C: tl.constexpr):
    s = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK_C + tl.arange(0, BLOCK_C)
    mask = cols < C
    acc = tl.zeros((BLOCK_C,), dtype=tl.float32)
    for j in range(tl.load(seg_start + s), tl.load(seg_start + s + 1)):
        t = tl.load(order + j).to(tl.int64)
        acc += tl.load(dout + t * C + cols, mask=mask, other=0.0).to(tl.float32)
    row = tl.load(seg_id + s).to(tl.int64)
    acc += tl.load(dwte + row * C + cols, mask=mask, other=0.0).to(tl.float32)
    tl.store(dwte + row * C + cols, acc.to(dwte.dtype.element_ty), mask=mask)


BLOCK_C = 128


def embedding_segments(ids):
    """(order, seg_start, seg_id): token positions sorted stably by id, where each distinct id's run
    starts (plus the end), and the ids. What the host computes once per batch."""
    order = torch.argsort(ids.long(), stable=True)
    seg_id, counts = torch.unique_consecutive(ids.long()[order], return_counts=True)
    seg_start = torch.zeros(len(counts) + 1, dtype=torch.int64, device=ids.device)
    seg_start[1:] = torch.cumsum(counts, 0)
    return order.to(torch.int32), seg_start.to(torch.int32), seg_id.to(torch.int32)


def embedding_forward(out, ids, wte):
    """out (N, C), ids (N) int32, wte (V, C)."""
    N, C = out.shape
    assert ids.shape == (N,) and wte.shape[1] == C
    _embedding_forward[(N, triton.cdiv(C, BLOCK_C))](out, ids, wte, C, BLOCK_C=BLOCK_C)


def embedding_backward(dwte, dout, ids):
    """dwte (V, C) is accumulated; dout (N, C)."""
    N, C = dout.shape
    assert ids.shape == (N,) and dwte.shape[1] == C
    order, seg_start, seg_id = embedding_segments(ids)
    _embedding_backward[(len(seg_id), triton.cdiv(C, BLOCK_C))](dwte, dout, order, seg_start, seg_id, C,
                                                                 BLOCK_C=BLOCK_C)
