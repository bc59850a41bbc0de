// The fiber scheduler of the CUDA emulator (emu.h). Threads of a block are user-space
// contexts switched by a few instructions (x86-64) or ucontext (elsewhere); the scheduler
// resumes, in thread order, every fiber that is not waiting, then releases a barrier once
// every live thread of its scope (block or warp) has reached one.
#include "cuda_emu/emu.h"

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

#if defined(__x86_64__)
// void cr_emu_switch(void** save_sp, void* load_sp): saves the callee-saved registers on
// the current stack, stores its pointer in *save_sp, switches to load_sp and restores.
extern "C" void cr_emu_switch(void** save_sp, void* load_sp);
asm(R"(
  .text
  .globl cr_emu_switch
  .type cr_emu_switch,@function
cr_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size cr_emu_switch,.-cr_emu_switch
  .section .note.GNU-stack,"",@progbits
  .text
)");
#endif

namespace crossrank::emu {
namespace {

enum class St : unsigned char { kRun, kBlockBar, kWarpBar, kDone };

constexpr std::size_t kStack = 256 * 1024;

struct Fiber {
  St st = St::kRun;
#if defined(__x86_64__)
  void* sp = nullptr;
#else
  ucontext_t ctx;
#endif
};

struct Sched {
  int n = 0;  // threads per block
  Dim block;
  std::vector<Fiber> f;
  std::vector<std::unique_ptr<char[]>> stacks;
  std::vector<unsigned char> smem;
  std::vector<unsigned char> slots;  // 16 bytes per thread (shuffles)
  const std::function<void()>* body = nullptr;
  int cur = -1;
#if defined(__x86_64__)
  void* main_sp = nullptr;
#else
  ucontext_t main;
#endif
};

thread_local Sched* g = nullptr;

void set_thread(int i) {
  const unsigned bx = g->block.x, by = g->block.y;
  threadIdx.x = i % bx;
  threadIdx.y = (i / bx) % by;
  threadIdx.z = i / (bx * by);
}

void to_scheduler() {
#if defined(__x86_64__)
  cr_emu_switch(&g->f[g->cur].sp, g->main_sp);
#else
  swapcontext(&g->f[g->cur].ctx, &g->main);
#endif
}

[[noreturn]] void fiber_entry() {
  (*g->body)();
  g->f[g->cur].st = St::kDone;
  to_scheduler();
  std::abort();  // a finished fiber is never resumed
}

#if !defined(__x86_64__)
void fiber_entry_c() { fiber_entry(); }
#endif

void start_fiber(int i) {
  Fiber& fb = g->f[i];
  fb.st = St::kRun;
  char* top = g->stacks[i].get() + kStack;
#if defined(__x86_64__)
  auto* sp = reinterpret_cast<std::uintptr_t*>(reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t(15));
  *--sp = 0;                                                  // fake return address of fiber_entry
  *--sp = reinterpret_cast<std::uintptr_t>(&fiber_entry);     // popped by `ret` (16-aligned slot)
  for (int r = 0; r < 6; ++r) *--sp = 0;                      // rbp rbx r12 r13 r14 r15
  fb.sp = sp;
#else
  getcontext(&fb.ctx);
  fb.ctx.uc_stack.ss_sp = g->stacks[i].get();
  fb.ctx.uc_stack.ss_size = kStack;
  fb.ctx.uc_link = nullptr;
  makecontext(&fb.ctx, fiber_entry_c, 0);
#endif
}

void resume(int i) {
  g->cur = i;
  set_thread(i);
#if defined(__x86_64__)
  cr_emu_switch(&g->main_sp, g->f[i].sp);
#else
  swapcontext(&g->main, &g->f[i].ctx);
#endif
  g->cur = -1;
}

[[noreturn]] void deadlock() {
  std::fprintf(stderr, "cuda emulator: deadlock in block (%u,%u,%u): threads wait at different barriers\n", blockIdx.x,
               blockIdx.y, blockIdx.z);
  for (int i = 0; i < g->n; ++i) std::fprintf(stderr, "  thread %d state %d\n", i, static_cast<int>(g->f[i].st));
  std::abort();
}

void run_block() {
  for (int i = 0; i < g->n; ++i) start_fiber(i);
  std::fill(g->smem.begin(), g->smem.end(), 0);
  for (;;) {
    bool ran = false;
    for (int i = 0; i < g->n; ++i)
      if (g->f[i].st == St::kRun) {
        resume(i);
        ran = true;
      }
    int live = 0, at_block = 0;
    for (const Fiber& fb : g->f) {
      live += fb.st != St::kDone;
      at_block += fb.st == St::kBlockBar;
    }
    if (live == 0) return;
    bool released = false;
    if (at_block == live) {
      for (Fiber& fb : g->f)
        if (fb.st == St::kBlockBar) fb.st = St::kRun;
      released = true;
    } else {
      for (int w0 = 0; w0 < g->n; w0 += 32) {
        const int w1 = std::min(g->n, w0 + 32);
        int wl = 0, at_warp = 0;
        for (int i = w0; i < w1; ++i) {
          wl += g->f[i].st != St::kDone;
          at_warp += g->f[i].st == St::kWarpBar;
        }
        if (wl > 0 && at_warp == wl) {
          for (int i = w0; i < w1; ++i)
            if (g->f[i].st == St::kWarpBar) g->f[i].st = St::kRun;
          released = true;
        }
      }
    }
    if (!ran && !released) deadlock();
  }
}

}  // namespace

void run_grid(Dim grid, Dim block, std::size_t smem, const std::function<void()>& body) {
  Sched s;
  s.block = block;
  s.n = static_cast<int>(block.x * block.y * block.z);
  if (s.n <= 0 || s.n > 1024) {
    std::fprintf(stderr, "cuda emulator: bad block size %d\n", s.n);
    std::abort();
  }
  s.f.resize(s.n);
  for (int i = 0; i < s.n; ++i) s.stacks.emplace_back(new char[kStack]);
  s.smem.assign(std::max<std::size_t>(smem, 16), 0);
  s.slots.assign(static_cast<std::size_t>(s.n) * 16, 0);
  s.body = &body;
  Sched* saved = g;
  g = &s;
  blockDim = dim3(block.x, block.y, block.z);
  gridDim = dim3(grid.x, grid.y, grid.z);
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx.x = x;
        blockIdx.y = y;
        blockIdx.z = z;
        run_block();
      }
  g = saved;
}

void block_barrier() {
  g->f[g->cur].st = St::kBlockBar;
  to_scheduler();
}

void warp_barrier() {
  g->f[g->cur].st = St::kWarpBar;
  to_scheduler();
}

unsigned char* dynamic_smem() { return g->smem.data(); }
int linear_tid() { return g->cur; }
unsigned char* shuffle_slot(int tid) { return g->slots.data() + static_cast<std::size_t>(tid) * 16; }

}  // namespace crossrank::emu
