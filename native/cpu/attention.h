// Causal grouped-query attention over packed documents. Key: N = tokens, H = query heads, KVH = kv heads,
// D = head dim. cu_seqlens (ndocs+1) gives document boundaries; a token attends to earlier tokens of its own
// document only. Query head h reads kv head h / (H/KVH). Scale is 1/sqrt(D).
#pragma once
#include <cstdint>

// out, q are (N,H,D); k, v are (N,KVH,D); lse (N,H) = log-sum-exp of the scaled scores, saved for backward
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* cu_seqlens, int ndocs, int N, int H, int KVH, int D);
// dq (N,H,D), dk and dv (N,KVH,D) are all WRITTEN; the probabilities are recomputed from lse
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const int32_t* cu_seqlens, int ndocs,
                        int N, int H, int KVH, int D);
// One query token per head against a cache of T keys and values (generation): q, out are (H,D); kc, vc
// are (T,KVH,D), every row visible (the query is the cache's last position).
void attention_decode(float* out, const float* q, const float* kc, const float* vc, int T, int H, int KVH, int D);
