// Linear layer in the nn.Linear layout: out(N,OC) = inp(N,C) @ weight(OC,C)^T (+ bias(OC)).
#pragma once

// out is (N,OC), inp is (N,C), weight is (OC,C), bias is (OC) or null
void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);
// dinp (N,C) is ACCUMULATED when accumulate (an input read by several linears), else WRITTEN (skipped
// when null); dweight (OC,C) and dbias (OC, may be null) are always ACCUMULATED
void matmul_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                     const float* weight, int N, int C, int OC, bool accumulate);
