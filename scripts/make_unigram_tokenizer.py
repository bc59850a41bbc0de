#!/usr/bin/env python3
"""Builds the small XLM-R-style Unigram tokenizer used by crossrank's tests.

Output folder: tests/data/tokenizers/xlmr-unigram/
  sentencepiece.bpe.model   SentencePiece unigram model (vocab 8000, nmt_nfkc), trained here
  tokenizer.json            HF `tokenizers` file in the exact layout XLM-R / bge-m3 /
                            bge-reranker-v2-m3 ship (fairseq id offset, <mask> lstrip, ...)
  tokenizer_config.json, special_tokens_map.json

Deterministic: fixed input sampling (random.Random(20251123)), fixed spm seed, one
trainer thread, no input shuffling.

Normalizer: the charsmap sentencepiece compiles for `nmt_nfkc` during training is
compared with the REAL XLM-R charsmap (/work/shared/models/xlm-roberta-tokenizer-PARTIAL/
xlmr.precompiled_charsmap.bin, taken from bge-m3's tokenizer.json). If they differ, the real
one is written into BOTH the .model's normalizer_spec.precompiled_charsmap and the
tokenizer.json Precompiled normalizer, so the tests exercise the real XLM-R normalizer.
The script prints which of the two happened (with sentencepiece 0.2.x they differ: the
real charsmap was compiled by an older spm, so the real one is substituted).

tokenizer.json layout: transformers 5.x no longer ships the 4.x XLMRobertaConverter that
produced the released XLM-R tokenizer.json (Sequence[Precompiled, Replace(" {2,}" -> " ")],
Metaspace(prepend_scheme="always", split=true)). The released layout is what crossrank must
match, so it is built here with the `tokenizers` API mirroring the 4.x converter
(XLMRobertaConverter.vocab/unk_id/post_processor + SpmConverter normalizer/pre_tokenizer of
transformers 4.x); the transformers-5 conversion of the same .model is also run and
compared, and the number of sample texts where the two disagree is printed (informational).
Note: transformers 5.x AutoTokenizer.from_pretrained(folder) rebuilds XLMRobertaTokenizer's own
pipeline (Precompiled only; WhitespaceSplit + Metaspace) and takes only the vocab from
tokenizer.json; crossrank's ground truth is `tokenizers.Tokenizer.from_file(tokenizer.json)`.

Usage: python3 scripts/make_unigram_tokenizer.py   (from the repo root; ~1-2 min on 2 cores)
"""
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
DATA = os.path.join(SHARED, "data")
OUT = os.path.join(ROOT, "tests", "data", "tokenizers", "xlmr-unigram")
REAL_CHARSMAP = os.path.join(SHARED, "models", "xlm-roberta-tokenizer-PARTIAL", "xlmr.precompiled_charsmap.bin")
SEED = 20251123
VOCAB = 8000


def corpus_lines():
    """Yields training sentences from the shared data, deterministically sampled."""
    rng = random.Random(SEED)
    out = []

    def sample(lines, k):
        lines = [l.strip() for l in lines if l.strip()]
        if len(lines) > k:
            lines = rng.sample(lines, k)
        out.extend(lines)

    with open(os.path.join(DATA, "text-corpora", "hongloumeng.zh.txt"), encoding="utf-8") as f:
        sample(f.read().splitlines(), 6000)
    with open(os.path.join(DATA, "text-corpora", "war_and_peace.en.txt"), encoding="utf-8") as f:
        sample(f.read().splitlines(), 12000)
    for lang in ("zh", "en"):
        with open(os.path.join(DATA, "xquad-zh-en", f"xquad.{lang}.json"), encoding="utf-8") as f:
            j = json.load(f)
        lines = []
        for art in j["data"]:
            for p in art["paragraphs"]:
                lines.append(p["context"])
                lines.extend(q["question"] for q in p["qas"])
        sample(lines, 100000)
    with open(os.path.join(DATA, "cmrc2018", "cmrc2018_dev.squad-style.json"), encoding="utf-8") as f:
        j = json.load(f)
    lines = []
    for art in j["data"]:
        for p in art["paragraphs"]:
            lines.append(p["context"])
            lines.extend(q["question"] for q in p["qas"])
    sample(lines, 100000)
    with open(os.path.join(DATA, "msmarco-trecdl-subset", "corpus.jsonl"), encoding="utf-8") as f:
        sample([json.loads(l)["text"] for l in f], 3000)
    # A few constructed multilingual lines so Korean/Japanese/Arabic/Cyrillic get some pieces.
    extra = [
        "한국어 문장입니다. 서울은 대한민국의 수도입니다.",
        "日本語の文です。東京は日本の首都です。ひらがなとカタカナ。",
        "هذه جملة باللغة العربية. القاهرة عاصمة مصر.",
        "Это предложение на русском языке. Москва — столица России.",
        "Ελληνικά: η Αθήνα είναι η πρωτεύουσα της Ελλάδας.",
        "Café naïve façade résumé coöperate Ångström Straße.",
    ]
    out.extend(extra * 20)
    return out


def train(tmp):
    lines = corpus_lines()
    print(f"training on {len(lines)} sentences", file=sys.stderr)
    spm.set_random_generator_seed(SEED)
    prefix = os.path.join(tmp, "spm")
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=prefix,
        model_type="unigram",
        vocab_size=VOCAB,
        character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc",
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,
        max_sentence_length=1 << 16,
        # XLM-R's spm model has <unk>=0, <s>=1, </s>=2 (fairseq/HF map them to 3, 0, 2).
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        minloglevel=2,
    )
    return prefix + ".model"


def build_hf_tokenizer(proto):
    """The tokenizer XLM-R's released tokenizer.json describes (transformers 4.x converter)."""
    vocab = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(p.piece, p.score) for p in proto.pieces[3:]]
    vocab += [("<mask>", 0.0)]
    tok = Tokenizer(Unigram(vocab, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(proto.normalizer_spec.precompiled_charsmap),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    specials = [
        AddedToken("<s>", special=True, normalized=False),
        AddedToken("<pad>", special=True, normalized=False),
        AddedToken("</s>", special=True, normalized=False),
        AddedToken("<unk>", special=True, normalized=False),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True),
    ]
    tok.add_special_tokens(specials)
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = train(tmp)
        proto = model_pb2.ModelProto()
        with open(model_path, "rb") as f:
            proto.ParseFromString(f.read())

    with open(REAL_CHARSMAP, "rb") as f:
        real = f.read()
    trained = proto.normalizer_spec.precompiled_charsmap
    if trained == real:
        print("charsmap: trained nmt_nfkc charsmap EQUALS the real XLM-R one; kept as is")
    else:
        print(f"charsmap: trained nmt_nfkc charsmap ({len(trained)} bytes) DIFFERS from the real XLM-R "
              f"one ({len(real)} bytes); substituted the real one into the .model and tokenizer.json")
        proto.normalizer_spec.precompiled_charsmap = real
    proto.trainer_spec.model_prefix = "spm"  # was the random temp dir: keep the file reproducible
    # XLM-R's released spm model uses the same normalizer flags.
    proto.normalizer_spec.name = "nmt_nfkc"
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = True
    proto.normalizer_spec.escape_whitespaces = True

    model_out = os.path.join(OUT, "sentencepiece.bpe.model")
    with open(model_out, "wb") as f:
        f.write(proto.SerializeToString())

    tok = build_hf_tokenizer(proto)
    tok.save(os.path.join(OUT, "tokenizer.json"))

    # tokenizer_config.json / special_tokens_map.json shaped like bge-reranker-v2-m3's.
    def added(content, lstrip=False):
        return {"content": content, "lstrip": lstrip, "normalized": False, "rstrip": False,
                "single_word": False, "special": True}
    n = len(proto.pieces) + 1
    config = {
        "added_tokens_decoder": {
            "0": added("<s>"), "1": added("<pad>"), "2": added("</s>"), "3": added("<unk>"),
            str(n): added("<mask>", lstrip=True),
        },
        "bos_token": "<s>", "clean_up_tokenization_spaces": True, "cls_token": "<s>",
        "eos_token": "</s>", "mask_token": "<mask>", "model_max_length": 8192,
        "pad_token": "<pad>", "sep_token": "</s>", "sp_model_kwargs": {},
        "tokenizer_class": "XLMRobertaTokenizer", "unk_token": "<unk>",
    }
    with open(os.path.join(OUT, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    stm = {
        "bos_token": added("<s>"), "cls_token": added("<s>"), "eos_token": added("</s>"),
        "mask_token": added("<mask>", lstrip=True), "pad_token": added("<pad>"),
        "sep_token": added("</s>"), "unk_token": added("<unk>"),
    }
    for v in stm.values():
        del v["special"]
    with open(os.path.join(OUT, "special_tokens_map.json"), "w", encoding="utf-8") as f:
        json.dump(stm, f, indent=2, ensure_ascii=False)
        f.write("\n")

    # Informational: the transformers-5 conversion of the same .model, and spm itself.
    samples = ["Hello world", "  leading and   multiple spaces  ", "红楼梦 第一回", "tab\there\nnewline",
               "Ｆｕｌｌｗｉｄｔｈ　ｓｐａｃｅ", "a <mask> b", "emoji 😀 👍🏽"]
    try:
        from transformers import AutoTokenizer
        t5 = AutoTokenizer.from_pretrained(OUT)
        diff = sum(t5.encode(s, add_special_tokens=False) != tok.encode(s, add_special_tokens=False).ids
                   for s in samples)
        print(f"transformers AutoTokenizer.from_pretrained(folder) [{type(t5).__name__}, normalizer "
              f"{type(t5.backend_tokenizer.normalizer).__name__}, pre_tokenizer "
              f"{type(t5.backend_tokenizer.pre_tokenizer).__name__}] disagrees with tokenizer.json on "
              f"{diff}/{len(samples)} sample texts")
    except Exception as e:  # pragma: no cover - informational only
        print(f"transformers conversion not compared: {e}")
    sp = spm.SentencePieceProcessor(model_file=model_out)
    print(f"vocab: spm {sp.get_piece_size()} pieces -> HF {tok.get_vocab_size()} ids; "
          f"'Hello world' -> {tok.encode('Hello world', add_special_tokens=False).ids}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
