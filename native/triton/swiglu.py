"""SwiGLU gating of the Llama MLP: out = silu(gate) * up, silu(x) = x * sigmoid(x) (Shazeer 2020,
"GLU Variants Improve Transformer"). Backward: dup = dout * silu(gate),
dgate = dout * up * s * (1 + gate * (1 - s)) with s = sigmoid(gate). Computed in fp32."""
import triton
import triton.language as tl


@triton.jit
def _swiglu_forward(out, gate, up, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    g = tl.load(gate + i, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(up + i, mask=mask, other=0.0).to(tl.float32)
    tl.store(out + i, (g * tl.sigmoid(g) * u).to(out.dtype.element_ty), mask=mask)


@triton.jit
def _swiglu_backward(dgate, dup, dout, gate, up, n, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = i < n
    g = tl.load(gate + i, mask=mask, other=0.0).to(tl.float32)
    u = tl.load(up + i, mask=mask, other=0.0).to(tl.float32)
    d = tl.load(dout + i, mask=mask, other=0.0).to(tl.float32)
    s = tl.sigmoid(g)
    tl.store(dup + i, (d * (g * s)).to(dup.dtype.element_ty), mask=mask)
    tl.store(dgate + i, (d * u * (s * (1.0 + g * (1.0 - s)))).to(dgate.dtype.element_ty), mask=mask)


BLOCK = 1024


def swiglu_forward(out, gate, up):
    """out, gate, up (N, F)."""
    assert out.shape == gate.shape == up.shape
    n = gate.numel()
    _swiglu_forward[(triton.cdiv(n, BLOCK),)](out, gate, up, n, BLOCK=BLOCK)


def swiglu_backward(dgate, dup, dout, gate, up):
    """dgate, dup (N, F) are written."""
    assert dgate.shape == dup.shape == dout.shape == gate.shape == up.shape
    n = gate.numel()
    _swiglu_backward[(triton.cdiv(n, BLOCK),)](dgate, dup, dout, gate, up, n, BLOCK=BLOCK)
