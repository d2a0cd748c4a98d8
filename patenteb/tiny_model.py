"""Tiny random-weight BERT sentence-transformers models for tests and benches only: never shipped, never scored.

Built locally in well under a second. Real transformer + real tokenizer + real pooling: the code paths are
exactly those of a Hub model, while the vectors mean nothing.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from pathlib import Path

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORD = re.compile(r"[a-z]+")


def build_tiny_model(
    folder: Path,
    texts: list[str] | None = None,
    seed: int = 0,
    hidden_size: int = 32,
    vocab_words: int = 2000,
    max_seq_length: int = 128,
    prompts: dict[str, str] | None = None,
) -> Path:
    """Save a 2-layer BERT sentence-transformers model at `folder` and return the folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tokenizers import Tokenizer
    from tokenizers.models import WordPiece
    from tokenizers.normalizers import BertNormalizer
    from tokenizers.pre_tokenizers import BertPreTokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    folder = Path(folder)
    counts = Counter(word for text in (texts or []) for word in WORD.findall(text.lower()))
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    vocab_list = SPECIAL_TOKENS + letters + [f"##{c}" for c in letters]
    vocab_list += [w for w, _ in counts.most_common(vocab_words) if w not in vocab_list]
    vocab = {token: index for index, token in enumerate(vocab_list)}

    tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = BertPreTokenizer()
    tokenizer.post_processor = TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
        model_max_length=max_seq_length,
    )

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab_list),
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=hidden_size * 2,
        max_position_embeddings=max(512, max_seq_length),
    )
    with tempfile.TemporaryDirectory() as scratch:
        BertModel(config).save_pretrained(scratch)
        fast.save_pretrained(scratch)
        transformer = Transformer(scratch, max_seq_length=max_seq_length)
        pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
        model = SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu", prompts=prompts)
        model.save(str(folder), create_model_card=False)
    return folder


if __name__ == "__main__":
    import sys
    import time

    started = time.perf_counter()
    path = build_tiny_model(Path(sys.argv[1]), ["a patent about a battery electrode and a wireless antenna"])
    print(json.dumps({"path": str(path), "seconds": round(time.perf_counter() - started, 3)}))
