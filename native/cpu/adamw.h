// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias-corrected moments), and the
// deterministic sum of squares used for the global gradient norm.
#pragma once
#include <cstdint>

// param, m, v, grad are (n); step is 1-based
void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int step);
// Fixed blocked order with double accumulation: the same bits for any thread count.
double sum_squares(const float* x, int64_t n);
