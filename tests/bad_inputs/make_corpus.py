"""Write the binary files of the bad-input corpus (run once; the files are committed).

    .venv/bin/python tests/bad_inputs/make_corpus.py

Every file is made from a fixed seed, so rerunning reproduces the same bytes except where a
framework's own archive format stamps them (zip timestamps, ids).
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"


def random_bytes(count: int, seed: int) -> bytes:
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, size=count, dtype=np.uint8).tobytes()


def truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def main() -> None:
    import numpy as np

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    FILES.mkdir(exist_ok=True)
    (FILES / "not_a_savedmodel").mkdir(exist_ok=True)
    (FILES / "not_a_savedmodel" / "README.txt").write_text("a directory without saved_model.pb\n")
    (FILES / "corrupt_savedmodel").mkdir(exist_ok=True)
    (FILES / "corrupt_savedmodel" / "saved_model.pb").write_bytes(random_bytes(512, 7))
    for index, suffix in enumerate((".pt2", ".pt", ".keras", ".h5", ".skops", ".joblib")):
        (FILES / f"empty{suffix}").write_bytes(b"")
        (FILES / f"random{suffix}").write_bytes(random_bytes(2048, index))
    (FILES / "text.h5").write_text("this is not HDF5\n")
    (FILES / "model.onnx").write_bytes(random_bytes(64, 11))
    (FILES / "model.xyz").write_bytes(random_bytes(64, 12))
    for suffix in (".pt2", ".keras", ".skops"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "a zip archive with the wrong contents")
        (FILES / f"wrong_zip{suffix}").write_bytes(buffer.getvalue())
    # Refused before reading: the content is a harmless pickle of a dict.
    (FILES / "model.pkl").write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    (FILES / "corrupt.pkl").write_bytes(b"\x80\x04" + random_bytes(256, 13))

    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    x = torch.randn(2, 4)
    program = torch.export.export(net, (x,))
    torch.export.save(program, FILES / "good.pt2")
    (FILES / "truncated.pt2").write_bytes(truncate((FILES / "good.pt2").read_bytes()))
    (FILES / "good.pt2").unlink()
    scripted = io.BytesIO()
    torch.jit.save(torch.jit.script(net), scripted)
    (FILES / "truncated_script.pt").write_bytes(truncate(scripted.getvalue()))
    torch.save(net, FILES / "whole_model.pt")
    torch.save(net.state_dict(), FILES / "state_dict.pt")

    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.save(FILES / "good.keras")
    (FILES / "truncated.keras").write_bytes(truncate((FILES / "good.keras").read_bytes()))
    (FILES / "good.keras").unlink()
    lam = keras.Sequential([keras.Input((4,)), keras.layers.Lambda(lambda t: t * 2.0)])
    lam.save(FILES / "lambda.keras")

    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    features = rng.standard_normal((40, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    classifier = LogisticRegression().fit(features, labels)
    sio.dump(classifier, FILES / "tiny.skops")
    (FILES / "truncated.skops").write_bytes(truncate((FILES / "tiny.skops").read_bytes()))

    # A user-defined subclass: skops lists it as untrusted. Its module need not exist,
    # because the CLI refuses the file before anything is loaded.
    custom = type("CustomScaler", (StandardScaler,), {"__module__": "corpus_custom_types"})
    sio.dump(custom().fit(features), FILES / "untrusted.skops")

    np.save(FILES / "sample_4cols.npy", features[:8].astype(np.float32))
    np.save(FILES / "sample_3cols.npy", features[:8, :3].astype(np.float32))
    np.save(FILES / "sample_object.npy", np.array([{"a": 1}, None], dtype=object),
            allow_pickle=True)
    (FILES / "random.npy").write_bytes(random_bytes(300, 14))
    (FILES / "text_columns.csv").write_text("a,b,c,d\nx,1,2,3\ny,4,5,6\n")
    (FILES / "empty.csv").write_text("")
    (FILES / "sample.txt").write_text("1 2 3 4\n")


if __name__ == "__main__":
    main()
