"""The reading model: scores (question, sentence) pairs for "this sentence answers the
question", on ONNX Runtime.

It is MiniLM-L6 as a cross-encoder: the shipped all-MiniLM-L6-v2 weights for the embeddings
and lower layers, and the top layers and a linear head over the mean-pooled states trained on
RealTime QA's 2022-2023 news questions (``scripts/reader/``, docs/reader-training.md). The
trained part ships in ``assistant/models/reader.safetensors`` (fp16, a few MB) and is joined
with the base weights into one ONNX graph at load time, as the embedder builds its own.

The graph's weights are then quantized to int8, one scale per output channel (ONNX Runtime's
dynamic quantization): it reads twice as fast on the CPU, and its logits follow fp32's
(correlation 0.994 on dev pairs; the answer combination fitted on them ranks and abstains as
fp32's did, docs/reader-training.md). One scale per matrix (correlation 0.97) lost abstention.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import EmbeddingError
from assistant.index.embedding import (
    LOCAL_MODELS,
    build_bert_onnx,
    cached_session,
    mean_pooled,
    model_dir,
)

if TYPE_CHECKING:
    from assistant.config import Settings

WEIGHTS = Path(__file__).resolve().parent.parent / "models" / "reader.safetensors"
MAX_TOKENS = 128  # question and sentence together, as trained
BATCH = 32


class ReadingModel:
    def __init__(self, weights: Path = WEIGHTS, threads: int = 0,
                 cache: Path | None = None, *, build: bool = True) -> None:
        """``cache``: a folder where the built int8 graph is kept, so that the next process
        loads it instead of building and quantizing it; without one, every process builds
        it. ``build`` False: raise ``GraphNotKept`` rather than build it."""
        try:
            from safetensors.numpy import load, load_file
            from tokenizers import Tokenizer

            base_dir = model_dir(LOCAL_MODELS["all-MiniLM-L6-v2"])
            trained_bytes = weights.read_bytes()  # hashed for the cache key, then loaded
            trained = load(trained_bytes)
            self._head_w = trained["head.weight"].astype(np.float32).reshape(-1)
            self._head_b = float(trained["head.bias"].astype(np.float32).reshape(-1)[0])

            def build_graph() -> bytes:
                config = json.loads((base_dir / "config.json").read_text())
                base = load_file(str(base_dir / "model.safetensors"))
                for key, value in trained.items():
                    if key.startswith("layer."):
                        base["encoder." + key] = value.astype(np.float32)
                return _int8(build_bert_onnx(base, config["num_attention_heads"],
                                             config["layer_norm_eps"]))

            identity = (f"{hashlib.sha256(trained_bytes).hexdigest()}|int8|"
                        f"{(base_dir / 'model.safetensors').stat().st_size}")
            self._session = cached_session(build_graph if build else None, threads, cache,
                                           "reader", identity)
            self._tokenizer = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
        except EmbeddingError:
            raise
        except Exception as e:  # a missing file, or onnxruntime's own error types
            raise EmbeddingError(f"cannot load the reading model from {weights}: {e}") from e
        self._tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
        self._tokenizer.no_padding()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, build: bool = True) -> ReadingModel:
        return cls(threads=settings.embed_threads, cache=settings.cache_dir, build=build)

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence: above 0, the model thinks it answers the question."""
        if not sentences:
            return np.zeros(0, dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, s) for s in sentences])
        out = np.zeros(len(sentences), dtype=np.float32)
        for idx, pooled in mean_pooled(self._session, self._lock, encodings, BATCH,
                                       "the reading model failed on {n} pairs"):
            out[idx] = pooled @ self._head_w + self._head_b
        return out


class _NotPreprocessed(logging.Filter):
    """ONNX Runtime's quantizer advises shape pre-processing on the root logger; the graph is
    ours and fully shaped, so the advice is noise on a user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _int8(graph: bytes) -> bytes:
    """``graph`` with its matrix weights quantized to int8 per output channel."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = _NotPreprocessed()
    logging.getLogger().addFilter(quiet)
    try:
        with tempfile.TemporaryDirectory(prefix="reader-") as tmp:
            out = Path(tmp) / "reader-int8.onnx"
            quantize_dynamic(onnx.load_from_string(graph), out, per_channel=True,
                             weight_type=QuantType.QInt8)
            return out.read_bytes()
    finally:
        logging.getLogger().removeFilter(quiet)
