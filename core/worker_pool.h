// A small fixed pool of threads for blocking work (CRI calls, mounts, file
// writes). Jobs never touch agent state; they post results back to the loop.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/event_loop.h"

namespace core {

class WorkerPool {
 public:
  virtual ~WorkerPool() = default;
  virtual void submit(std::function<void()> job) = 0;
};
using WorkerPoolPtr = std::unique_ptr<WorkerPool>;

class ThreadWorkerPool : public WorkerPool {
 public:
  explicit ThreadWorkerPool(size_t threads);
  ~ThreadWorkerPool() override;  // drains queued jobs, then joins
  void submit(std::function<void()> job) override;
  // For process exit: drops queued jobs, refuses new ones, and waits up to
  // `maxWait` for running jobs to finish. True when none is left running.
  bool shutdown(Duration maxWait);

 private:
  void workerMain();
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  size_t running_ = 0;
  bool closed_ = false;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// Runs `work` on the pool and hands its result to `done` on the loop thread.
template <typename Work, typename Done>
void runOnPool(WorkerPool& pool, EventLoop& loop, Work work, Done done) {
  pool.submit([&loop, work = std::move(work), done = std::move(done)]() mutable {
    auto result = std::make_shared<decltype(work())>(work());
    loop.post([done = std::move(done), result]() mutable { done(std::move(*result)); });
  });
}

}  // namespace core
