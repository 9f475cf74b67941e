"""onnxruntime (CPU) + ``tokenizers``, no PyTorch: CLS pooling, truncation at 512 tokens, batches sorted by
token count so padding stays small. ``variant='int8'`` (model-int8.onnx, default) or ``'fp32'`` (model.onnx)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lawkb.search.profile import PLAIN

from .encoder import BGE_ZH_QUERY_PREFIX, Progress, clean_texts, normalise_rows
from .files import _VARIANT_FILES, file_sha256, onnx_files, tokenizer_for, variant_of


class OnnxEncoder:
    """A BERT-style ONNX export (last_hidden_state output) with CLS pooling, run by onnxruntime on CPU.

    ``path`` is a model folder (the file for ``variant`` is looked up in it) or one ``.onnx`` file that has
    ``tokenizer.json`` beside it or in its parent folder. ``sort_by_length=False`` keeps input order inside
    batches (only useful to measure what sorting gains).

    The int8 file is dynamically quantised: activation scales are computed over the whole batch, so a text's
    int8 vector moves slightly with its batch neighbours (cosine 0.98 or more to its lone encoding; fp32 is
    exact). Pass ``batch_size=1`` where vectors must not depend on the batch (about 20% slower).
    """

    def __init__(self, path: str | os.PathLike, variant: str = "int8", *, max_length: int = 512,
                 threads: int | None = None, query_prefix: str = BGE_ZH_QUERY_PREFIX,
                 sort_by_length: bool = True):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = Path(path).expanduser()
        if path.is_file():
            self.onnx_file = path
            variant = variant_of(path)
        else:
            if variant not in _VARIANT_FILES:
                raise ValueError(f"variant must be one of {sorted(_VARIANT_FILES)}, not {variant!r}")
            files = onnx_files(path)
            if variant not in files:
                raise FileNotFoundError(
                    f"{path}: no {variant} ONNX file (looked for {', '.join(_VARIANT_FILES[variant])})")
            self.onnx_file = files[variant]
        tokenizer_file = tokenizer_for(self.onnx_file)
        if tokenizer_file is None:
            raise FileNotFoundError(f"{self.onnx_file.parent}: no tokenizer.json beside the ONNX file")
        self.model_dir = tokenizer_file.parent
        self.variant = variant
        self.max_length = int(max_length)
        self.query_prefix = query_prefix
        self.sort_by_length = sort_by_length

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=self.max_length)
        pad = self.tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad is None else pad

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads otherwise spin, taking the core from concurrent searches: with 8 threads
        # encoding queries at once, 461 queries/s without spinning against 338 with it; one thread
        # encoding passages is level either way (254 vs 256).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(self.onnx_file), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self.session.get_inputs()]
        unknown = set(self._inputs) - {"input_ids", "attention_mask", "token_type_ids", "position_ids"}
        if "input_ids" not in self._inputs or unknown:
            raise ValueError(f"{self.onnx_file}: unsupported model inputs {self._inputs}")
        outputs = self.session.get_outputs()
        out = next((o for o in outputs if o.name == "last_hidden_state"), outputs[0])
        self._output = out.name
        self._pooled = len(out.shape) == 2  # already one vector per text
        last = out.shape[-1]
        self.dim = last if isinstance(last, int) else int(self._run([[self._pad_id]]).shape[1])
        self.profile = PLAIN
        self.model_id = (f"{self.model_dir.name}/{self.onnx_file.relative_to(self.model_dir).as_posix()}"
                         f"@{file_sha256(self.onnx_file)[:12]}")

    def __repr__(self) -> str:
        return f"OnnxEncoder({self.model_id!r}, dim={self.dim})"

    def worker_spec(self) -> tuple[type, dict]:
        """How to re-create this encoder, single-threaded, in a worker process: (class, arguments)."""
        return type(self), {"path": str(self.onnx_file), "max_length": self.max_length, "threads": 1,
                             "query_prefix": self.query_prefix, "sort_by_length": self.sort_by_length}

    def _tokenize(self, texts: list[str], chunk: int = 2048) -> list[np.ndarray]:
        """Token ids per text, as compact int32 arrays (a whole corpus can be passed at once)."""
        ids = []
        for start in range(0, len(texts), chunk):
            for e in self.tokenizer.encode_batch(texts[start:start + chunk]):
                # A tokenizer without a post-processor gives nothing for ""; the model needs one token.
                ids.append(np.asarray(e.ids or [self._pad_id], dtype=np.int32))
        return ids

    def _run(self, batch: list) -> np.ndarray:
        width = max(len(x) for x in batch)
        input_ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, x in enumerate(batch):
            input_ids[row, :len(x)] = x
            mask[row, :len(x)] = 1
        feeds = {"input_ids": input_ids}
        if "attention_mask" in self._inputs:
            feeds["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        if "position_ids" in self._inputs:
            feeds["position_ids"] = np.broadcast_to(np.arange(width, dtype=np.int64), input_ids.shape).copy()
        out = self.session.run([self._output], feeds)[0]
        return normalise_rows(out if self._pooled else out[:, 0, :])

    def encode_passages(self, texts: list[str], batch_size: int = 32,
                        progress: Progress | None = None) -> np.ndarray:
        texts = clean_texts(texts)
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        ids = self._tokenize(texts)
        order = (np.argsort([len(x) for x in ids], kind="stable") if self.sort_by_length
                 else np.arange(len(ids)))
        batch_size = max(1, int(batch_size))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            result[idx] = self._run([ids[i] for i in idx])
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
        return result

    def encode_query(self, text: str) -> np.ndarray:
        return self._run(self._tokenize([self.query_prefix + ("" if text is None else str(text))]))[0]

