// crossrank._crossrank: thin pybind11 layer over crossrank::Engine. The Python-facing API
// (Reranker / FlagReranker / CrossEncoder) lives in crossrank/_reranker.py; this module
// only converts arguments, releases the GIL around engine work, and maps errors:
//   crossrank::Error  -> crossrank.CrossrankError (a ValueError)
//   other exceptions  -> RuntimeError (pybind11's default), std::bad_alloc -> MemoryError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crossrank/crossrank.h"
#include "hub/hub.h"

namespace py = pybind11;
using namespace crossrank;

namespace {

template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                        heap->data(), owner);
}

// One engine. Engine calls are serialised by a mutex (the engine's backends keep
// per-instance scratch state); the GIL is released while waiting and while scoring, so
// other Python threads (and other engines) keep running.
class PyEngine {
 public:
  PyEngine(const std::string& model, const std::string& dtype, const std::string& backend, int threads,
           bool deterministic, const std::string& reranker) {
    EngineOptions o;
    o.deterministic = deterministic;
    o.reranker = reranker;
    o.dtype = parse_dtype(dtype);
    o.backend = parse_backend(backend);
    if (threads < 0) throw Error("threads must be >= 0 (0 = all cores)");
    o.threads = threads;
    py::gil_scoped_release nogil;
    engine_ = Engine::open(model, o);
  }

  py::array_t<double> score(std::vector<std::string> queries, std::vector<std::string> docs, int max_length,
                            const std::string& truncation, int batch_size, bool normalize, const std::string& long_doc,
                            int chunk_overlap, int max_chunks, const std::string& instruction) {
    if (queries.size() != docs.size())
      throw Error(std::to_string(queries.size()) + " queries but " + std::to_string(docs.size()) + " documents");
    ScoreOptions so;
    so.max_length = max_length;
    so.truncation = parse_truncation(truncation);
    so.batch_size = batch_size;
    so.normalize = normalize;
    so.long_doc = parse_long_doc(long_doc);
    so.chunk_overlap = chunk_overlap;
    so.max_chunks = max_chunks;
    so.instruction = instruction;
    std::vector<double> out;
    {
      py::gil_scoped_release nogil;
      std::vector<Pair> pairs(queries.size());
      for (size_t i = 0; i < pairs.size(); ++i) pairs[i] = {queries[i], docs[i]};
      std::lock_guard<std::mutex> lock(mu_);
      out = engine_->score(pairs, so);
    }
    return to_numpy(std::move(out));
  }

  py::tuple encode(const std::string& query, const std::string& doc, int max_length, const std::string& truncation,
                   const std::string& instruction) {
    ScoreOptions so;
    so.max_length = max_length;
    so.truncation = parse_truncation(truncation);
    so.instruction = instruction;
    EncodedPair e;
    {
      py::gil_scoped_release nogil;
      e = engine_->encode(query, doc, so);  // const and tokenizer-only: no lock needed
    }
    return py::make_tuple(to_numpy(std::move(e.ids)), to_numpy(std::move(e.type_ids)));
  }

  // Raw fp32 logits of already-encoded sequences (one forward pass, no batching).
  py::array_t<float> forward(const std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>>& seqs) {
    const ModelInfo& info = engine_->info();
    const bool bert = info.architecture.find("Bert") != std::string::npos;
    std::vector<EncodedPair> enc(seqs.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      const auto& [ids, types] = seqs[i];
      const std::string where = "sequence " + std::to_string(i) + ": ";
      if (ids.empty() || static_cast<int>(ids.size()) > info.max_length)
        throw Error(where + std::to_string(ids.size()) + " ids; expected 1.." + std::to_string(info.max_length));
      if (types.size() != ids.size())
        throw Error(where + std::to_string(types.size()) + " type ids for " + std::to_string(ids.size()) + " ids");
      for (int32_t id : ids)
        if (id < 0 || id >= info.vocab_size)
          throw Error(where + "token id " + std::to_string(id) + " outside [0, " + std::to_string(info.vocab_size) + ")");
      for (int32_t t : types)
        if (t < 0 || t > (bert ? 1 : 0))
          throw Error(where + "token type id " + std::to_string(t) + " not valid for " + info.architecture);
      enc[i] = {ids, types};
    }
    std::vector<float> out;
    {
      py::gil_scoped_release nogil;
      std::vector<const EncodedPair*> ptrs;
      for (const auto& e : enc) ptrs.push_back(&e);
      std::lock_guard<std::mutex> lock(mu_);
      out = engine_->forward(ptrs);
    }
    return to_numpy(std::move(out));
  }

  py::dict info() const {
    const ModelInfo& m = engine_->info();
    py::dict d;
    d["name"] = m.name;
    d["architecture"] = m.architecture;
    d["layers"] = m.layers;
    d["hidden"] = m.hidden;
    d["heads"] = m.heads;
    d["intermediate"] = m.intermediate;
    d["vocab_size"] = m.vocab_size;
    d["max_length"] = m.max_length;
    d["parameters"] = m.parameters;
    d["dtype"] = to_string(engine_->dtype());
    d["backend"] = to_string(engine_->backend());
    return d;
  }

 private:
  std::unique_ptr<Engine> engine_;
  std::mutex mu_;
};

// A model folder for `model`: a Hugging Face id (ORG/NAME[@REVISION]) becomes its
// snapshot folder in the HF cache (src/hub); the keyword arguments override what the
// environment says (HF_HUB_CACHE, HF_TOKEN, HF_HUB_OFFLINE, HF_ENDPOINT).
std::string resolve_model(const std::string& model, const std::optional<std::string>& revision,
                          const std::optional<std::string>& cache_dir, const std::optional<std::string>& token,
                          bool local_files_only, const std::optional<std::string>& endpoint) {
  std::string id = model;
  if (revision && !revision->empty() && model.find('@') == std::string::npos) id += "@" + *revision;
  if (!hub::is_hub_id(id)) return model;
  hub::HubOptions o = hub::HubOptions::from_env();
  if (cache_dir && !cache_dir->empty()) o.cache_dir = *cache_dir;
  if (token) o.token = *token;
  if (endpoint && !endpoint->empty()) o.endpoint = *endpoint;
  o.offline = o.offline || local_files_only;
  py::gil_scoped_release nogil;
  return hub::resolve_model(id, o);
}

}  // namespace

PYBIND11_MODULE(_crossrank, m) {
  m.doc() = "crossrank engine bindings (use the crossrank package, not this module)";
  py::register_exception<Error>(m, "CrossrankError", PyExc_ValueError);
  m.attr("__version__") = version();
  py::class_<PyEngine>(m, "Engine")
      .def(py::init<const std::string&, const std::string&, const std::string&, int, bool, const std::string&>(),
           py::arg("model"), py::arg("dtype") = "fp32", py::arg("backend") = "auto", py::arg("threads") = 0,
           py::arg("deterministic") = false, py::arg("reranker") = "")
      .def("score", &PyEngine::score, py::arg("queries"), py::arg("documents"), py::arg("max_length") = 512,
           py::arg("truncation") = "flagembedding", py::arg("batch_size") = 32, py::arg("normalize") = false,
           py::arg("long_doc") = "truncate", py::arg("chunk_overlap") = 64, py::arg("max_chunks") = 256,
           py::arg("instruction") = "",
           "Scores pairs (queries[i], documents[i]); float64 array of raw logits or sigmoids.")
      .def("encode", &PyEngine::encode, py::arg("query"), py::arg("document"), py::arg("max_length") = 512,
           py::arg("truncation") = "flagembedding", py::arg("instruction") = "",
           "Token ids and type ids of one pair (int32 arrays).")
      .def("forward", &PyEngine::forward, py::arg("sequences"),
           "Raw float32 logits of [(ids, type_ids), ...] in one forward pass.")
      .def("info", &PyEngine::info);
  m.def("resolve_model", &resolve_model, py::arg("model"), py::arg("revision") = py::none(),
        py::arg("cache_dir") = py::none(), py::arg("token") = py::none(), py::arg("local_files_only") = false,
        py::arg("endpoint") = py::none(),
        "The local folder of a model: a Hugging Face id (ORG/NAME[@REVISION]) is downloaded into (or found in) "
        "the Hugging Face cache; anything else is returned as is.");
}
