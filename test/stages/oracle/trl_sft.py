"""TRL's SFTTrainer as the reference for a whole supervised fine-tuning job.

  trl_sft.py model <dir>   writes a tiny random Qwen3ForCausalLM (seeded; head_dim above hidden/heads,
                           tied embeddings, Qwen3's vocabulary) with the fixtures' Qwen3 tokenizer files
  trl_sft.py train         stdin: JSON job (below); stdout: JSON {"input_ids", "labels", "losses",
                           "num_tokens", "seconds"}

The job: {"model": dir, "data": a JSONL of conversational prompt/completion rows, "order": row indexes in
the order to train on, "per_device_train_batch_size", "gradient_accumulation_steps", "learning_rate",
"lr_scheduler_type", "warmup_steps", "max_steps", "threads"}. TRL tokenizes every row itself (its ids and
labels (-100 off the completion) are returned for all of them), then trains on the rows of `order`, in that order: the
prepared dataset is reordered by `order` and read by a sequential sampler. Everything else is SFTConfig's
default except what a float32 CPU comparison needs: fp32 (bf16 off), no truncation (max_length None), no
gradient checkpointing (the same math, slower), a loss logged every step. `seconds` is the wall time of
the whole job from the start of this script (imports, tokenization and training); `num_tokens` is
TRL's running count of input tokens after each step.
"""
import time

START = time.perf_counter()

import contextlib  # noqa: E402
import ctypes  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen3Config, Qwen3ForCausalLM  # noqa: E402
from trl import SFTConfig, SFTTrainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def keep_freed_memory():
    """glibc hands every large tensor (a 256 x 151936 chunk of logits is 155 MB) to mmap and back on free,
    so each step faults gigabytes of fresh pages in: 27 s of system time in 6 steps. Allocating from the
    heap and never trimming it reuses the pages (2 s). No effect on results; skipped off glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-4, 0)  # M_MMAP_MAX
    libc.mallopt(-1, 2**31 - 1)  # M_TRIM_THRESHOLD
QWEN3 = Path(os.environ.get("SFT_FIXTURES", ROOT.parent / "shared" / "fixtures")) / "tokenizers" / "qwen3"


def write_model(out):
    torch.manual_seed(20260)
    config = Qwen3Config(
        vocab_size=151936,
        hidden_size=16,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        rope_theta=1000000.0,
    )
    Qwen3ForCausalLM(config).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(QWEN3 / name, Path(out) / name)


def train(job):
    keep_freed_memory()
    torch.set_num_threads(job["threads"])
    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    rows = [json.loads(line) for line in Path(job["data"]).read_text().splitlines() if line.strip()]
    dataset = datasets.Dataset.from_list(rows)
    args = SFTConfig(
        output_dir=job["output_dir"],
        per_device_train_batch_size=job["per_device_train_batch_size"],
        gradient_accumulation_steps=job["gradient_accumulation_steps"],
        learning_rate=job["learning_rate"],
        lr_scheduler_type=job["lr_scheduler_type"],
        warmup_steps=job["warmup_steps"],
        max_steps=job["max_steps"],
        logging_steps=1,
        train_sampling_strategy="sequential",
        bf16=False,
        max_length=None,
        gradient_checkpointing=False,
        save_strategy="no",
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    model = AutoModelForCausalLM.from_pretrained(job["model"], dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(job["model"])
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    prepared = trainer.train_dataset
    result = {"input_ids": list(prepared["input_ids"]), "labels": list(prepared["labels"])}
    trainer.train_dataset = prepared.select(job["order"])
    with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints its log lines
        trainer.train()
    steps = [entry for entry in trainer.state.log_history if "loss" in entry]
    result["losses"] = [entry["loss"] for entry in steps]
    result["num_tokens"] = [entry["num_tokens"] for entry in steps]
    result["seconds"] = time.perf_counter() - START
    return result


if __name__ == "__main__":
    if sys.argv[1] == "model":
        write_model(sys.argv[2])
    elif sys.argv[1] == "train":
        json.dump(train(json.load(sys.stdin)), sys.stdout)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
