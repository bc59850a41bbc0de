"""Length-sorted, token-budgeted padded batches of (ids, type_ids) encodings, for the torch
reference scripts (make_real_minilm.py, int8_fakequant.py)."""
from __future__ import annotations

import torch


def batches(encs, max_tokens=8192):
    """Yields (idx, ids, type_ids, attention_mask) per batch: encs[idx], shortest first, padded
    to the batch's longest, at most max_tokens padded tokens (at least one pair) a batch."""
    order = sorted(range(len(encs)), key=lambda i: len(encs[i][0]))
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and (j - i + 1) * len(encs[order[j]][0]) <= max_tokens:
            j += 1
        j = max(j, i + 1)
        idx = order[i:j]
        n = max(len(encs[k][0]) for k in idx)
        ids = torch.zeros((len(idx), n), dtype=torch.long)
        tt = torch.zeros_like(ids)
        am = torch.zeros_like(ids)
        for r, k in enumerate(idx):
            a, t = encs[k]
            ids[r, :len(a)] = torch.tensor(a)
            tt[r, :len(a)] = torch.tensor(t)
            am[r, :len(a)] = 1
        yield idx, ids, tt, am
        i = j
