// Token embedding lookup. N = tokens, C = channels.
#pragma once
#include <cstdint>

// out is (N,C), ids is (N), wte is (V,C)
void embedding_forward(float* out, const int32_t* ids, const float* wte, int N, int C);
// dwte is (V,C) and is ACCUMULATED; dout is (N,C)
void embedding_backward(float* dwte, const float* dout, const int32_t* ids, int N, int C);
