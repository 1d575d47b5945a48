#include "cpu/parallel.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace {

thread_local bool in_worker = false;

// Workers sleep on a condition variable between jobs; a job is published by bumping `generation`.
class Pool {
 public:
  ~Pool() { resize(1); }  // joins the workers at exit

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Waits for a running job: resizing and running are serialised by job_mutex_.
  void resize(int n) {
    n = std::max(1, n);
    std::lock_guard<std::mutex> job(job_mutex_);
    if (n == size()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      ++generation_;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
    stop_ = false;
    // New workers start from the current generation so they never replay a finished job.
    for (int i = 1; i < n; i++) workers_.emplace_back([this, i, g = generation_] { loop(i, g); });
  }

  void run(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (in_worker || n <= 1) {
      if (n > 0) fn(0, n);
      return;
    }
    // One job at a time: callers on different JS threads queue here.
    std::unique_lock<std::mutex> job(job_mutex_);
    int parts = static_cast<int>(std::min<int64_t>(size(), n));
    if (parts <= 1) {
      job.unlock();
      fn(0, n);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      n_ = n;
      parts_ = parts;
      pending_ = parts - 1;
      ++generation_;
    }
    wake_.notify_all();
    in_worker = true;
    fn(0, bound(1));
    in_worker = false;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  int64_t bound(int part) const { return n_ * part / parts_; }

  void loop(int index, uint64_t seen) {
    in_worker = true;
    for (;;) {
      const std::function<void(int64_t, int64_t)>* fn;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        if (stop_) return;
        if (index >= parts_) continue;
        fn = fn_;
      }
      (*fn)(bound(index), bound(index + 1));
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_, job_mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 0;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn) { pool().run(n, fn); }

void set_num_threads(int n) { pool().resize(n); }

int get_num_threads() { return pool().size(); }
