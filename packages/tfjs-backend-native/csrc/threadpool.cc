#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "blas.h"

#ifdef OSN_HAVE_DNNL
#include <omp.h>
#endif

namespace osn {
namespace {

// Workers sleep on a condition variable between jobs (no spinning), so they leave the cores
// to OpenBLAS while a GEMM runs.
class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return static_cast<int>(workers_.size()) + 1; }

  void run(int64_t n, int64_t chunks, const std::function<void(int64_t, int64_t)>& fn) {
    {
      std::lock_guard<std::mutex> lk(m_);
      fn_ = &fn;
      total_ = n;
      chunks_ = chunks;
      next_.store(0);
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    start_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(m_);
    done_.wait(lk, [this] { return pending_ == 0; });
    fn_ = nullptr;
  }

 private:
  void work() {
    for (;;) {
      const int64_t c = next_.fetch_add(1);
      if (c >= chunks_) return;
      const int64_t begin = total_ * c / chunks_, end = total_ * (c + 1) / chunks_;
      if (begin < end) (*fn_)(begin, end);
    }
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        start_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      work();
      std::lock_guard<std::mutex> lk(m_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable start_, done_;
  const std::function<void(int64_t, int64_t)>* fn_ = nullptr;
  int64_t total_ = 0, chunks_ = 0;
  std::atomic<int64_t> next_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// Never destroyed: joining threads from a static destructor at process exit can deadlock.
Pool* pool = new Pool(1);

}  // namespace

void set_threads(int n) {
  n = std::max(1, n);
  if (n != pool->size()) {
    delete pool;
    pool = new Pool(n);
  }
  openblas_set_num_threads(n);
#ifdef OSN_HAVE_DNNL
  omp_set_num_threads(n);
#endif
}

int threads() { return pool->size(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  const int t = pool->size();
  if (t == 1 || n < 2 * std::max<int64_t>(grain, 1)) {
    fn(0, n);
    return;
  }
  // A few chunks per thread balance uneven slices without much scheduling cost.
  const int64_t chunks = std::min<int64_t>(n / std::max<int64_t>(grain, 1), 4 * t);
  pool->run(n, std::max<int64_t>(chunks, 1), fn);
}

}  // namespace osn
