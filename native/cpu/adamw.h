// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias-corrected moments), and the
// deterministic sum of squares used for the global gradient norm.
#pragma once
#include <cstdint>

// param, m, v, grad are (n); the gradient used is grad * grad_scale (gradient clipping's coefficient);
// step is 1-based. Hyperparameters are double (Python floats in torch): 1 - beta2 formed from a float
// beta2 = 0.999f is off by 1.3e-5 relative, which shows in the second moment.
void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n, double lr, double beta1,
                  double beta2, double eps, double weight_decay, float grad_scale, int step);
// Fixed blocked order with double accumulation: the same bits for any thread count.
double sum_squares(const float* x, int64_t n);
