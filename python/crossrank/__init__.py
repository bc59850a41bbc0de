"""crossrank: fast, exact cross-encoder reranking (bge-reranker-v2-m3 and friends).

    from crossrank import Reranker
    r = Reranker("path/to/bge-reranker-v2-m3")              # or "synthetic:tiny-xlmr"
    r.compute_score([["what is panda?", "hi"], ["what is panda?", "The giant panda is..."]])

Drop-in names for the Python libraries people already use:

    from crossrank import FlagReranker    # FlagEmbedding's FlagReranker.compute_score
    from crossrank import CrossEncoder    # sentence-transformers' CrossEncoder.predict / .rank
"""
from ._crossrank import CrossrankError, __version__
from ._reranker import CrossEncoder, FlagReranker, Reranker

__all__ = ["Reranker", "FlagReranker", "CrossEncoder", "CrossrankError", "__version__"]
