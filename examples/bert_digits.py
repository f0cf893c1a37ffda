"""A model file for l2advisor: a tiny Hugging Face BERT, built from a config in code (no
download), reads each of scikit-learn's 8x8 digits row by row and names the digit. Trained with
AdamW. Offline: the digits ship with scikit-learn.

    pip install "l2advisor[hf]"
    l2advisor train examples/bert_digits.py --budget 3200 --advise

As a Hugging Face model is used: its rows go in as `inputs_embeds` (a linear layer embeds each
row of 8 pixels), BERT adds its positions, looked up by ids (1, T) kept as a buffer and broadcast
over the batch, and its dropout stays at the config's default 0.1 (hidden layers and attention).
Its probes train as folded replicas (l2advisor/training/folded.py): each replica's rows of the
stacked batch get its own positions, and each replica draws its own dropout masks
(l2advisor/training/dropout.py).
"""

from torch import nn
from transformers import BertConfig, BertForSequenceClassification

from l2advisor.datasets import load_digits_split

lr = 0.002
batch_size = 32
optimizer = "adamw"


class RowBert(nn.Module):
    """(B, 64) pixels -> 8 rows of 8 -> width 32 -> BERT, 2 layers of 4 heads -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        config = BertConfig(vocab_size=2, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=64, max_position_embeddings=8, num_labels=10)
        self.embed = nn.Linear(8, 32)
        self.bert = BertForSequenceClassification(config)

    def forward(self, x):
        return self.bert(inputs_embeds=self.embed(x.view(-1, 8, 8))).logits


def build_model():
    return RowBert()


def build_data():
    return load_digits_split(n_train=1200, seed=0)  # (N, 64) pixels / 16; 1200 train, 597 validate
