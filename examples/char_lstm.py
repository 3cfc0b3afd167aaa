"""Character-level language model: an LSTM learns nursery rhymes and writes new ones.

The text is examples/data/nursery_rhymes.txt (traditional English nursery rhymes, public
domain). Each character is one-hot encoded and embedded by a Linear layer, an LSTM reads
chunks of ``--seq`` characters, and a Linear read-out gives the logits of the next
character at every step (truncated backpropagation through time, gradients clipped by
norm). The loss is printed in bits per character next to the uniform baseline
log2(vocab), then text is sampled with a temperature.

python examples/char_lstm.py --epochs 100 --temperature 0.7
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from _common import parser

import dlx
import dlx.optim
from dlx import nn
from dlx.nn.utils import clip_grad_norm_

TEXT = Path(__file__).resolve().parent / "data" / "nursery_rhymes.txt"


class CharLSTM(nn.Module):
    """one-hot -> Linear embedding -> LSTM -> Linear logits over the vocabulary."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int = 1):
        super().__init__()
        self.vocab = vocab
        self.embed = nn.Linear(vocab, embed, bias=False)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, idx: np.ndarray, state=None):
        """``idx`` (N, T) int -> logits (N, T, vocab) and the LSTM state."""
        onehot = np.eye(self.vocab, dtype=np.float32)[idx]  # (N, T, V)
        out, state = self.lstm(self.embed(dlx.tensor(onehot)), state)
        return self.head(out), state


def batches(data: np.ndarray, seq: int, batch: int, rng: np.random.Generator):
    """Random (inputs, next-char targets) chunks of length ``seq`` covering ~the whole text."""
    starts = rng.permutation(len(data) - seq - 1)[: max(1, (len(data) - 1) // seq)]
    for i in range(0, len(starts), batch):
        s = starts[i : i + batch, None] + np.arange(seq)
        yield data[s], data[s + 1]


def sample(model: CharLSTM, chars: list[str], prime: str, length: int, temperature: float,
           rng: np.random.Generator) -> str:  # fmt: skip
    """Feed ``prime``, then draw ``length`` characters from softmax(logits / temperature)."""
    lookup = {c: i for i, c in enumerate(chars)}
    out = list(prime)
    with dlx.no_grad():
        logits, state = model(np.array([[lookup[c] for c in prime]]))
        for _ in range(length):
            z = logits.numpy()[0, -1].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            nxt = int(rng.choice(len(chars), p=p / p.sum()))
            out.append(chars[nxt])
            logits, state = model(np.array([[nxt]]), state)
    return "".join(out)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__.splitlines()[0], epochs=100)
    p.add_argument("--seq", type=int, default=50, help="characters per training chunk")
    p.add_argument("--hidden", type=int, default=128, help="LSTM hidden size (default 128)")
    p.add_argument("--temperature", type=float, default=0.7, help="sampling temperature")
    p.add_argument("--length", type=int, default=300, help="characters to sample")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    text = TEXT.read_text(encoding="utf-8")
    chars = sorted(set(text))
    data = np.array([chars.index(c) for c in text], dtype=np.int64)
    vocab = len(chars)
    epochs = 20 if args.quick else args.epochs
    hidden = 64 if args.quick else args.hidden
    seq = 25 if args.quick else args.seq

    dlx.manual_seed(args.seed)
    model = CharLSTM(vocab, 32, hidden)
    opt = dlx.optim.Adam(model.parameters(), lr=1e-2 if args.quick else 5e-3)
    loss_fn = nn.CrossEntropyLoss()
    uniform = math.log2(vocab)
    print(f"{len(text)} characters, vocabulary {vocab}: uniform baseline {uniform:.3f} bits/char")
    bpc: list[float] = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, count = 0.0, 0
        for xb, yb in batches(data, seq, 16, rng):
            logits, _ = model(xb)
            loss = loss_fn(logits.reshape(-1, vocab), dlx.tensor(yb.reshape(-1)))
            opt.zero_grad()
            loss.backward()
            clip_grad_norm_(model.parameters(), max_norm=5.0)
            opt.step()
            total += float(loss.item()) * yb.size
            count += yb.size
        bpc.append(total / count / math.log(2))
        print(f"epoch {epoch:3d}  loss {bpc[-1]:.3f} bits/char  ({time.perf_counter() - t0:.1f} s)")

    text_out = sample(model, chars, "The ", 80 if args.quick else args.length,
                      args.temperature, rng)  # fmt: skip
    print(f"--- sample (temperature {args.temperature}) ---\n{text_out}\n---")
    return {"bits_per_char": bpc[-1], "first_epoch": bpc[0], "uniform": uniform, "sample": text_out}


if __name__ == "__main__":
    main()
