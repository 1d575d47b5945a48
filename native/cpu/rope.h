// Rotary position embedding, transformers' rotate_half convention:
//   out[i]     = x[i] * cos_i - x[i + D/2] * sin_i
//   out[i+D/2] = x[i + D/2] * cos_i + x[i] * sin_i,   angle_i = pos * inv_freq[i],  i < D/2
// cos and sin are multiplied by attention_scaling (1 except for some rope types).
// inv_freq (D/2) is precomputed by the caller, llama3 scaling included.
#pragma once
#include <cstdint>

// inp, out are (N,NH,D); out may equal inp; pos is (N)
void rope_forward(float* out, const float* inp, const int32_t* pos, const float* inv_freq, float attention_scaling,
                  int N, int NH, int D);
// dinp, dout are (N,NH,D); dinp may equal dout; dinp is WRITTEN
void rope_backward(float* dinp, const float* dout, const int32_t* pos, const float* inv_freq, float attention_scaling,
                   int N, int NH, int D);
