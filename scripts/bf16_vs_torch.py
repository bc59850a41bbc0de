#!/usr/bin/env python3
"""How far torch's bf16 moves the synthetic real-shape goldens (needs torch; not run in CI).

    python3 scripts/bf16_vs_torch.py bge-reranker-base        # or bge-reranker-v2-m3

Rebuilds the golden model (scripts/make_goldens.py, seed 0) and prints, for each golden case
up to 1024 tokens, |logit - fp32 golden| under torch.autocast("cpu", bfloat16) and with the
model cast to bfloat16. tests/backend/cpu/cpu_backend_test.cc's bf16 tolerances on the XLM-R shapes
cite these figures (crossrank bf16 must be no worse than torch's autocast).
"""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens as mg  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else "bge-reranker-base"
torch.set_num_threads(2)
golden = json.loads((mg.REPO / "tests/data/goldens" / f"synthetic-{name}.json").read_text())
cases = [c for c in golden["cases"] if len(c["ids"]) <= 1024]
model = mg.build_model("xlmr", golden["config"], seed=0)
for mode in ("autocast", "to_bf16"):
    if mode == "to_bf16":
        model = model.to(torch.bfloat16)
    worst = 0.0
    for c in cases:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "autocast"):
            got = model(input_ids=torch.tensor([c["ids"]])).logits.float().item()
        worst = max(worst, abs(got - c["logit"]))
        print(f"{name} {mode} len {len(c['ids']):5d}: fp32 {c['logit']:+.5f} bf16 {got:+.5f}")
    print(f"{name} {mode}: max |d| = {worst:.3f} over {len(cases)} cases")
