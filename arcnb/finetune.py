"""LoRA supervised fine-tuning on the chat view of an arcnb dataset (`fine-tuning/finetune.ipynb`).

The model is trained on exactly the text the evaluation sends: each row's prompt is
`arcnb.build_messages` of the row's task, rendered by the model's own chat template, and the
loss covers only the assistant turn (``<think>reasoning</think>`` when the row has any, then the
code block). TRL's `SFTTrainer` with a PEFT LoRA adapter does the training; Unsloth's patched
model is used instead of plain transformers when it is installed and a GPU is present.

Everything heavy (torch, transformers, trl, peft) is imported inside the functions, so
``import arcnb`` never needs the ``finetune`` extra.

A run writes ``<output_dir>/<run_name>/``: ``finetune_config.json`` (every setting, library
versions), ``adapter/`` (``adapter_model.safetensors``, ``adapter_config.json``, tokenizer),
``trainer_state.json`` (loss log), ``merged/`` when asked, and ``generation_check.json`` after
`generation_check`. TensorBoard logs go to ``<logging_dir>/<run_name>/``.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib.util
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arcnb.errors import InputError, MissingExtraError
from arcnb.rundir import STAMP_FORMAT, UNSAFE_CHARS
from arcnb.tasks import Example, Task

if TYPE_CHECKING:
    from datasets import DatasetDict

__all__ = [
    "CONFIG_FILE",
    "EXTRA_MODULES",
    "FinetuneConfig",
    "FinetuneResult",
    "finetune",
    "generation_check",
    "load_chat_dataset",
    "require_extra",
    "serve_commands",
]

logger = logging.getLogger("arcnb")

EXTRA_MODULES = ("torch", "transformers", "trl", "peft", "accelerate")  # the finetune extra


def require_extra() -> None:
    """Check that the ``finetune`` extra is installed (the notebook's first cell calls it).

    Raises:
        MissingExtraError: One of `EXTRA_MODULES` cannot be imported; one line naming the
            extra and how to install it.
    """
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise MissingExtraError(
            f"fine-tuning needs the finetune extra ({', '.join(missing)} missing): "
            "pip install 'arcnb[finetune]' (torch first; see fine-tuning/README.md)"
        )


SCHEMA_VERSION = 1
CONFIG_FILE = "finetune_config.json"
STATE_FILE = "trainer_state.json"
CHECK_FILE = "generation_check.json"
SERVED_NAME = "arcnb-ft"  # the adapter's model name in the printed `vllm serve --lora-modules`
_GRID_COLUMNS = ("train_input", "train_output", "test_input")


# ---- configuration -------------------------------------------------------------------------------
@dataclass
class FinetuneConfig:
    """Every setting of one fine-tuning run; saved as ``finetune_config.json`` beside the adapter.

    Field names are the notebook's parameter names.
    """

    base_model: str = "Qwen/Qwen3-4B"  # hub id or local folder
    dataset: str = "training_data/dataset"  # `arcnb dataset` folder or a Hub dataset id
    train_split: str = "train"
    eval_split: str = "validation"  # for the generation check; absent: skipped
    lora_r: int = 32  # adapter rank
    lora_alpha: int = 64  # scale = alpha / r
    lora_dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"  # "q_proj,v_proj", a list, or "all-linear"
    num_train_epochs: float = 1.0
    max_steps: int = -1  # > 0: stop after this many optimizer steps (overrides epochs)
    learning_rate: float = 2e-4
    lr_scheduler_type: str = "cosine"  # any transformers scheduler name
    warmup_ratio: float = 0.03  # share of the steps spent warming up
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 16
    max_seq_length: int = 8192  # tokens; longer rows are dropped, not truncated
    seed: int = 3407
    output_dir: str = "fine-tuning/checkpoints"  # the run folder is made inside
    run_name: str | None = None  # default: <model>_<UTC time>
    logging_dir: str = "fine-tuning/logs"  # TensorBoard: <logging_dir>/<run_name>
    logging_steps: int = 1
    save_steps: int = 0  # > 0: keep a checkpoint every N steps (resumable); 0: final only
    bf16: bool | None = None  # None: on a GPU that supports it
    gradient_checkpointing: bool = True
    use_unsloth: bool | None = None  # None: when installed and a GPU is present
    merge_adapter: bool = False  # also save the base model with the adapter merged in
    push_to_hub: bool = False  # upload the adapter (or merged model) to hub_model_id
    hub_model_id: str | None = None  # "org/name"; needs HF_TOKEN

    def validate(self) -> None:
        """Raise InputError naming the bad setting."""
        checks = [
            ("lora_r", self.lora_r >= 1),
            ("lora_alpha", self.lora_alpha > 0),
            ("lora_dropout", 0.0 <= self.lora_dropout < 1.0),
            ("learning_rate", self.learning_rate > 0),
            ("warmup_ratio", 0.0 <= self.warmup_ratio < 1.0),
            ("per_device_train_batch_size", self.per_device_train_batch_size >= 1),
            ("gradient_accumulation_steps", self.gradient_accumulation_steps >= 1),
            ("max_seq_length", self.max_seq_length >= 16),
            ("num_train_epochs", self.max_steps > 0 or self.num_train_epochs > 0),
        ]
        for name, ok in checks:
            if not ok:
                raise InputError(f"{name}: bad value {getattr(self, name)!r}")
        if self.push_to_hub and not self.hub_model_id:
            raise InputError("push_to_hub needs hub_model_id ('org/name')")

    def modules(self) -> list[str] | str:
        """``target_modules`` as PEFT takes it: a list of names, or ``"all-linear"``."""
        if isinstance(self.target_modules, str):
            names = [m.strip() for m in self.target_modules.split(",") if m.strip()]
            return names[0] if names == ["all-linear"] else names
        return list(self.target_modules)


@dataclass
class FinetuneResult:
    """What `finetune` wrote: paths, the final metrics and the loss log."""

    config: FinetuneConfig
    run_dir: Path
    adapter_dir: Path
    merged_dir: Path | None
    metrics: dict[str, Any]
    log_history: list[dict[str, Any]] = field(default_factory=list)
    hub_id: str | None = None

    def losses(self) -> list[tuple[int, float]]:
        """``(step, training loss)`` for every logged step."""
        return [(e["step"], e["loss"]) for e in self.log_history if "loss" in e]

    def __repr__(self) -> str:
        loss = self.losses()[-1][1] if self.losses() else float("nan")
        steps = self.metrics.get("steps")
        return f"<FinetuneResult {self.run_dir.name}: {steps} steps, loss {loss:.4g}>"


# ---- data ----------------------------------------------------------------------------------------
def _row_task(row: dict[str, Any]) -> Task:
    """The task a row-format row shows: its (relabelled) train pairs and its test inputs."""
    train = [Example(i, o) for i, o in zip(row["train_input"], row["train_output"], strict=False)]
    return Task(str(row.get("task_id") or "row"), train, [Example(i) for i in row["test_input"]])


def _chat_row(row: dict[str, Any]) -> dict[str, Any]:
    from arcnb.dataset import assistant_text
    from arcnb.prompts import build_messages

    answer = {"role": "assistant", "content": assistant_text(row["reasoning"], row["code"])}
    return {"messages": [*build_messages(_row_task(row)), answer]}


def load_chat_dataset(source: str | os.PathLike[str]) -> DatasetDict:
    """Loads a dataset and returns its chat view: a ``messages`` column, other columns kept.

    Args:
        source: A folder saved by ``arcnb dataset`` (or any ``save_to_disk``), or a Hub
            dataset id. Rows either have a ``messages`` column already, or are in the row
            format (`arcnb.dataset.COLUMNS`): then the evaluation prompt of the row's task plus
            the assistant turn (`arcnb.dataset.to_chat`) is added as ``messages``.

    Returns:
        A DatasetDict (a single Dataset becomes the ``train`` split).

    Raises:
        InputError: The source cannot be loaded or has neither format.
    """
    from datasets import Dataset, DatasetDict, load_dataset, load_from_disk

    path = Path(source)
    try:
        data = load_from_disk(str(path)) if path.exists() else load_dataset(str(source))
    except Exception as error:
        raise InputError(f"{source}: cannot load the dataset ({error})") from None
    dd = DatasetDict({"train": data}) if isinstance(data, Dataset) else data
    out = {}
    for split, ds in dd.items():
        if "messages" in ds.column_names:
            out[split] = ds
        elif all(c in ds.column_names for c in (*_GRID_COLUMNS, "reasoning", "code")):
            out[split] = ds.map(_chat_row, keep_in_memory=True)
        else:
            raise InputError(
                f"{source}: split {split!r} has neither a 'messages' column nor the row "
                f"format (columns: {', '.join(ds.column_names)})"
            )
    return DatasetDict(out)


def _prompt_completion(row: dict[str, Any]) -> dict[str, Any]:
    """TRL's conversational prompt-completion form: loss on the completion only."""
    messages = row["messages"]
    return {"prompt": messages[:-1], "completion": messages[-1:]}


def _fits(tokenizer: Any, max_len: int) -> Any:
    def fits(row: dict[str, Any]) -> bool:
        ids = tokenizer.apply_chat_template(row["messages"], tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids  # transformers 5: a dict
        return len(ids) <= max_len

    return fits


# ---- model ---------------------------------------------------------------------------------------
def _has_gpu() -> bool:
    import torch

    return torch.cuda.is_available()


def _unsloth_wanted(cfg: FinetuneConfig) -> bool:
    if cfg.use_unsloth is False:
        return False
    import importlib.util

    available = importlib.util.find_spec("unsloth") is not None and _has_gpu()
    if cfg.use_unsloth and not available:
        raise InputError("use_unsloth=True needs the unsloth package and a CUDA GPU")
    return available


def _bf16(cfg: FinetuneConfig) -> bool:
    if cfg.bf16 is not None:
        return cfg.bf16
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def _load_model(cfg: FinetuneConfig, unsloth: bool) -> tuple[Any, Any, Any]:
    """(model, tokenizer, peft_config): the peft_config is None when Unsloth added the adapter."""
    import torch

    if unsloth:
        from unsloth import FastLanguageModel  # before transformers' classes are used

        model, tokenizer = FastLanguageModel.from_pretrained(
            cfg.base_model, max_seq_length=cfg.max_seq_length, dtype=None, load_in_4bit=False
        )
        model = FastLanguageModel.get_peft_model(
            model,
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=cfg.modules(),
            bias="none",
            use_gradient_checkpointing="unsloth" if cfg.gradient_checkpointing else False,
            random_state=cfg.seed,
        )
        return model, tokenizer, None
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(cfg.base_model)
    dtype = torch.bfloat16 if _bf16(cfg) else torch.float32
    model = AutoModelForCausalLM.from_pretrained(cfg.base_model, dtype=dtype)
    peft_config = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.modules(),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return model, tokenizer, peft_config


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("arcnb", "torch", "transformers", "trl", "peft", "accelerate", "unsloth"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


def _run_name(cfg: FinetuneConfig) -> str:
    if cfg.run_name:
        return cfg.run_name
    stamp = datetime.now(UTC).strftime(STAMP_FORMAT)
    return f"{UNSAFE_CHARS.sub('-', Path(cfg.base_model).name)}_{stamp}"


def _sft_config(cfg: FinetuneConfig, run_dir: Path, bf16: bool) -> Any:
    from trl import SFTConfig

    # transformers 5.x renamed gradient_checkpointing; older versions know only that name.
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    key = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return SFTConfig(
        **{key: cfg.gradient_checkpointing},
        output_dir=str(run_dir / "checkpoints"),
        run_name=run_dir.name,
        max_length=cfg.max_seq_length,
        packing=False,
        completion_only_loss=True,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # a float below 1 is a share of the steps
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        bf16=bf16,
        seed=cfg.seed,
        logging_steps=cfg.logging_steps,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=max(cfg.save_steps, 1),
        report_to=["tensorboard"],
        use_cpu=not _has_gpu(),
        dataloader_num_workers=0,
    )


def finetune(config: FinetuneConfig | None = None, **kwargs: Any) -> FinetuneResult:
    """Trains a LoRA adapter on the chat view of a dataset and saves it with its config.

    Args:
        config: The settings; or pass `FinetuneConfig` fields as keyword arguments.

    Returns:
        A FinetuneResult; the files are in ``result.run_dir``.

    Raises:
        InputError: A bad setting, a dataset that cannot be loaded, or no row that fits
            ``max_seq_length``.
    """
    cfg = dataclasses.replace(config, **kwargs) if config else FinetuneConfig(**kwargs)
    cfg.validate()
    unsloth = _unsloth_wanted(cfg)
    model, tokenizer, peft_config = _load_model(cfg, unsloth)  # Unsloth patches first
    import torch
    from trl import SFTTrainer

    data = load_chat_dataset(cfg.dataset)
    if cfg.train_split not in data:
        raise InputError(f"{cfg.dataset}: no split {cfg.train_split!r} (has {', '.join(data)})")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    train = data[cfg.train_split]
    kept = train.filter(_fits(tokenizer, cfg.max_seq_length), keep_in_memory=True)
    if len(kept) < len(train):
        logger.warning("finetune: dropped %d of %d rows over %d tokens",
                       len(train) - len(kept), len(train), cfg.max_seq_length)  # fmt: skip
    if not len(kept):
        raise InputError(f"no training row fits max_seq_length={cfg.max_seq_length}")
    kept = kept.map(_prompt_completion, remove_columns=kept.column_names, keep_in_memory=True)

    run_name = _run_name(cfg)
    run_dir = Path(cfg.output_dir) / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    bf16 = _bf16(cfg)
    record = {
        "schema": SCHEMA_VERSION,
        "config": dataclasses.asdict(cfg),
        "run_name": run_name,
        "unsloth": unsloth,
        "bf16": bf16,
        "device": torch.cuda.get_device_name(0) if _has_gpu() else "cpu",
        "rows": {"train": len(train), "kept": len(kept)},
        "versions": _versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (run_dir / CONFIG_FILE).write_text(json.dumps(record, indent=2))
    # transformers >= 5 takes the TensorBoard folder from the environment, read when the
    # trainer's callbacks are made.
    previous = os.environ.get("TENSORBOARD_LOGGING_DIR")
    os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(cfg.logging_dir) / run_name)
    try:
        trainer = SFTTrainer(
            model=model,
            args=_sft_config(cfg, run_dir, bf16),
            train_dataset=kept,
            processing_class=tokenizer,
            peft_config=peft_config,
        )
    finally:
        if previous is None:
            os.environ.pop("TENSORBOARD_LOGGING_DIR")
        else:
            os.environ["TENSORBOARD_LOGGING_DIR"] = previous
    if _has_gpu():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - start
    trainer.state.save_to_json(str(run_dir / STATE_FILE))
    adapter_dir = run_dir / "adapter"
    trainer.save_model(str(adapter_dir))
    tokenizer.save_pretrained(str(adapter_dir))
    metrics = {
        "steps": trainer.state.global_step,
        "seconds": round(seconds, 3),
        "steps_per_second": trainer.state.global_step / seconds if seconds else None,
        "train_loss": output.training_loss,
        "peak_gpu_memory_gib": (torch.cuda.max_memory_allocated() / 2**30 if _has_gpu() else None),
        **{k: v for k, v in output.metrics.items() if isinstance(v, int | float)},
    }
    merged_dir = _merge(trainer.model, tokenizer, run_dir / "merged") if cfg.merge_adapter else None
    record["metrics"] = metrics
    (run_dir / CONFIG_FILE).write_text(json.dumps(record, indent=2))
    result = FinetuneResult(
        cfg, run_dir, adapter_dir, merged_dir, metrics, list(trainer.state.log_history)
    )
    if cfg.push_to_hub:
        result.hub_id = _push(result)
    del trainer, model
    gc.collect()
    if _has_gpu():
        torch.cuda.empty_cache()  # the generation check loads the model again
    losses = [loss for _, loss in result.losses()]
    if losses and not all(math.isfinite(v) for v in losses):
        logger.warning("finetune: the loss was not finite at some step: %s", losses)
    return result


def _merge(model: Any, tokenizer: Any, path: Path) -> Path:
    merged = model.merge_and_unload()
    merged.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))
    return path


def _push(result: FinetuneResult) -> str:
    from huggingface_hub import HfApi

    repo = result.config.hub_model_id
    folder = result.merged_dir or result.adapter_dir
    try:
        api = HfApi(token=os.environ.get("HF_TOKEN"))
        api.create_repo(repo, exist_ok=True, private=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo)
        api.upload_file(path_or_fileobj=str(result.run_dir / CONFIG_FILE),
                        path_in_repo=CONFIG_FILE, repo_id=repo)  # fmt: skip
    except Exception as error:
        raise InputError(f"push to {repo} failed ({type(error).__name__}: {error}); "
                         f"the model is saved at {folder}") from None  # fmt: skip
    return str(repo)


# ---- after training ------------------------------------------------------------------------------
def _check_tasks(cfg: FinetuneConfig, n_tasks: int) -> list[Task]:
    """Up to n distinct tasks of the eval split (else the train split), as the rows show them."""
    data = load_chat_dataset(cfg.dataset)
    split = cfg.eval_split if cfg.eval_split in data else cfg.train_split
    if split != cfg.eval_split:
        logger.warning("generation check: no split %r, using %r", cfg.eval_split, split)
    ds = data[split]
    if not all(c in ds.column_names for c in _GRID_COLUMNS):
        raise InputError(f"{cfg.dataset}: the generation check needs the row-format columns")
    tasks: dict[str, Task] = {}
    for row in ds:
        task = _row_task(row)
        if task.id not in tasks:
            tasks[task.id] = task
        if len(tasks) >= n_tasks:
            break
    return list(tasks.values())


def generation_check(
    result: FinetuneResult,
    n_tasks: int = 4,
    max_new_tokens: int = 1024,
    exec_timeout: float = 0.5,
    batch_size: int = 8,
) -> dict[str, Any]:
    """Generates one answer per validation task with the new model and runs its program.

    Greedy decoding of the evaluation prompt (`arcnb.build_messages`) by the base model with
    the adapter; the code is extracted with `arcnb.extract_code` and evaluated with
    `arcnb.evaluate_program` on the task's train inputs (the rows' test outputs are not kept).
    Written to ``generation_check.json`` in the run folder.

    Args:
        result: What `finetune` returned.
        n_tasks: Distinct tasks of the eval split (or the train split when there is none).
        max_new_tokens: Generation budget per task.
        exec_timeout: Seconds per grid for the generated programs.
        batch_size: Prompts generated at once.

    Returns:
        ``{"tasks", "with_code", "train_correct", "train_total", "per_task": [...]}``.
    """
    import torch
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    from arcnb.evaluate import evaluate_program
    from arcnb.executor import Executor
    from arcnb.extract import extract_code
    from arcnb.prompts import build_messages

    tasks = _check_tasks(result.config, n_tasks)
    tokenizer = AutoTokenizer.from_pretrained(str(result.adapter_dir))
    dtype = torch.bfloat16 if _bf16(result.config) else torch.float32
    model = AutoPeftModelForCausalLM.from_pretrained(str(result.adapter_dir), dtype=dtype)
    model.to("cuda" if _has_gpu() else "cpu").eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    start = time.perf_counter()
    texts = []
    for i in range(0, len(tasks), batch_size):
        batch = [build_messages(task) for task in tasks[i : i + batch_size]]
        texts += _generate(model, tokenizer, batch, max_new_tokens)
    per_task = []
    with Executor(timeout=exec_timeout, workers=min(4, os.cpu_count() or 1)) as executor:
        for task, text in zip(tasks, texts, strict=True):
            code = extract_code(text)
            ev = evaluate_program(code, task, executor, test=False, transduction=False)
            correct = ev.n_train_correct
            per_task.append({"task_id": task.id, "has_code": code is not None,
                             "train_correct": correct, "train_total": len(task.train),
                             "response_chars": len(text)})  # fmt: skip
    summary = {
        "schema": SCHEMA_VERSION,
        "tasks": len(per_task),
        "with_code": sum(t["has_code"] for t in per_task),
        "train_correct": sum(t["train_correct"] for t in per_task),
        "train_total": sum(t["train_total"] for t in per_task),
        "seconds": round(time.perf_counter() - start, 3),
        "max_new_tokens": max_new_tokens,
        "per_task": per_task,
    }
    (result.run_dir / CHECK_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def _generate(model: Any, tokenizer: Any, batch: list[list[dict]], max_new: int) -> list[str]:
    """Greedy answers to a batch of conversations (left-padded), special tokens removed."""
    import torch

    tokenizer.padding_side = "left"
    enc = tokenizer.apply_chat_template(batch, add_generation_prompt=True, padding=True,
                                        return_tensors="pt", return_dict=True)  # fmt: skip
    enc = enc.to(model.device)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)  # fmt: skip
    new = out[:, enc["input_ids"].shape[1] :]
    return tokenizer.batch_decode(new, skip_special_tokens=True)


def serve_commands(result: FinetuneResult, subset: str = "shortest_evaluation_30") -> list[str]:
    """The shell commands that serve the saved model with vLLM and evaluate it with arcnb.

    Args:
        result: What `finetune` returned.
        subset: The subset the printed ``arcnb run`` evaluates.

    Returns:
        ``[vllm serve ..., arcnb run ...]``.
    """
    cfg = result.config
    if result.merged_dir is not None:
        serve = f"vllm serve {result.merged_dir} --served-model-name {SERVED_NAME}"
    else:
        serve = (f"vllm serve {cfg.base_model} --enable-lora --max-lora-rank {cfg.lora_r} "
                 f"--lora-modules {SERVED_NAME}={result.adapter_dir}")  # fmt: skip
    serve += f" --max-model-len {max(cfg.max_seq_length, 16384)} --port 8000"
    run = (f"arcnb run --base-url http://127.0.0.1:8000/v1 --model {SERVED_NAME} "
           f"--dataset arc-agi-1 --subset {subset} --max-attempts 8")  # fmt: skip
    return [serve, run]
