#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>
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
// to OpenBLAS while a GEMM runs. The caller works on the job too and waits only for the chunks
// other threads have claimed, never for a worker to wake up: on a loaded machine (more runnable
// threads than cores) a sleeping worker may not run for a scheduler tick, and a fork-join that
// waited for it made every small op cost milliseconds.
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
    auto job = std::make_shared<Job>(fn, n, chunks);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = job;
      ++generation_;
    }
    start_.notify_all();
    job->work();
    job->wait();
    // A worker that wakes after this finds every chunk claimed and never calls fn.
    std::lock_guard<std::mutex> lk(m_);
    if (job_ == job) job_.reset();
  }

 private:
  struct Job {
    Job(const std::function<void(int64_t, int64_t)>& f, int64_t n, int64_t c) : fn(&f), total(n), chunks(c) {}
    // Claims chunks until none is left; the last chunk to finish wakes the caller.
    void work() {
      for (;;) {
        const int64_t c = next.fetch_add(1);
        if (c >= chunks) return;
        const int64_t begin = total * c / chunks, end = total * (c + 1) / chunks;
        if (begin < end) (*fn)(begin, end);
        if (done.fetch_add(1) + 1 == chunks) {
          std::lock_guard<std::mutex> lk(m);
          cv.notify_all();
        }
      }
    }
    void wait() {
      std::unique_lock<std::mutex> lk(m);
      cv.wait(lk, [this] { return done.load() == chunks; });
    }
    const std::function<void(int64_t, int64_t)>* fn;
    const int64_t total, chunks;
    std::atomic<int64_t> next{0}, done{0};
    std::mutex m;
    std::condition_variable cv;
  };

  void loop() {
    uint64_t seen = 0;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(m_);
        start_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      if (job) job->work();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable start_;
  std::shared_ptr<Job> job_;
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
