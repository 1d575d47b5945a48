// A persistent thread pool with static partitioning.
//
// parallel_for(n, fn) splits [0, n) into get_num_threads() contiguous ranges and runs fn on each,
// the calling thread taking the first. Kernels partition over OUTPUTS and keep a fixed reduction
// order inside each output, so results never depend on the thread count. A parallel_for issued
// from inside a worker runs serially on that worker (no nested fan-out). The pool starts with one thread;
// set_num_threads waits for a running job before resizing.
#pragma once
#include <cstdint>
#include <functional>

void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn);
void set_num_threads(int n);
int get_num_threads();
