#pragma once
// Dynamic batching across requests (TEI-style, no batching delay): every (query, passage)
// pair is a queue entry; ONE worker thread forms passes on demand with the shared
// BatchPolicy (src/engine/batch_policy.h: pair cap, token cap, Engine::activation_bytes
// within Engine::memory_budget, x3/4 back-off after std::bad_alloc), runs Engine::forward
// and completes each request's Job when its last pair is done (a callback: nothing
// polls). Passes take requests first come, first served and keep a request's pairs
// together where the budget allows (decoder rerankers share the K/V of a query's
// shared_prefix within a pass). No HTTP in here.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crossrank/crossrank.h"
#include "engine/batch_policy.h"

namespace crossrank {

using SteadyTime = std::chrono::steady_clock::time_point;

// The pairs of one client request: the worker fills in logits, the request thread waits.
// Slots not submitted to the batcher (e.g. cache hits) are the caller's business.
class Job {
 public:
  // `slots`: number of pairs in the request (slot ids are 0..slots-1).
  explicit Job(std::size_t slots);
  // Runs the release hook (e.g. returns admission permits) once nobody holds the job.
  ~Job();
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  // Blocks until every submitted pair is done (completed, failed or dropped), or `d`
  // passes; returns true when done.
  bool wait_for(std::chrono::milliseconds d);
  // Marks the job abandoned: its pairs still waiting are dropped before they run.
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  // Results, valid after wait_for returned true. ok(slot) is false for failed/dropped.
  float logit(std::size_t slot) const { return logits_[slot]; }
  bool ok(std::size_t slot) const { return state_[slot] == kDone; }
  // First failure message ("" when none failed).
  std::string error() const;
  std::size_t dropped() const;
  // Time the first batch holding one of this job's pairs started, and the last ended
  // (both equal to the submit time when nothing ran).
  SteadyTime submitted() const { return submitted_; }
  SteadyTime first_start() const { return first_start_; }
  SteadyTime last_end() const { return last_end_; }

  // Hook run by the destructor.
  void set_release(std::function<void()> f) { release_ = std::move(f); }
  // Hook run once, on the thread that completes the last submitted pair (the batch
  // worker, or submit() when it fails the pairs), outside the job's lock. Set it before
  // submit(); it must be cheap (post the real work elsewhere) and must not call back
  // into the batcher. It is released after it runs (so it may own the job).
  void set_on_done(std::function<void()> f) { on_done_ = std::move(f); }

 private:
  friend class Batcher;
  enum SlotState : std::uint8_t { kIdle, kPending, kDone, kFailed, kDropped };
  void finish(std::size_t slot, SlotState st, float logit, const std::string& err, SteadyTime start, SteadyTime end);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<float> logits_;
  std::vector<SlotState> state_;
  std::size_t pending_ = 0;
  std::string error_;
  std::atomic<bool> cancelled_{false};
  SteadyTime submitted_{}, first_start_{}, last_end_{};
  bool started_ = false;
  std::function<void()> release_, on_done_;
};

struct BatcherOptions {
  int max_batch_tokens = 16384;     // Σ tokens per forward pass (unpadded, varlen backend)
  int max_batch_requests = 0;       // pairs per forward pass; 0 = no cap
  std::size_t window = 1024;        // oldest waiting entries considered when forming a pass
  // Runs first on the worker thread (e.g. per-thread OpenMP settings for the forward pass).
  std::function<void()> on_worker_start;
};

// What one forward pass did (for metrics).
struct BatchStats {
  std::size_t pairs = 0, tokens = 0;
  double inference_seconds = 0;
  std::vector<double> queue_seconds;  // per pair: submit -> batch start
  bool failed = false;
};

class Batcher {
 public:
  // Starts the worker. `engine` must outlive the batcher; on_batch/on_dropped are called
  // from the worker thread (must be thread-safe and must not call back into the batcher).
  Batcher(Engine& engine, BatcherOptions opts, std::function<void(const BatchStats&)> on_batch = {},
          std::function<void(std::size_t)> on_dropped = {});
  // stop().
  ~Batcher();

  // Queues `pairs` (slot id, encoded pair) of `job`. An empty list completes nothing
  // (wait_for returns at once). Throws Error after stop().
  void submit(const std::shared_ptr<Job>& job, std::vector<std::pair<std::uint32_t, EncodedPair>> pairs);
  // Queues a unit of work that is not a single sequence (e.g. a long document scored as
  // several windows with Engine::score): `fn` runs on the worker thread, in arrival order
  // with the pairs, and returns one logit per slot of `slots` (a throw fails them).
  // Dropped unrun when the job is cancelled. Throws Error after stop().
  void submit_call(const std::shared_ptr<Job>& job, std::vector<std::uint32_t> slots,
                   std::function<std::vector<float>()> fn);
  // Stops taking work, finishes every queued pair (dropping cancelled ones), joins.
  void stop();
  // Pairs waiting (not yet in a forward pass).
  std::size_t queue_size() const;
  const BatcherOptions& options() const { return opts_; }

 private:
  struct Item {
    std::shared_ptr<Job> job;
    std::uint32_t slot = 0;
    EncodedPair pair;
    SteadyTime enqueued;
    bool done = false;  // completed by run() (the rest of an out-of-memory pass is re-queued)
  };
  struct Call {
    std::shared_ptr<Job> job;
    std::vector<std::uint32_t> slots;
    std::function<std::vector<float>()> fn;
    SteadyTime enqueued;
  };
  void worker();
  void run_call(Call& c);
  // Removes and returns the next pass from queue_ (lock held). Drops cancelled entries.
  std::vector<Item> take_batch_locked(std::size_t* dropped);
  // Runs `items` in one pass. Returns false after std::bad_alloc on more than one pair
  // (the policy shrank; the caller re-queues them); on another failure bisects to
  // isolate the failing pair(s).
  bool run(std::vector<Item*>& items);

  Engine& engine_;
  BatcherOptions opts_;
  BatchPolicy policy_;  // worker thread only (and take_batch_locked, under mu_)
  std::function<void(const BatchStats&)> on_batch_;
  std::function<void(std::size_t)> on_dropped_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::deque<Call> calls_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace crossrank
