"""Text models as scikit-learn takes them: documents as a list of strings.

ONNX parity is checked here with onnxruntime and numpy directly, beside ``interop.check``;
Core ML has no text vectorizer spec, and says so in one line.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("skl2onnx", reason="the sklearn extra is not installed")

import interop  # noqa: E402
from interop.errors import ConversionError  # noqa: E402

DOCS = [
    "the cat sat on the mat", "dogs chase cats", "a bird sings at dawn",
    "the dog barks loudly", "cats purr softly", "birds fly south", "my cat likes fish",
    "the dog fetched the stick", "small bird nest", "cat and dog play",
    "singing birds at dusk", "the old dog sleeps",
]
LABELS = [0, 1, 2, 1, 0, 2, 0, 1, 2, 0, 2, 1]
# unseen words, upper case, an empty document: what a deployed model meets
NEW_DOCS = ["THE CAT", "zebras and a cat", "", "dog dog dog bird", "École des chats"]


def _ort_outputs(conversion: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(
        conversion.model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, feed)


@pytest.mark.parametrize("vectorizer", ["tfidf", "count"])
def test_text_pipeline_to_onnx_matches_predict_proba(vectorizer: str) -> None:
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    vec = TfidfVectorizer() if vectorizer == "tfidf" else CountVectorizer()
    model = make_pipeline(vec, LogisticRegression()).fit(DOCS, LABELS)
    conversion = interop.convert(model, to="onnx", example_inputs=DOCS)
    assert conversion.input_layout == "text"
    assert any("com.microsoft.Tokenizer" in w for w in conversion.warnings)
    docs = DOCS + NEW_DOCS
    label, proba = _ort_outputs(conversion, {"X": np.asarray(docs, dtype=object).reshape(-1, 1)})
    np.testing.assert_array_equal(label, model.predict(docs))
    np.testing.assert_allclose(proba, model.predict_proba(docs), atol=1e-6, rtol=0)
    report = interop.check(model, conversion, latency=False)
    assert report.passed, report.to_dict()["parity"]


def test_text_in_a_column_transformer_to_onnx() -> None:
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"text": DOCS, "color": list("rgbrgbrgbrgb"), "n": np.arange(12.0)})
    model = make_pipeline(
        make_column_transformer(
            (TfidfVectorizer(), "text"), (OneHotEncoder(handle_unknown="ignore"), ["color"]),
            remainder="passthrough",
        ),
        LogisticRegression(),
    ).fit(frame, LABELS)
    conversion = interop.convert(model, to="onnx", example_inputs=frame)
    assert conversion.input_layout == "dataframe"
    feed = {
        "text": frame["text"].to_numpy(dtype=object).reshape(-1, 1),
        "color": frame["color"].to_numpy(dtype=object).reshape(-1, 1),
        "n": frame["n"].to_numpy(np.float32).reshape(-1, 1),
    }
    _, proba = _ort_outputs(conversion, feed)
    np.testing.assert_allclose(proba, model.predict_proba(frame), atol=1e-6, rtol=0)
    assert interop.check(model, conversion, latency=False).passed


def test_a_flat_list_of_documents_is_accepted_and_numbers_still_need_2d() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(DOCS, LABELS)
    for sample in (DOCS, np.asarray(DOCS), (DOCS,)):
        assert interop.convert(model, to="onnx", example_inputs=sample).input_specs[0].shape[1] == 1
    numeric = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(interop.InvalidInput, match="scikit-learn takes 2-D X"):
        interop.convert(numeric, to="onnx", example_inputs=np.ones(4))


def test_text_vectorizers_to_coreml_are_refused_in_one_line() -> None:
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    for vec in (TfidfVectorizer(), HashingVectorizer(n_features=32)):
        model = make_pipeline(vec, LogisticRegression()).fit(DOCS, LABELS)
        with pytest.raises(ConversionError) as info:
            interop.convert(model, to="coreml", example_inputs=DOCS)
        message = str(info.value).splitlines()[0]
        assert message.startswith("Core ML has no text vectorizer spec: " + type(vec).__name__)


def test_check_feeds_documents_with_unseen_words() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from interop.frameworks.sklearn import UNSEEN_WORD

    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(DOCS, LABELS)
    conversion = interop.convert(model, to="onnx", example_inputs=DOCS[:4])
    example = conversion.example_feed["X"].reshape(-1).tolist()
    assert example[:4] == DOCS[:4]
    assert any(UNSEEN_WORD.upper() in d for d in example)
    assert any(d not in DOCS for d in example[4:-1])  # known words in new combinations
