"""Causal grouped-query attention over packed documents, FlashAttention-2 style (Dao 2023): scores
and probabilities live only in on-chip tiles; forward saves the log-sum-exp of each row, backward
recomputes the probabilities from it. Layout as the cpu op: q, out (N, H, D); k, v (N, KVH, D);
cu_seqlens (ndocs + 1) document boundaries; query head h reads kv head h // (H / KVH); scale
1 / sqrt(D); a token attends to earlier tokens of its own document only.

Work is cut into blocks that never cross a document: the host lists, per block, its first row
and its document's bounds (attention_blocks, from cu_seqlens, once per batch). The backward is
deterministic without atomics: dq by one program per (query block, head) over its key blocks; dk
and dv by one program per (key block, kv head) over the query blocks and the heads of its group.
"""
import torch
import triton
import triton.language as tl


@triton.jit
def _block_rows(blk_row, blk_doc_start, blk_doc_end, D, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr):
    """This program's block (program_id 0) of query or key rows: its first row, its document's bounds, its
    rows and head-dim columns with their masks."""
    b = tl.program_id(0)
    m0 = tl.load(blk_row + b)
    doc0 = tl.load(blk_doc_start + b)
    doc1 = tl.load(blk_doc_end + b)
    rows = m0 + tl.arange(0, BLOCK)
    dcol = tl.arange(0, BLOCK_D)
    return m0, doc0, doc1, rows, rows < doc1, dcol, dcol < D


@triton.jit
def _kv_tile(k, v, cols, doc1, kvh, KVH, D, dcol, dmask):
    """Keys and values of rows cols (inside the document ending at doc1) of kv head kvh, with their offsets and masks."""
    cmask = cols < doc1
    kv_off = (cols[:, None] * KVH + kvh) * D + dcol[None, :]
    kvmask = cmask[:, None] & dmask[None, :]
    return tl.load(k + kv_off, mask=kvmask, other=0.0), tl.load(v + kv_off, mask=kvmask, other=0.0), cmask, kv_off, kvmask


@triton.jit
def _row_tile(q, dout, lse, delta, rows, rmask, h, H, D, dcol, dmask):
    """What the backward reads of rows of query head h: q, dout, lse and delta, with the offsets and mask of q."""
    qmask = rmask[:, None] & dmask[None, :]
    q_off = (rows[:, None] * H + h) * D + dcol[None, :]
    qb = tl.load(q + q_off, mask=qmask, other=0.0)
    dob = tl.load(dout + q_off, mask=qmask, other=0.0)
    lse_b = tl.load(lse + rows * H + h, mask=rmask, other=0.0)
    delta_b = tl.load(delta + rows * H + h, mask=rmask, other=0.0)
    return qb, dob, lse_b, delta_b, q_off, qmask


@triton.jit
def _probabilities(qb, kb, lse_b, rows, rmask, cols, cmask, sm_scale):
    """The backward's tile of probabilities, recomputed from the forward's lse (0 outside the causal mask)."""
    s = tl.dot(qb, tl.trans(kb)) * sm_scale
    valid = (cols[None, :] <= rows[:, None]) & cmask[None, :] & rmask[:, None]
    return tl.where(valid, tl.exp(s - lse_b[:, None]), 0.0)


@triton.jit
def _attention_forward(out, lse, q, k, v, blk_row, blk_doc_start, blk_doc_end, sm_scale, H, KVH, D,
                       BLOCK: tl.constexpr, BLOCK_D: tl.constexpr):
    h = tl.program_id(1)
    kvh = h // (H // KVH)
    m0, doc0, doc1, rows, rmask, dcol, dmask = _block_rows(blk_row, blk_doc_start, blk_doc_end, D, BLOCK, BLOCK_D)
    qb = tl.load(q + (rows[:, None] * H + h) * D + dcol[None, :], mask=rmask[:, None] & dmask[None, :], other=0.0)
    m_i = tl.full((BLOCK,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK,), tl.float32)
    acc = tl.zeros((BLOCK, BLOCK_D), tl.float32)
    for n0 in range(doc0, tl.minimum(m0 + BLOCK, doc1), BLOCK):
        cols = n0 + tl.arange(0, BLOCK)
        kb, vb, cmask, kv_off, kvmask = _kv_tile(k, v, cols, doc1, kvh, KVH, D, dcol, dmask)
        s = tl.dot(qb, tl.trans(kb)) * sm_scale
        s = tl.where((cols[None, :] <= rows[:, None]) & cmask[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        p = tl.exp(s - m_new[:, None])
        alpha = tl.exp(m_i - m_new)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(vb.dtype), vb)
        m_i = m_new
    o = acc / l_i[:, None]
    tl.store(out + (rows[:, None] * H + h) * D + dcol[None, :], o.to(out.dtype.element_ty),
             mask=rmask[:, None] & dmask[None, :])
    tl.store(lse + rows * H + h, m_i + tl.log(l_i), mask=rmask)


@triton.jit
def _attention_delta(delta, out, dout, H, D, BLOCK_D: tl.constexpr):
    t = tl.program_id(0)
    h = tl.program_id(1)
    dcol = tl.arange(0, BLOCK_D)
    mask = dcol < D
    o = tl.load(out + (t * H + h) * D + dcol, mask=mask, other=0.0).to(tl.float32)
    do = tl.load(dout + (t * H + h) * D + dcol, mask=mask, other=0.0).to(tl.float32)
    tl.store(delta + t * H + h, tl.sum(o * do, axis=0))


@triton.jit
def _attention_backward_dq(dq, dout, q, k, v, lse, delta, blk_row, blk_doc_start, blk_doc_end, sm_scale, H, KVH,
                           D, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr):
    h = tl.program_id(1)
    kvh = h // (H // KVH)
    m0, doc0, doc1, rows, rmask, dcol, dmask = _block_rows(blk_row, blk_doc_start, blk_doc_end, D, BLOCK, BLOCK_D)
    qb, dob, lse_b, delta_b, q_off, qmask = _row_tile(q, dout, lse, delta, rows, rmask, h, H, D, dcol, dmask)
    acc = tl.zeros((BLOCK, BLOCK_D), tl.float32)
    for n0 in range(doc0, tl.minimum(m0 + BLOCK, doc1), BLOCK):
        cols = n0 + tl.arange(0, BLOCK)
        kb, vb, cmask, kv_off, kvmask = _kv_tile(k, v, cols, doc1, kvh, KVH, D, dcol, dmask)
        p = _probabilities(qb, kb, lse_b, rows, rmask, cols, cmask, sm_scale)
        dp = tl.dot(dob, tl.trans(vb))
        ds = p * (dp - delta_b[:, None])
        acc += tl.dot(ds.to(kb.dtype), kb)
    tl.store(dq + q_off, (acc * sm_scale).to(dq.dtype.element_ty), mask=qmask)


@triton.jit
def _attention_backward_dkdv(dk, dv, dout, q, k, v, lse, delta, blk_row, blk_doc_start, blk_doc_end, sm_scale, H,
                             KVH, D, BLOCK: tl.constexpr, BLOCK_D: tl.constexpr):
    kvh = tl.program_id(1)
    group = H // KVH
    # this program's block is a key block: its rows are keys
    n0, doc0, doc1, cols, cmask, dcol, dmask = _block_rows(blk_row, blk_doc_start, blk_doc_end, D, BLOCK, BLOCK_D)
    kb, vb, cmask, kv_off, kvmask = _kv_tile(k, v, cols, doc1, kvh, KVH, D, dcol, dmask)
    dk_acc = tl.zeros((BLOCK, BLOCK_D), tl.float32)
    dv_acc = tl.zeros((BLOCK, BLOCK_D), tl.float32)
    for g in range(group):
        h = kvh * group + g
        # only rows at or after the block's first key see it
        for m0 in range(n0, doc1, BLOCK):
            rows = m0 + tl.arange(0, BLOCK)
            rmask = rows < doc1
            qb, dob, lse_b, delta_b, q_off, qmask = _row_tile(q, dout, lse, delta, rows, rmask, h, H, D, dcol, dmask)
            p = _probabilities(qb, kb, lse_b, rows, rmask, cols, cmask, sm_scale)
            dv_acc += tl.dot(tl.trans(p.to(dob.dtype)), dob)
            dp = tl.dot(dob, tl.trans(vb))
            ds = p * (dp - delta_b[:, None])
            dk_acc += tl.dot(tl.trans(ds.to(qb.dtype)), qb)
    tl.store(dk + kv_off, (dk_acc * sm_scale).to(dk.dtype.element_ty), mask=kvmask)
    tl.store(dv + kv_off, dv_acc.to(dv.dtype.element_ty), mask=kvmask)


# 16 rows per block keeps the interpreter quick in the CPU checks; the device build picks its own
# (see build.py) until bench/train-gpu sweeps it.
BLOCK = 16


def attention_blocks(cu_seqlens, block=BLOCK):
    """Per block of at most `block` rows inside one document: (first row, document start, document end),
    int32 each. The host computes them from cu_seqlens once per batch."""
    rows, starts, ends = [], [], []
    bounds = cu_seqlens.tolist()
    for d0, d1 in zip(bounds[:-1], bounds[1:]):
        for r in range(d0, d1, block):
            rows.append(r)
            starts.append(d0)
            ends.append(d1)
    as_i32 = lambda x: torch.tensor(x, dtype=torch.int32, device=cu_seqlens.device)
    return as_i32(rows), as_i32(starts), as_i32(ends)


def _shapes(q, k):
    N, H, D = q.shape
    KVH = k.shape[1]
    assert k.shape == (N, KVH, D) and H % KVH == 0
    return N, H, KVH, D


def attention_forward(out, lse, q, k, v, cu_seqlens):
    """out, q (N, H, D); k, v (N, KVH, D); lse (N, H) fp32; cu_seqlens (ndocs + 1) int32."""
    N, H, KVH, D = _shapes(q, k)
    blocks = attention_blocks(cu_seqlens)
    _attention_forward[(len(blocks[0]), H)](out, lse, q, k, v, *blocks, D**-0.5, H, KVH, D, BLOCK=BLOCK,
                                            BLOCK_D=triton.next_power_of_2(D))


def attention_backward(dq, dk, dv, dout, q, k, v, out, lse, cu_seqlens):
    """dq (N, H, D), dk and dv (N, KVH, D) are written."""
    N, H, KVH, D = _shapes(q, k)
    blocks = attention_blocks(cu_seqlens)
    BLOCK_D = triton.next_power_of_2(D)
    delta = lse.new_empty((N, H))
    _attention_delta[(N, H)](delta, out, dout, H, D, BLOCK_D=BLOCK_D)
    nb = len(blocks[0])
    _attention_backward_dq[(nb, H)](dq, dout, q, k, v, lse, delta, *blocks, D**-0.5, H, KVH, D, BLOCK=BLOCK,
                                    BLOCK_D=BLOCK_D)
    _attention_backward_dkdv[(nb, KVH)](dk, dv, dout, q, k, v, lse, delta, *blocks, D**-0.5, H, KVH, D, BLOCK=BLOCK,
                                        BLOCK_D=BLOCK_D)
