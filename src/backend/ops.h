#pragma once
// The op interface every architecture is written with (src/model/*), implemented once per
// backend (ref: plain fp32, the oracle; cpu: oneDNN / own kernels, fp32/bf16/int8; cuda).
// A model never touches activation memory itself: it allocates activations from the
// pass's arena, hands them to ops and reads back only the logits.
//
// Primitives and fused fast paths (as ggml and CTranslate2). Every backend implements the
// primitives (embed, linear with a plain or residual epilogue, norm, rope, attention,
// gather/pool, add, activate, glu, scale, head). The fused forms (a linear's activation or
// gated epilogue, linear_add_norm) are composed from the primitives by this base class
// unless the backend says it fuses them (fuses()); a new family only needs new
// primitives where its math is new, and a backend overrides only what it fuses.
//
// Lifecycle. Parameters are prepared once (prepare_*: the backend packs, quantises or
// uploads its own copy from the host tensors). Each forward pass is
//     ops.begin(batch, arena) ... alloc / ops ... ops.end()
// and the same model code run between begin_sizing(shape) and end() is a dry run: no op
// computes, every allocation and every op's scratch is only counted, so end() returns
// the pass's exact arena size for that backend (this is Backend::activation_bytes for
// every architecture on every backend, with no per-model formula).
//
// Memory. Activations come from a bump arena (alloc/mark/release, LIFO by scope); an op
// may take temporary scratch above the top, valid until it returns. The base class does
// the arithmetic only; the backend owns the memory (host or device).
//
// Shapes. An activation is a row-major [rows, cols] matrix with a row stride ld; rows are
// tokens (or one row per sequence after a gather). The packed batch (no padding) given
// to begin() defines the sequences: sequence s owns token rows [cu[s], cu[s+1]).
//
// Not thread-safe: one pass at a time per Ops object (the runner serialises).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "batch/packed_batch.h"
#include "crossrank/crossrank.h"
#include "model/tensors.h"

namespace crossrank {

// ---- parameter descriptions (host tensors in their source dtype) ----------------------

// Elementwise activation functions (the activate/glu primitives and linear epilogues).
enum class Activation : std::uint8_t {
  kIdentity,
  kGeluErf,   // 0.5 x (1 + erf(x / sqrt 2))                 (HF "gelu")
  kGeluTanh,  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))  ("gelu_pytorch_tanh", "gelu_new")
  kSilu,      // x sigmoid(x)                               ("silu", "swish")
  kTanh,
};
// The HF config name of an activation ("gelu", "gelu_pytorch_tanh", "silu", ...); throws
// Error naming `where` for one crossrank does not implement.
Activation activation_from_hf(const std::string& name, const std::string& where);
// act(x) for one value, in fp32 (the reference every backend is tested against).
float activate_ref(Activation a, float x);

// How a Linear's result z = x W^T + b is finished.
enum class Epilogue : std::uint8_t {
  kNone,       // y = z
  kGelu,       // y = GELU_erf(z)
  kSwiGlu,     // W stacks [gate; up] (2N rows): y = silu(z[:, :N]) * z[:, N:]  ([M, N])
  kResidual,   // y += z (y holds the residual on entry)
  kGeluTanh,   // y = GELU_tanh(z)
  kGeGlu,      // W stacks [gate; up]: y = GELU_erf(z[:, :N]) * z[:, N:]  (ModernBERT)
  kGeGluTanh,  // W stacks [gate; up]: y = GELU_tanh(z[:, :N]) * z[:, N:] (Gemma)
};
// What an epilogue is made of: the activation (on all of z, or on the gate half when
// `glu`), and whether the result is added to y.
struct EpilogueParts {
  Activation act = Activation::kIdentity;
  bool glu = false;
  bool residual = false;
};
EpilogueParts epilogue_parts(Epilogue e);
// The output width of a linear with `n` stacked weight rows and epilogue e (n/2 for GLUs).
int epilogue_out_cols(Epilogue e, int n);

// y = epilogue(x W^T + b). W = the row blocks stacked in order, each [n_b, K] (HF layout).
struct LinearDesc {
  std::string name;                        // for messages and per-GEMM policies, e.g. "layer.3.ffn_out"
  std::vector<const HostTensor*> weights;  // row blocks
  std::vector<const HostTensor*> biases;   // empty (no bias) or one [n_b] per block
  Epilogue epilogue = Epilogue::kNone;
};

enum class NormKind : std::uint8_t { kLayerNorm, kRmsNorm };
// LayerNorm: (x - mean) / sqrt(var + eps) * w + b;  RMSNorm: x / sqrt(mean(x^2) + eps) * w.
// Statistics in fp32 or wider on every backend. w is the weight plus weight_offset, added
// in fp32 at load (Gemma's RMSNorm multiplies by (1 + weight): offset 1).
struct NormDesc {
  NormKind kind = NormKind::kLayerNorm;
  const HostTensor* weight = nullptr;  // [dim]
  const HostTensor* bias = nullptr;    // [dim], LayerNorm only (may be null)
  float eps = 1e-5f;
  float weight_offset = 0.f;
};
// The norm's effective weight w + weight_offset in fp32 (what every backend multiplies by).
std::vector<float> norm_weight_f32(const NormDesc& d);

// x[t] = word[ids[t]] (+ position[pos[t]]) (+ type[types[t]]), then the norm if any.
struct EmbedDesc {
  const HostTensor* word = nullptr;      // [V, H]
  const HostTensor* position = nullptr;  // [P, H] or null (rotary models)
  const HostTensor* type = nullptr;      // [T, H] or null
  bool has_norm = false;
  NormDesc norm;
};

// Scores from pooled rows p [S, H]:
//   h = dense ? tanh(p Wd^T + bd) : p
//   one out row:  logit = h . w_0 + b_0        (cross-encoder classifiers)
//   two out rows: logit = h . w_1 - h . w_0    (decoder yes/no: log P(yes) - log P(no))
// out_rows selects rows of `out` (e.g. the "no" and "yes" rows of a 151k-row LM head);
// empty = all rows (then out must have 1 or 2 rows).
struct HeadDesc {
  const HostTensor* dense_w = nullptr;  // [H, H] or null
  const HostTensor* dense_b = nullptr;  // [H] or null
  const HostTensor* out = nullptr;      // [n, H]
  const HostTensor* out_b = nullptr;    // [n] or null
  std::vector<std::int64_t> out_rows;
};

// A backend's prepared parameter (packed / quantised / uploaded copy). Opaque to models.
class Param {
 public:
  virtual ~Param() = default;
};
using ParamPtr = std::unique_ptr<Param>;

// The head's output rows: HeadDesc::out_rows, or every row of `out`; throws Error unless
// there are 1 or 2, all in range.
std::vector<std::int64_t> head_out_rows(const HeadDesc& d);

// A head's parameters as host fp32 (the ref and cpu backends compute with this).
struct HostHead final : Param {
  std::vector<float> dense_w, dense_b;  // [H, H], [H]; empty: no dense layer
  std::vector<float> out;               // [n, H]: the selected output rows
  std::vector<float> out_b;             // [n]
  int n = 0, H = 0;
};
std::unique_ptr<HostHead> make_host_head(const HeadDesc& d);

// ---- per-pass arguments ---------------------------------------------------------------

// Which rows of each sequence an op produces: all tokens, or one row per sequence.
enum class RowSel : std::uint8_t { kAll, kFirst, kLast };

// How a sequence's token rows become its one pooled row.
enum class Pool : std::uint8_t {
  kFirst,  // the first token ([CLS], <s>)
  kLast,   // the last token (decoders)
  kMean,   // the mean of the sequence's own token rows (a parent's rows excluded)
};

// Softmax attention within each sequence of the batch.
//   q: [rows(q_rows), heads * head_dim]; k, v: [T, kv_heads * head_dim]; out like q.
//   Query head h reads kv head h / (heads / kv_heads) (grouped-query attention).
//   causal: token i sees keys j <= i of its sequence. With q_rows kFirst/kLast the one
//   query row of sequence s is its first/last token.
//   Sequences with a parent (PackedBatch::parent) also see all of the parent's keys first
//   (a shared prompt prefix computed once), as if the parent's tokens preceded their own.
//   Positions below are indices in that logical sequence (parent's tokens first).
//   window > 0: query i sees only keys j with |i - j| <= window (bidirectional; ModernBERT's
//   local layers: local_attention / 2), or with 0 <= i - j <= window (causal; HF's
//   sliding_window W is window W - 1).
//   softcap > 0: each score s = scale * q.k becomes softcap * tanh(s / softcap) (Gemma 2).
struct AttnDesc {
  int heads = 0, kv_heads = 0, head_dim = 0;
  float scale = 1.0f;  // applied to q.k
  RowSel q_rows = RowSel::kAll;
  bool causal = false;
  int window = 0;
  float softcap = 0.f;
};

// Rotary position embedding (rotate-half / NeoX layout, as HF Llama/Qwen), applied in
// place to the first `rotary_dim` features of every head, at the batch's position ids.
struct RopeDesc {
  int head_dim = 0;
  int rotary_dim = 0;  // <= head_dim, even
  float theta = 10000.0f;
};

// Where an activation goes next; lets a backend keep a GEMM-ready companion (bf16/int8)
// written by the producing op instead of converting in a separate pass.
//   kPlain      read by any op
//   kGemmInput  read by linear ops and others: fp32 rows plus a GEMM-ready companion
//   kGemmOnly   read by linear ops only: the backend may keep the GEMM-ready form alone
//               (read() then returns values reconstructed from it)
enum class ActUse : std::uint8_t { kPlain, kGemmInput, kGemmOnly };

// The int8 precision choices of a configuration (Ops::int8_facts), what the quality gate
// decides by. weight_bits: the narrowest per-channel weight range (8: VNNI; wider on
// igemm_s16s8; 7 would mean the saturating u8 x s8 path, which failed the gates).
struct Int8Facts {
  int weight_bits = 0;
  bool s16_activations = false;  // igemm_s16s8 (no VNNI)
  bool smoothquant = false;      // factors calibrated at load
  bool pooled16 = false;         // the pooled rows quantised to 16 bits
  bool attention_fp32 = false;
};

// An activation matrix in backend memory (host or device). Models pass these around but
// never dereference `data`.
struct Act {
  char* data = nullptr;   // first element
  int rows = 0, cols = 0;
  int ld = 0;             // row stride in elements
  int elem = 4;           // bytes per element (backend's activation type)
  ActUse use = ActUse::kPlain;
  char* aux = nullptr;    // backend companion rows (e.g. the int8 copy), or null; every op
                          // that writes an activation with a companion rewrites both
  char* aux2 = nullptr;   // per-row companion data (e.g. int8 scales), or null
  char* aux3 = nullptr;   // per-sequence companion data (e.g. precise copies of the pooled
                          // rows), shared by row views, or null
  bool tokens = false;    // rows are token rows [row0, row0 + rows) of the batch (else one
                          // row per sequence, from row0)
  int row0 = 0;
  // The linear that reads this activation next (set by the model before the op that
  // writes it), or null. A backend may write the GEMM-ready companion in that linear's
  // input form (cpu int8: divided by its SmoothQuant factors); a linear reading an
  // activation whose companion was written for another one converts it again (slower,
  // never wrong). Copied by views.
  const Param* next = nullptr;

  // Columns [c0, c0 + n) of every row (same rows and ld; no companion).
  Act cols_view(int c0, int n) const;
};

// Per-linear input statistics from a calibration pass: LinearDesc::name -> max |x| per
// input channel over the calibration tokens (pooled rows excluded: backends compute those
// more precisely anyway).
using InputStats = std::map<std::string, std::vector<float>>;

// Backend capabilities the scheduler and front ends read (instead of asking "is it CUDA?").
struct OpsCaps {
  std::vector<DType> dtypes;          // compute dtypes this backend can run here
  int preferred_batch_tokens = 2048;  // tokens per pass it runs best at
  bool padded = false;                // pays for padding (a padded batch of max_len * seqs)
  std::size_t keep_arena_bytes = 0;   // arena kept between passes up to this size
  std::size_t free_memory = 0;        // bytes available for activations now (0: unknown)
  // Rows per block for row-independent sub-blocks with a wide intermediate (the FFN):
  // models run them block-wise so the intermediate stays in cache; 0: all rows at once.
  int ffn_block_rows = 0;
};

class Ops {
 public:
  virtual ~Ops() = default;

  virtual const char* name() const = 0;
  virtual DType dtype() const = 0;
  virtual OpsCaps caps() const = 0;
  // One line for logs: implementation, ISA, precision choices.
  virtual std::string describe() const { return name(); }
  // The int8 precision choices the real-weight quality gate judges (src/bench/quality_gate.h),
  // as data; all false / 0 for ops that do not quantise to int8.
  virtual Int8Facts int8_facts() const { return {}; }

  // The rows of each sequence that reach the head (encoders: the first token; decoders:
  // the last). Backends that quantise activations may compute those rows more precisely
  // (cpu int8: 16-bit activations). Set once by the model while it is built.
  void set_pooled_rows(RowSel sel) { pooled_ = sel; }
  RowSel pooled_rows() const { return pooled_; }

  // ---- calibration (at load) ----
  // True when prepared linears would improve with input statistics (cpu int8: SmoothQuant
  // scale migration). The runner then builds the model, runs a calibration batch with
  // recording on, hands the statistics back with set_input_stats and builds it again.
  virtual bool wants_calibration() const { return false; }
  // Records per-linear input statistics in the passes that follow (on) / stops.
  virtual void record_input_stats(bool on) { (void)on; }
  // What the recording passes saw.
  virtual InputStats input_stats() const { return {}; }
  // Statistics the next prepare_linear calls use.
  virtual void set_input_stats(InputStats stats) { (void)stats; }

  // ---- parameters (at load; not during a pass) ----
  // A linear whose epilogue this backend does not fuse is prepared with Epilogue::kNone
  // (or kResidual for a residual one) and finished by primitives in linear().
  ParamPtr prepare_linear(const LinearDesc& d);
  virtual ParamPtr prepare_norm(const NormDesc& d) = 0;
  virtual ParamPtr prepare_embedding(const EmbedDesc& d) = 0;
  virtual ParamPtr prepare_head(const HeadDesc& d) = 0;
  // Names of the host tensors the backend has copied in full (they may be released).
  const std::vector<std::string>& copied_tensors() const { return copied_; }

  // ---- a pass ----
  // Starts a pass over `batch` using `arena` (arena_bytes from a sizing run).
  void begin(const PackedBatch& batch, char* arena, std::size_t arena_bytes);
  // Starts a dry run over a batch shape (only cu_seqlens/parent are read).
  void begin_sizing(const PackedBatch& shape);
  // Ends the pass; returns the arena bytes it used (peak of activations + scratch).
  std::size_t end();
  bool sizing() const { return sizing_; }
  const PackedBatch& batch() const { return *batch_; }

  // An activation [rows, cols] from the arena (uninitialised). Token rows when rows equals
  // the batch's token count, else one row per sequence (Act::tokens).
  Act alloc(int rows, int cols, ActUse use = ActUse::kPlain);
  // One row per sequence, [num_seqs, cols], whatever the token count. Why not alloc(S, ..):
  // in a batch of one-token sequences S equals the token count, and per-sequence rows
  // (fp32 on cuda) would be taken for token rows, so a pair's precision, and its bits under
  // --deterministic, would depend on what it was batched with.
  Act alloc_seq(int cols, ActUse use = ActUse::kPlain);
  // As many rows as `like`, of the same kind (token rows or per-sequence rows).
  Act alloc_like(const Act& like, int cols, ActUse use = ActUse::kPlain);
  // Rows [r0, r0 + n) of `a`, companions included (ops on row blocks: every op but
  // attention and gather_rows is row-independent, so a model may run them block-wise).
  virtual Act rows_view(const Act& a, int r0, int n) const;
  // Arena top, and freeing everything allocated after a mark (LIFO scopes).
  std::size_t mark() const { return top_; }
  void release(std::size_t mark) { top_ = mark; }

  // Arena memory of the backend (host or device) and bytes it needs beyond the arena for
  // a pass of `tokens` tokens (library workspaces); used by the runner.
  virtual char* allocate_arena(std::size_t bytes) = 0;
  virtual void free_arena(char* p, std::size_t bytes) = 0;
  virtual std::size_t extra_pass_bytes(int tokens) const { return 0; }

  // ---- ops (each computes nothing in a dry run) ----
  // out [T, H] = embedding of the batch's tokens (ids, positions, token types).
  void embed(const Param& e, Act& out);
  // out = epilogue(in W^T + b); in [M, K], out [M, N].
  void linear(const Act& in, const Param& w, Act& out);
  // x = norm(x + in W^T + b)  (post-norm residual block; x [M, N]). w must be prepared
  // with Epilogue::kResidual.
  void linear_add_norm(const Act& in, const Param& w, Act& x, const Param& norm);
  // x += a (residual add; same shape).
  void add(const Act& a, Act& x);
  // out = act(in) elementwise; out may be in.
  void activate(const Act& in, Activation act, Act& out);
  // out [M, N] = act(in[:, :N]) * in[:, N:] for in [M, 2N] (gated linear units).
  void glu(const Act& in, Activation act, Act& out);
  // x *= s (e.g. Gemma's embeddings times sqrt(hidden)).
  void scale(Act& x, float s);
  // out [S, cols] = each sequence's rows of in [T, cols] pooled (see Pool).
  void pool(const Act& in, Pool p, Act& out);
  // out = norm(in), per row, or per group of `group` columns (0: the whole row), e.g.
  // per-head q/k norms; out may be in itself.
  void norm(const Act& in, const Param& n, Act& out, int group = 0);
  // Rotary embedding in place on q [T, heads*D] and k [T, kv_heads*D] (views allowed).
  void rope(Act& q, Act& k, const RopeDesc& d);
  // out [rows(q_rows), heads*D] = attention over the batch's sequences (see AttnDesc).
  void attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out);
  // out [S, cols] = row sel of each sequence of in [T, cols] (companions included).
  void gather_rows(const Act& in, RowSel sel, Act& out);
  // One fp32 logit per row of pooled [S, H], on the host.
  std::vector<float> head(const Act& pooled, const Param& h);

  // ---- host transfer (tests, debugging) ----
  void write(Act& a, const std::vector<float>& host);  // rows*cols floats, row-major
  std::vector<float> read(const Act& a);

 protected:
  // Bytes of an activation (incl. any companion) and how it is laid out at `p`.
  virtual std::size_t act_bytes(int rows, int cols, ActUse use, bool tokens) const;
  virtual void bind(Act& a, char* p) const;  // a.rows, cols, use and tokens are set
  Act alloc_rows(int rows, int cols, ActUse use, bool tokens);
  // Temporary memory inside an op (valid until it returns); nullptr in a dry run.
  char* scratch(std::size_t bytes);
  // Called at the start of every real pass (not dry runs), after batch() is set.
  virtual void on_begin() {}
  void note_copied(const HostTensor* t) {
    if (t) copied_.push_back(t->name);
  }
  [[noreturn]] void throw_unfused(const char* what) const;

  // Fused forms this backend implements itself (the base composes the others from
  // primitives). Default: every epilogue, and linear_add_norm.
  virtual bool fuses(Epilogue e) const { (void)e; return true; }
  virtual bool fuses_linear_add_norm() const { return true; }

  virtual ParamPtr do_prepare_linear(const LinearDesc& d) = 0;
  virtual void do_embed(const Param& e, Act& out) = 0;
  // in W^T + b finished by the epilogue the param was prepared with (one the backend fuses).
  virtual void do_linear(const Act& in, const Param& w, Act& out) = 0;
  virtual void do_linear_add_norm(const Act& in, const Param& w, Act& x, const Param& norm) {
    (void)in, (void)w, (void)x, (void)norm;
    throw_unfused("linear_add_norm");
  }
  virtual void do_add(const Act& a, Act& x) = 0;
  virtual void do_activate(const Act& in, Activation act, Act& out) = 0;
  virtual void do_glu(const Act& in, Activation act, Act& out) = 0;
  virtual void do_scale(Act& x, float s) = 0;
  // Pool::kMean (kFirst / kLast go to do_gather_rows).
  virtual void do_mean_rows(const Act& in, Act& out) = 0;
  virtual void do_norm(const Act& in, const Param& n, Act& out, int group) = 0;
  virtual void do_rope(Act& q, Act& k, const RopeDesc& d) = 0;
  virtual void do_attention(const AttnDesc& d, const Act& q, const Act& k, const Act& v, Act& out) = 0;
  virtual void do_gather_rows(const Act& in, RowSel sel, Act& out) = 0;
  virtual std::vector<float> do_head(const Act& pooled, const Param& h) = 0;
  virtual void do_write(Act& a, const std::vector<float>& host) = 0;
  virtual std::vector<float> do_read(const Act& a) = 0;
  // Scratch bytes each op takes (for dry runs); 0 by default.
  virtual std::size_t linear_scratch(const Act& in, const Param& w, const Act& out) const { return 0; }
  virtual std::size_t linear_add_norm_scratch(const Act& in, const Param& w, const Act& x) const { return 0; }
  virtual std::size_t attention_scratch(const AttnDesc& d, const Act& q, const Act& k) const { return 0; }
  virtual std::size_t head_scratch(const Act& pooled, const Param& h) const { return 0; }

 private:
  // Runs op `f` (scratch measured by `scratch_bytes` in a dry run) and resets scratch.
  template <class F>
  void run(std::size_t scratch_bytes, F&& f);

  // One linear of the composition: the backend's param, the epilogue still to apply.
  struct Composed;
  void linear_composed(const Act& in, const Composed& c, Act& out);

  std::vector<std::string> copied_;
  RowSel pooled_ = RowSel::kAll;  // kAll: not set
  const PackedBatch* batch_ = nullptr;
  char* arena_ = nullptr;
  std::size_t arena_bytes_ = 0, top_ = 0, scratch_top_ = 0, peak_ = 0;
  bool sizing_ = false, in_pass_ = false;
};

// Rows an op with selection `sel` produces for the current batch (T or S).
int selected_rows(const PackedBatch& b, RowSel sel);
// Token row of sequence s picked by `sel` (kFirst: cu[s], kLast: cu[s+1]-1).
int selected_row(const PackedBatch& b, int s, RowSel sel);
// Rounds up to a multiple of 64 (arena alignment).
inline std::size_t align64(std::size_t n) { return (n + 63) & ~std::size_t(63); }

}  // namespace crossrank
