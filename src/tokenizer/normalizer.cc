// Normalizer steps, mirroring HF tokenizers normalizers/{precompiled,replace,strip,bert,
// unicode}.rs.
#include "tokenizer/normalizer.h"

#include "tokenizer/unicode.h"

namespace crossrank {

namespace {

void apply_replace(const NormalizerStep& step, const std::string& in, std::string& out) {
  const std::string& p = step.pattern;
  if (p.empty()) {
    out = in;
    return;
  }
  std::size_t i = 0;
  while (i < in.size()) {
    const std::size_t f = in.find(p, i);
    if (f == std::string::npos) break;
    if (step.min_repeat > 0) {  // a run of >= min_repeat copies of p
      std::size_t e = f;
      int count = 0;
      while (in.compare(e, p.size(), p) == 0) {
        e += p.size();
        ++count;
      }
      out.append(in, i, f - i);
      if (count >= step.min_repeat) out += step.content;
      else out.append(in, f, e - f);
      i = e;
    } else {
      out.append(in, i, f - i);
      out += step.content;
      i = f + p.size();
    }
  }
  out.append(in, i, std::string::npos);
}

}  // namespace

void Normalizer::normalize(std::string_view in, std::string& out, std::string& tmp) const {
  if (steps_.size() == 1 && steps_[0].kind != NormalizerStep::Kind::kReplace &&
      steps_[0].kind != NormalizerStep::Kind::kStrip) {
    // One step straight from the input (the common BertNormalizer / NFC case).
    out.clear();
    const NormalizerStep& step = steps_[0];
    if (step.kind == NormalizerStep::Kind::kBert) bert_normalize(in, step.bert, out);
    else if (step.kind == NormalizerStep::Kind::kNfc) unicode::nfc_append(in, out);
    else step.charsmap->normalize(in, out);
    return;
  }
  out.assign(in.data(), in.size());
  for (const NormalizerStep& step : steps_) {
    tmp.clear();
    switch (step.kind) {
      case NormalizerStep::Kind::kPrecompiled:
        step.charsmap->normalize(out, tmp);
        break;
      case NormalizerStep::Kind::kReplace:
        apply_replace(step, out, tmp);
        break;
      case NormalizerStep::Kind::kStrip: {
        std::string_view v = out;
        if (step.strip_left) v.remove_prefix(unicode::leading_white_space(v));
        if (step.strip_right) v = v.substr(0, unicode::trailing_white_space_start(v));
        tmp.assign(v.data(), v.size());
        break;
      }
      case NormalizerStep::Kind::kBert:
        bert_normalize(out, step.bert, tmp);
        break;
      case NormalizerStep::Kind::kNfc:
        unicode::nfc_append(out, tmp);
        break;
    }
    out.swap(tmp);
  }
}

std::string Normalizer::normalize(std::string_view in) const {
  std::string out, tmp;
  normalize(in, out, tmp);
  return out;
}

}  // namespace crossrank
