"""Rotary position embedding (Su et al. 2021, RoFormer) in transformers' rotate_half convention:
    out[i]     = x[i] * cos_i - x[i + D/2] * sin_i
    out[i+D/2] = x[i + D/2] * cos_i + x[i] * sin_i,    angle_i = float(pos) * inv_freq[i] (fp32)
cos and sin are multiplied by attention_scaling. The backward applies the transposed rotation
(sin negated). One program per (token, head); out may be inp (both halves are read first)."""
import triton
import triton.language as tl


@triton.jit
def _rope(out, inp, pos, inv_freq, attention_scaling, sign, NH, D, BLOCK_HALF: tl.constexpr):
    t = tl.program_id(0)
    h = tl.program_id(1)
    half = D // 2
    i = tl.arange(0, BLOCK_HALF)
    mask = i < half
    angle = tl.load(pos + t).to(tl.float32) * tl.load(inv_freq + i, mask=mask, other=0.0)
    cs = tl.cos(angle) * attention_scaling
    sn = sign * (tl.sin(angle) * attention_scaling)
    base = (t * NH + h) * D + i
    x1 = tl.load(inp + base, mask=mask, other=0.0).to(tl.float32)
    x2 = tl.load(inp + base + half, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + base, (x1 * cs - x2 * sn).to(out.dtype.element_ty), mask=mask)
    tl.store(out + base + half, (x2 * cs + x1 * sn).to(out.dtype.element_ty), mask=mask)


# Head dims up to 128 (every architecture this engine loads): one build serves them all.
BLOCK_HALF = 64


def _launch(out, inp, pos, inv_freq, attention_scaling, sign):
    N, NH, D = inp.shape
    assert out.shape == inp.shape and pos.shape == (N,) and inv_freq.shape == (D // 2,) and D % 2 == 0
    assert D // 2 <= BLOCK_HALF, f"head dim {D} above {2 * BLOCK_HALF}"
    _rope[(N, NH)](out, inp, pos, inv_freq, attention_scaling, sign, NH, D, BLOCK_HALF=BLOCK_HALF)


def rope_forward(out, inp, pos, inv_freq, attention_scaling):
    """inp, out (N, NH, D); pos (N) int32; inv_freq (D/2) fp32."""
    _launch(out, inp, pos, inv_freq, attention_scaling, 1.0)


def rope_backward(dinp, dout, pos, inv_freq, attention_scaling):
    """dinp (N, NH, D) is written; it may be dout."""
    _launch(dinp, dout, pos, inv_freq, attention_scaling, -1.0)
