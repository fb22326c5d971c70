"""interop.optimize on realistic models: plain conversion vs best, and original vs best.

    .venv/bin/python benchmarks/optimize.py [--models bert,gpt2] [--rounds 5] [--out DIR]

Transformer encoders and decoders are built from Hugging Face ``transformers`` configs with
random weights (hidden size 256, 4 layers, sequence 128; nothing is downloaded), plus two
CNNs written here. Each model is converted to ONNX once and optimised under the ``fp32`` and
``int8`` profiles at batch 1 and 8 with 1 thread; the original, the plain conversion and the
best variants are timed in the same paired rounds. Goals (issue 12): >= 1.1x over plain under
fp32 on transformer encoders, >= 1.6x under int8; best fp32 no slower than the original.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

SEQ = 128
HIDDEN = 256
LAYERS = 4
HEADS = 4
ENCODERS = ("bert", "distilbert")
INT8_CANDIDATES = ["transformer-fusion", "int8-dynamic", "transformer-fusion+int8-dynamic"]


def _hf(name: str) -> tuple[Any, tuple[Any, ...]]:
    import torch
    import transformers as tf

    ffn = 4 * HIDDEN
    if name == "bert":
        model = tf.BertModel(
            tf.BertConfig(
                hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                intermediate_size=ffn,
            )
        )
    elif name == "distilbert":
        model = tf.DistilBertModel(
            tf.DistilBertConfig(dim=HIDDEN, n_layers=LAYERS, n_heads=HEADS, hidden_dim=ffn)
        )
    elif name == "gpt2":
        model = tf.GPT2Model(
            tf.GPT2Config(n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS, n_positions=512,
                          use_cache=False)
        )
    elif name == "llama":
        model = tf.LlamaModel(
            tf.LlamaConfig(
                hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                num_key_value_heads=HEADS, intermediate_size=ffn, vocab_size=32000,
                use_cache=False,
            )
        )
    else:
        raise ValueError(name)
    model.eval()
    ids = torch.randint(0, 1000, (1, SEQ))
    mask = torch.ones(1, SEQ, dtype=torch.int64)
    if name in ENCODERS:
        return Encoder(model), (ids, mask)
    return Decoder(model), (ids,)


def _wrappers() -> None:
    """Positional-tensor wrappers: the HF models take keywords and return ModelOutputs."""
    import torch

    global Encoder, Decoder, ResNetish, MobileNetish

    class Encoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return out.last_hidden_state

    class Decoder(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any) -> Any:
            return self.inner(input_ids=input_ids).last_hidden_state

    def block(cin: int, cout: int, stride: int) -> Any:
        return torch.nn.Sequential(
            torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(cout),
            torch.nn.ReLU(), torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            torch.nn.BatchNorm2d(cout),
        )

    class ResNetish(torch.nn.Module):  # ResNet-18 layout at 64 px, widths 32..256
        def __init__(self) -> None:
            super().__init__()
            self.stem = torch.nn.Sequential(
                torch.nn.Conv2d(3, 32, 3, 1, 1, bias=False), torch.nn.BatchNorm2d(32),
                torch.nn.ReLU(),
            )
            widths = [(32, 32, 1), (32, 64, 2), (64, 128, 2), (128, 256, 2)]
            self.blocks = torch.nn.ModuleList(block(a, b, s) for a, b, s in widths)
            self.skips = torch.nn.ModuleList(
                torch.nn.Identity() if a == b and s == 1 else
                torch.nn.Sequential(torch.nn.Conv2d(a, b, 1, s, bias=False),
                                    torch.nn.BatchNorm2d(b))
                for a, b, s in widths
            )
            self.head = torch.nn.Linear(256, 100)

        def forward(self, x: Any) -> Any:
            x = self.stem(x)
            for blk, skip in zip(self.blocks, self.skips, strict=True):
                x = torch.relu(blk(x) + skip(x))
            return self.head(x.mean(dim=(2, 3)))

    class MobileNetish(torch.nn.Module):  # depthwise-separable stack, 96 px
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = [torch.nn.Conv2d(3, 32, 3, 2, 1), torch.nn.ReLU6()]
            cin = 32
            for cout, stride in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)]:
                layers += [
                    torch.nn.Conv2d(cin, cin, 3, stride, 1, groups=cin), torch.nn.BatchNorm2d(cin),
                    torch.nn.ReLU6(), torch.nn.Conv2d(cin, cout, 1), torch.nn.BatchNorm2d(cout),
                    torch.nn.ReLU6(),
                ]
                cin = cout
            self.features = torch.nn.Sequential(*layers)
            self.head = torch.nn.Linear(cin, 1000)

        def forward(self, x: Any) -> Any:
            return self.head(self.features(x).mean(dim=(2, 3)))


def build(name: str) -> tuple[Any, tuple[Any, ...]]:
    import torch

    torch.manual_seed(0)
    if name == "resnet-ish":
        return ResNetish().eval(), (torch.randn(1, 3, 64, 64),)
    if name == "mobilenet-ish":
        return MobileNetish().eval(), (torch.randn(1, 3, 96, 96),)
    return _hf(name)


MODELS = ("bert", "distilbert", "gpt2", "llama", "resnet-ish", "mobilenet-ish")


def run_model(name: str, rounds: int, budget_s: float, out: Path | None) -> dict[str, Any]:
    import interop
    from interop.optimize import optimize

    model, example = build(name)
    start = time.perf_counter()
    conversion = interop.convert(model, "onnx", example)
    row: dict[str, Any] = {"model": name, "convert_s": time.perf_counter() - start}
    for profile in ("fp32", "int8"):
        start = time.perf_counter()
        opt = optimize(
            model, conversion, profile=profile, threads=1, batch_sizes=(1, 8), rounds=rounds,
            time_budget_s=budget_s,
            candidates=INT8_CANDIDATES if profile == "int8" else None,
        )
        row[profile] = opt
        row[f"{profile}_s"] = time.perf_counter() - start
        print(f"\n== {name} · {profile} ({row[f'{profile}_s']:.0f} s)\n{opt.table()}", flush=True)
        if out is not None:
            opt.save(out / f"{name}-{profile}.json")
    return row


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def summary(rows: list[dict[str, Any]]) -> str:
    header = ("model", "batch", "original", "plain", "fp32 best", "ms", "x plain", "/orig",
              "int8 best", "ms", "x plain", "/orig")
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for row in rows:
        fp32, int8 = row["fp32"], row["int8"]
        for batch in fp32.batch_sizes:
            original = fp32.original_p50_ms.get(batch)
            plain = fp32.plain_p50_ms.get(batch)
            cells = [row["model"], str(batch), _ms(original), _ms(plain)]
            for opt in (fp32, int8):
                best = opt.best_result.p50_ms.get(batch)
                base = opt.plain_p50_ms.get(batch)
                orig = opt.original_p50_ms.get(batch)
                cells += [
                    opt.best_name, _ms(best),
                    f"{base / best:.2f}" if best and base else "–",
                    f"{best / orig:.2f}" if best and orig else "–",
                ]
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per model per batch")
    parser.add_argument("--out", type=Path, default=None, help="folder for JSON reports")
    args = parser.parse_args()
    _wrappers()
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.models.split(","):
        try:
            rows.append(run_model(name, args.rounds, args.budget, args.out))
        except Exception as exc:  # one model failing must not hide the others' numbers
            print(f"\n== {name}: FAILED: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
    print("\np50 ms, 1 thread; 'x plain' = plain p50 / best p50; '/orig' = best p50 / original "
          "p50 (below 1: faster than the original framework)")
    print(summary(rows))
    if args.out:
        (args.out / "summary.json").write_text(json.dumps(
            [{"model": r["model"], "fp32": r["fp32"].to_dict(), "int8": r["int8"].to_dict()}
             for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
