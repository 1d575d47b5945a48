// SwiGLU gating of the Llama MLP: out = silu(gate) * up, silu(x) = x * sigmoid(x).
#pragma once

// out, gate, up are (N,F)
void swiglu_forward(float* out, const float* gate, const float* up, int N, int F);
// dgate, dup (N,F) are WRITTEN
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate, const float* up, int N, int F);
