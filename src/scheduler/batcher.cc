#include "scheduler/batcher.h"

#include <algorithm>
#include <new>
#include <numeric>

#include "util/error.h"
#include "util/log.h"

namespace crossrank {

// ---- Job ----

Job::Job(std::size_t slots) : logits_(slots, 0.0f), state_(slots, kIdle) {
  submitted_ = first_start_ = last_end_ = std::chrono::steady_clock::now();
}

Job::~Job() {
  if (release_) release_();
}

bool Job::wait_for(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, d, [&] { return pending_ == 0; });
}

std::string Job::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

std::size_t Job::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<std::size_t>(std::count(state_.begin(), state_.end(), kDropped));
}

void Job::finish(std::size_t slot, SlotState st, float logit, const std::string& err, SteadyTime start,
                 SteadyTime end) {
  bool done;
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (state_[slot] != kPending) return;
    state_[slot] = st;
    logits_[slot] = logit;
    if (st == kFailed && error_.empty()) error_ = err;
    if (st != kDropped) {
      if (!started_ || start < first_start_) first_start_ = start;
      if (!started_ || end > last_end_) last_end_ = end;
      started_ = true;
    }
    done = --pending_ == 0;
    if (done) hook = std::move(on_done_);
  }
  if (done) {
    cv_.notify_all();
    if (hook) hook();
  }
}

// ---- Batcher ----

Batcher::Batcher(Engine& engine, BatcherOptions opts, std::function<void(const BatchStats&)> on_batch,
                 std::function<void(std::size_t)> on_dropped)
    : engine_(engine),
      opts_(opts),
      policy_(engine, opts.max_batch_requests > 0 ? opts.max_batch_requests : 1 << 30, opts.max_batch_tokens),
      on_batch_(std::move(on_batch)),
      on_dropped_(std::move(on_dropped)) {
  check(opts_.max_batch_tokens > 0, "max_batch_tokens must be > 0");
  check(opts_.max_batch_requests >= 0, "max_batch_requests must be >= 0");
  if (opts_.window == 0) opts_.window = 1;
  thread_ = std::thread([this] { worker(); });
}

Batcher::~Batcher() { stop(); }

void Batcher::submit(const std::shared_ptr<Job>& job, std::vector<std::pair<std::uint32_t, EncodedPair>> pairs) {
  if (pairs.empty()) return;
  const SteadyTime now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> jl(job->mu_);
    for (const auto& p : pairs) {
      check(p.first < job->state_.size() && job->state_[p.first] == Job::kIdle, "batcher: bad or repeated slot");
      job->state_[p.first] = Job::kPending;
    }
    job->pending_ += pairs.size();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      // Fail the pairs so that a waiter never hangs.
      for (const auto& p : pairs) job->finish(p.first, Job::kFailed, 0.0f, "server is shutting down", now, now);
      throw Error("server is shutting down");
    }
    for (auto& p : pairs) queue_.push_back(Item{job, p.first, std::move(p.second), now});
  }
  cv_.notify_one();
}

void Batcher::submit_call(const std::shared_ptr<Job>& job, std::vector<std::uint32_t> slots,
                          std::function<std::vector<float>()> fn) {
  if (slots.empty()) return;
  const SteadyTime now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> jl(job->mu_);
    for (std::uint32_t s : slots) {
      check(s < job->state_.size() && job->state_[s] == Job::kIdle, "batcher: bad or repeated slot");
      job->state_[s] = Job::kPending;
    }
    job->pending_ += slots.size();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      for (std::uint32_t s : slots) job->finish(s, Job::kFailed, 0.0f, "server is shutting down", now, now);
      throw Error("server is shutting down");
    }
    calls_.push_back(Call{job, std::move(slots), std::move(fn), now});
  }
  cv_.notify_one();
}

void Batcher::run_call(Call& c) {
  const SteadyTime start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  std::string err;
  try {
    logits = c.fn();
    if (logits.size() != c.slots.size()) err = "call returned " + std::to_string(logits.size()) + " logits for " +
                                               std::to_string(c.slots.size()) + " slots";
  } catch (const std::bad_alloc&) {
    err = "out of memory";
  } catch (const std::exception& e) {
    err = e.what();
  }
  const SteadyTime end = std::chrono::steady_clock::now();
  BatchStats st;
  st.pairs = c.slots.size();
  st.inference_seconds = std::chrono::duration<double>(end - start).count();
  st.failed = !err.empty();
  st.queue_seconds.assign(c.slots.size(), std::chrono::duration<double>(start - c.enqueued).count());
  if (on_batch_) on_batch_(st);
  for (std::size_t i = 0; i < c.slots.size(); ++i)
    c.job->finish(c.slots[i], err.empty() ? Job::kDone : Job::kFailed, err.empty() ? logits[i] : 0.0f, err, start, end);
}

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t Batcher::queue_size() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::size_t n = queue_.size();
  for (const Call& c : calls_) n += c.slots.size();
  return n;
}

// Pass formation, first come first served over the `window` oldest waiting entries
// (cancelled ones are dropped here):
//  1. the oldest entry always runs (no starvation), then entries are taken in arrival
//     order while the BatchPolicy admits the pass (pair cap, token cap, memory estimate);
//  2. an entry that does not fit is skipped and the scan goes on (a later, shorter pair
//     may fill the pass); skipped entries keep their place at the front of the queue.
// Requests are queued contiguously, so taking in arrival order keeps a request's pairs
// in one pass whenever they fit: the encoders pack without padding (varlen), so mixing
// lengths costs nothing, and decoder rerankers share a query's prefix K/V in a pass.
// (The earlier rule grew the pass around the oldest entry's length, splitting requests
// over passes; measured on MiniLM, 32 clients x 20 pairs, AMD EPYC 2 cores, loopback:
// no throughput difference within noise.)
std::vector<Batcher::Item> Batcher::take_batch_locked(std::size_t* dropped) {
  std::vector<Item> win;
  win.reserve(std::min(queue_.size(), opts_.window));
  while (!queue_.empty() && win.size() < opts_.window) {
    Item it = std::move(queue_.front());
    queue_.pop_front();
    if (it.job->cancelled()) {
      it.job->finish(it.slot, Job::kDropped, 0.0f, "", it.enqueued, it.enqueued);
      ++*dropped;
      continue;
    }
    win.push_back(std::move(it));
  }
  if (win.empty()) return {};
  const std::size_t n = win.size();
  std::vector<char> taken(n, 0);
  std::size_t count = 0, tokens = 0;
  int max_len = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t len = win[i].pair.ids.size();
    const int ml = std::max(max_len, static_cast<int>(len));
    if (count > 0 && !policy_.fits(count + 1, tokens + len, ml)) {
      if (count >= policy_.max_seqs()) break;
      continue;
    }
    taken[i] = 1;
    ++count;
    tokens += len;
    max_len = ml;
  }
  std::vector<Item> batch;
  batch.reserve(count);
  for (std::size_t i = 0; i < n; ++i)
    if (taken[i]) batch.push_back(std::move(win[i]));
  for (std::size_t i = n; i-- > 0;)
    if (!taken[i]) queue_.push_front(std::move(win[i]));
  return batch;
}

bool Batcher::run(std::vector<Item*>& items) {
  std::vector<const EncodedPair*> ptrs;
  ptrs.reserve(items.size());
  std::size_t tokens = 0;
  for (Item* it : items) {
    ptrs.push_back(&it->pair);
    tokens += it->pair.ids.size();
  }
  const SteadyTime start = std::chrono::steady_clock::now();
  std::vector<float> logits;
  std::string err;
  bool oom = false;
  try {
    logits = engine_.forward(ptrs);
    if (logits.size() != items.size()) err = "backend returned " + std::to_string(logits.size()) + " logits for " +
                                             std::to_string(items.size()) + " pairs";
  } catch (const std::bad_alloc&) {
    err = "out of memory";
    oom = true;
  } catch (const std::exception& e) {
    err = e.what();
    if (err.empty()) err = "backend error";
  } catch (...) {
    err = "unknown backend error";
  }
  const SteadyTime end = std::chrono::steady_clock::now();
  if (oom && items.size() > 1) {
    // The shared back-off: passes shrink to 3/4 of this one from now on; the caller puts
    // these pairs back at the front of the queue.
    policy_.shrink(items.size());
    log_warn("out of memory on a pass of " + std::to_string(items.size()) + " pairs / " + std::to_string(tokens) +
             " tokens; passes now hold at most " + std::to_string(policy_.max_seqs()) + " pairs");
    return false;
  }
  if (!err.empty() && items.size() > 1) {
    // Bisect: a bad pair must not fail its batch-mates.
    log_warn("batch of " + std::to_string(items.size()) + " pairs / " + std::to_string(tokens) +
             " tokens failed (" + err + "); retrying in halves");
    std::vector<Item*> a(items.begin(), items.begin() + items.size() / 2);
    std::vector<Item*> b(items.begin() + items.size() / 2, items.end());
    if (!run(a)) return run(b), false;
    return run(b);
  }
  if (oom) err = "out of memory running a single pair of " + std::to_string(tokens) + " tokens";
  BatchStats st;
  st.pairs = items.size();
  st.tokens = tokens;
  st.inference_seconds = std::chrono::duration<double>(end - start).count();
  st.failed = !err.empty();
  st.queue_seconds.reserve(items.size());
  for (const Item* it : items) st.queue_seconds.push_back(std::chrono::duration<double>(start - it->enqueued).count());
  if (!err.empty()) log_error("forward pass failed: " + err);
  // Metrics first, then completion: a client that has its answer must find its pass in
  // /metrics (Server.MetricsAndCacheHits failed in 1 of 4 CI runs the other way round).
  if (on_batch_) on_batch_(st);
  for (std::size_t i = 0; i < items.size(); ++i) {
    Item* it = items[i];
    if (err.empty()) it->job->finish(it->slot, Job::kDone, logits[i], "", start, end);
    else it->job->finish(it->slot, Job::kFailed, 0.0f, err, start, end);
    it->done = true;
  }
  return true;
}

void Batcher::worker() {
  if (opts_.on_worker_start) opts_.on_worker_start();
  for (;;) {
    std::vector<Item> batch;
    std::size_t dropped = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !calls_.empty(); });
      if (queue_.empty() && calls_.empty()) return;  // stopping and drained
      // Calls and passes in arrival order.
      if (!calls_.empty() && (queue_.empty() || calls_.front().enqueued <= queue_.front().enqueued)) {
        Call c = std::move(calls_.front());
        calls_.pop_front();
        lock.unlock();
        if (c.job->cancelled()) {
          for (std::uint32_t s : c.slots) c.job->finish(s, Job::kDropped, 0.0f, "", c.enqueued, c.enqueued);
          if (on_dropped_) on_dropped_(c.slots.size());
        } else {
          run_call(c);
        }
        continue;
      }
      batch = take_batch_locked(&dropped);
    }
    if (dropped && on_dropped_) on_dropped_(dropped);
    if (batch.empty()) continue;
    std::vector<Item*> ptrs;
    ptrs.reserve(batch.size());
    for (auto& it : batch) ptrs.push_back(&it);
    if (!run(ptrs)) {
      // Out of memory: the pairs not completed go back to the front, in order.
      std::lock_guard<std::mutex> lock(mu_);
      for (std::size_t i = batch.size(); i-- > 0;)
        if (!batch[i].done) queue_.push_front(std::move(batch[i]));
    }
  }
}

}  // namespace crossrank
