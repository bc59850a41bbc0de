#pragma once
// Blocked attention for the cases the encoder kernels (attention.h) do not take: causal
// masks, grouped-query heads (kv_heads < heads), last-row queries and shared-prefix
// parents (PackedBatch::parent) — the decoder rerankers' attention.
//
// Work split: one task per (sequence, KV head, block of query rows), the costliest first,
// scheduled dynamically over the OpenMP pool. A task stacks the query rows of every query
// head that reads its KV head (heads / kv_heads of them) into one [R, D] block, so each K/V
// block is multiplied once per task for the whole group. Keys run in blocks of <= kKeyBlock:
// first the parent's rows (a shared prefix, seen by every query), then the sequence's own,
// only up to the task's last query row when causal, and only from the task's first row's
// window start with a sliding window (AttnDesc::window, either direction), so a window
// costs O(L x window); scores are soft-capped with AttnDesc::softcap. Each key block is
// two oneDNN sgemm calls (S = scale Q K^T; O += P V; single-threaded inside the parallel
// region, JIT for the CPU's ISA at run time) around an online softmax (running max and sum, fp32; per row only
// the visible keys are exponentiated, masked ones are exactly 0).
//
// Memory per thread: R x (2 D + kKeyBlock + 2) floats (R <= 128 rows; ~0.8 MB at D = 128):
// O(1) in the sequence length.
#include <cstddef>

#include "backend/ops.h"

namespace crossrank::cpu {

// Scratch bytes attention_causal needs for `d` (all threads).
std::size_t attention_causal_scratch_bytes(const AttnDesc& d);

// out = attention over the batch's sequences (any AttnDesc, see ops.h); `scratch` holds
// attention_causal_scratch_bytes(d) bytes.
void attention_causal(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out, const PackedBatch& b,
                      float* scratch);

}  // namespace crossrank::cpu
