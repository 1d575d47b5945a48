// RMSNorm as in transformers' LlamaRMSNorm: out = weight * (x * rstd), rstd = 1/sqrt(mean(x^2) + eps).
#pragma once

// out, inp are (N,C); weight is (C); rstd is (N), saved for backward
void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int N, int C, float eps);
// dinp (N,C) is ACCUMULATED when accumulate (a residual stream's gradient), else WRITTEN; dweight (C)
// is always ACCUMULATED
void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp, const float* weight,
                      const float* rstd, int N, int C, bool accumulate);
