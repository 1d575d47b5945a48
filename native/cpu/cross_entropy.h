// Cross-entropy fused with the output projection: logits = inp @ weight^T are made a chunk of tokens at a time,
// so the (N,V) logits never exist. Token t is scored against target[t] (the caller shifts labels);
// target -100 means ignored (no loss, zero gradient).
#pragma once
#include <cstdint>

// inp is (N,C), weight is (V,C), target is (N). Returns the SUM of token losses.
// dinp (N,C) is WRITTEN and dweight (V,C) ACCUMULATED, both as grad_scale * d(sum of losses).
double fused_linear_cross_entropy(float* dinp, float* dweight, const float* inp, const float* weight,
                                  const int32_t* target, int N, int C, int V, float grad_scale);
// Forward only (evaluation). *correct counts the scored tokens whose target is the argmax of their
// logits (the first index on ties, as torch.argmax), for token accuracy.
double linear_cross_entropy_loss(const float* inp, const float* weight, const int32_t* target, int N, int C, int V,
                                 int64_t* correct);
