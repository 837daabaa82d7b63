"""Small models and data for the fine-tuning test and the GPU benchmark (offline, no network).

`make_tiny_model` saves a random Qwen2 with a byte-level BPE tokenizer trained here;
`synthetic_dataset` saves real tasks relabelled by simple programs in the row format. Both
need the ``finetune`` extra (torch, transformers, tokenizers, datasets). They live with the
tests, not in `arcnb.finetune`: a library user never needs a random model.

From the repository root, outside pytest: ``PYTHONPATH=tests python -c "from finetune_fixtures
import make_tiny_model; ..."`` (as `fine-tuning/README.md`'s benchmark does).
"""

from __future__ import annotations

import os
from pathlib import Path

from arcnb.dataset import dataset_features
from arcnb.prompts import build_messages
from arcnb.tasks import load_tasks

# ChatML, as Qwen's templates render a conversation without tools.
_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _default_texts() -> list[str]:
    texts = []
    for task in load_tasks("arc-agi-1", "shortest_training_10"):
        texts += [m["content"] for m in build_messages(task)]
    texts.append("```python\ndef transform(grid):\n    return [row[::-1] for row in grid]\n```")
    return texts


def make_tiny_model(
    path: str | os.PathLike[str],
    texts: list[str] | None = None,
    *,
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    intermediate_size: int | None = None,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    max_positions: int = 32768,
    seed: int = 0,
) -> Path:
    """Saves a randomly initialised Qwen2 model and a BPE tokenizer trained here, offline.

    The tokenizer is byte-level BPE (any text encodes) with ChatML special tokens and chat
    template, ``<|im_end|>`` as end of sequence and ``<|endoftext|>`` as padding, so TRL and
    vLLM treat the folder like a real Qwen checkpoint.

    Args:
        path: Folder to write (``config.json``, ``model.safetensors``, tokenizer files).
        texts: Text to train the tokenizer on (default: prompts of ten bundled ARC tasks).
        vocab_size: Tokenizer vocabulary, special tokens included.
        hidden_size: Model width; ``num_heads`` must divide it.
        num_layers: Decoder layers.
        intermediate_size: MLP width (default 4 x hidden_size).
        num_heads: Attention heads.
        num_kv_heads: Key/value heads (grouped-query attention).
        max_positions: Longest sequence the model accepts, in tokens.
        seed: For the random weights.

    Returns:
        The folder, loadable with ``AutoModelForCausalLM.from_pretrained``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        GenerationConfig,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts or _default_texts(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=max_positions,
    )
    tokenizer.chat_template = _CHATML
    tokenizer.save_pretrained(str(path))
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size or 4 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(str(path), safe_serialization=True)
    return path


# Simple whole-grid programs for synthetic rows: (source, the same function).
_PROGRAMS = (
    ("def transform(grid):\n    return [row[::-1] for row in grid]",
     lambda g: [r[::-1] for r in g]),
    ("def transform(grid):\n    return grid[::-1]", lambda g: g[::-1]),
    ("def transform(grid):\n    return [list(r) for r in zip(*grid)]",
     lambda g: [list(r) for r in zip(*g, strict=True)]),
)  # fmt: skip


def synthetic_dataset(
    output: str | os.PathLike[str],
    dataset: str = "arc-agi-1",
    subset: str = "shortest_training_30",
    n_validation: int = 2,
    reasoning_chars: int = 0,
) -> Path:
    """Saves a row-format DatasetDict of real tasks relabelled by simple programs (offline).

    Each task gets one program (mirror, flip or transpose, in turn) and the program's own
    outputs as its outputs, as hindsight relabelling would; for benchmarks and demos when no
    `arcnb dataset` output is at hand, not for training a useful model.

    Args:
        output: Folder for ``save_to_disk``.
        dataset: Bundled dataset name or task folder.
        subset: Which tasks (as `arcnb.load_tasks`).
        n_validation: The last N tasks form the ``validation`` split.
        reasoning_chars: Filler reasoning of about this many characters per row (longer rows).

    Returns:
        The folder.
    """
    from datasets import Dataset, DatasetDict

    rows = []
    for i, task in enumerate(load_tasks(dataset, subset)):
        source, fn = _PROGRAMS[i % len(_PROGRAMS)]
        train = [fn(ex.input) for ex in task.train]
        test = [fn(ex.input) for ex in task.test]
        truth = [ex.output for ex in task.train], [ex.output for ex in task.test]
        rows.append({
            "reasoning": ("Looking at the grids. " * (reasoning_chars // 22 + 1))[:reasoning_chars],
            "code": source,
            "train_input": [ex.input for ex in task.train], "train_output": train,
            "predicted_train_output": train,
            "correct_train_input": [a == b for a, b in zip(train, truth[0], strict=True)],
            "test_input": [ex.input for ex in task.test], "test_output": test,
            "predicted_test_output": test,
            "correct_test_input": [a == b for a, b in zip(test, truth[1], strict=True)],
            "task_id": task.id, "model": "synthetic", "generation": 1,
        })  # fmt: skip
    cut = max(1, len(rows) - n_validation)
    features = dataset_features()
    dd = DatasetDict({"train": Dataset.from_list(rows[:cut], features=features)})
    if rows[cut:]:
        dd["validation"] = Dataset.from_list(rows[cut:], features=features)
    dd.save_to_disk(str(output))
    return Path(output)
