#include "core/worker_pool.h"

namespace core {

ThreadWorkerPool::ThreadWorkerPool(size_t threads) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { workerMain(); });
}

ThreadWorkerPool::~ThreadWorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadWorkerPool::submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

bool ThreadWorkerPool::shutdown(Duration maxWait) {
  std::unique_lock<std::mutex> lock(mu_);
  closed_ = true;
  jobs_.clear();
  return idle_.wait_for(lock, maxWait, [this] { return running_ == 0; });
}

void ThreadWorkerPool::workerMain() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      ++running_;
    }
    job();
    std::lock_guard<std::mutex> lock(mu_);
    if (--running_ == 0) idle_.notify_all();
  }
}

}  // namespace core
