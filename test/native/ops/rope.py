"""Reference for rope_forward/backward: transformers' LlamaRotaryEmbedding (default, llama3 and yarn inv_freq)
and apply_rotary_pos_emb / rotate_half, with autograd for the backward."""
import torch
from oracle_io import serve
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

ROPE = {
    "default": {"rope_type": "default", "rope_theta": 10000.0},
    "llama3": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    "yarn": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 64},
}


def compute(case):
    NH, D = case["NH"], case["D"]
    config = LlamaConfig(hidden_size=NH * D, num_attention_heads=NH, head_dim=D, rope_parameters=ROPE[case["rope"]],
                         max_position_embeddings=8192)
    rotary = LlamaRotaryEmbedding(config)
    pos = torch.tensor(case["positions"], dtype=torch.int64)
    N = pos.numel()
    x = torch.randn(N, NH, D, requires_grad=True)
    dout = torch.randn(N, NH, D)
    # transformers wants (batch, heads, seq, dim); ours is (seq, heads, dim).
    xt = x.transpose(0, 1).unsqueeze(0)
    cos, sin = rotary(xt, pos.unsqueeze(0))
    out, _ = apply_rotary_pos_emb(xt, xt, cos, sin)
    out = out.squeeze(0).transpose(0, 1)
    out.backward(dout)
    return dict(x=x, pos=pos, dout=dout, inv_freq=rotary.inv_freq.float(), scaling=float(rotary.attention_scaling),
                out=out, dx=x.grad)


serve(compute)
