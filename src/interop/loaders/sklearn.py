"""scikit-learn files -> LoadedModel: .skops (safe) and pickles/joblib (opt-in only).

skops and joblib are imported inside each function, never at module level.
"""

from __future__ import annotations

from pathlib import Path

from interop.errors import InteropError, InvalidInput
from interop.loaders.base import LoadedModel, require, unreadable
from interop.loaders.factory import from_object
from interop.loaders.specs import sklearn_specs


def load_skops(path: Path, trust: bool = False) -> LoadedModel:
    """A skops file; types skops does not trust are refused unless ``trust``."""
    sio = require("skops.io")
    try:
        untrusted = list(sio.get_untrusted_types(file=str(path)))
    except Exception as exc:
        raise unreadable(path, "skops file (.skops)", exc) from None
    if untrusted and not trust:
        shown = ", ".join(untrusted[:8]) + (" ..." if len(untrusted) > 8 else "")
        raise InvalidInput(
            f"refusing to load {path}: it uses types skops does not trust: {shown}",
            "review those types; pass --trust to accept them",
        )
    try:
        model = sio.load(str(path), trusted=untrusted)
    except Exception as exc:
        raise unreadable(path, "skops file (.skops)", exc) from None
    specs, frame = sklearn_specs(model)
    return LoadedModel(model, "skops", "sklearn", str(path), None, specs, frame)


def load_pickle(path: Path, trust: bool = False) -> LoadedModel:
    """A pickle or joblib file (the caller has opted in); its framework is read off the object."""
    try:
        if path.suffix.lower() == ".joblib":
            model = require("joblib").load(str(path))
        else:
            import pickle

            with open(path, "rb") as handle:
                model = pickle.load(handle)
    except InteropError:
        raise
    except Exception as exc:
        raise unreadable(path, "pickle", exc) from None
    return from_object(model, None, "pickle", str(path))
