"""AutoL2 in a Hugging Face Trainer, offline: a 2-layer BERT built from a config in code (no
download) learning a toy task on random token sequences: is token 7 in the sequence (10%
of the labels flipped)?

    pip install "l2advisor[hf]"
    python examples/hf_autol2.py          # about 1 minute on a CPU

The Trainer only exposes the training loss as it logs it, so `AutoL2TrainerCallback` checks
every `logging_steps` steps on the logged loss (a loss-only trigger). lam appears in each log
as "weight_decay"; the callback's state is saved in checkpoints (trainer_state.json), so
`trainer.train(resume_from_checkpoint=...)` continues the schedule exactly.
"""

import argparse

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from l2advisor.integrations.hf import AutoL2TrainerCallback


def toy_data(n: int, seed: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(10, 100, (n, 16), generator=g)
    has = torch.rand(n, generator=g) < 0.5
    ids[has, torch.randint(0, 16, (int(has.sum()),), generator=g)] = 7
    has ^= torch.rand(n, generator=g) < 0.1  # 10% label noise: the training loss plateaus
    return [{"input_ids": row, "labels": torch.tensor(int(label))} for row, label in zip(ids, has, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--out", default="runs/hf_autol2")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)
    callback = AutoL2TrainerCallback(lam0=0.05, refractory_tau=0.002, lam_min=1e-5)
    training = TrainingArguments(output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=32,
                                 learning_rate=3e-3, optim="adamw_torch", lr_scheduler_type="constant",
                                 logging_steps=10, save_steps=100, report_to="none", use_cpu=True,
                                 disable_tqdm=True)
    trainer = Trainer(model=model, args=training, train_dataset=toy_data(2048, 1), callbacks=[callback])
    trainer.train()
    for event in callback.autol2.events:
        print(f"decay at step {event.step} (tau {event.tau:.3g}): {event.old_lam:.3g} -> {event.new_lam:.3g}")
    print(f"final weight_decay {callback.autol2.lam:.3g}, logged lam: {callback.history[-3:]}")


if __name__ == "__main__":
    main()
