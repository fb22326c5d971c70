"""scikit-learn files -> LoadedModel: .skops (safe) and pickles/joblib (opt-in only).

skops and joblib are imported inside each function, never at module level.
"""

from __future__ import annotations

from pathlib import Path

from interop.errors import InteropError, InvalidInput, MissingDependency
from interop.loaders.base import (
    LoadedModel,
    distribution_for,
    module_found,
    quote,
    require,
    unreadable,
)
from interop.loaders.factory import from_object
from interop.loaders.specs import sklearn_specs


def load_skops(path: Path, trust: bool = False) -> LoadedModel:
    """A skops file; types skops does not trust are refused unless ``trust``."""
    sio = require("skops.io")
    try:
        untrusted = list(sio.get_untrusted_types(file=str(path)))
    except Exception as exc:
        raise unreadable(path, "skops file (.skops)", exc) from None
    absent = [t for t in untrusted if module_found(t) is None]
    if untrusted and not trust:
        shown = ", ".join(untrusted[:8]) + (" ..." if len(untrusted) > 8 else "")
        if absent:
            top = absent[0].split(".")[0]
            raise InvalidInput(
                f"refusing to load {path}: it uses types skops does not trust: {shown}; and "
                f"the module {top!r} of {absent[0]} is not installed",
                f"install the package that defines it (pip install {distribution_for(top)}), "
                "then review the types and pass --trust to accept them",
            )
        raise InvalidInput(
            f"refusing to load {path}: it uses types skops does not trust: {shown}",
            "review those types; pass --trust to accept them",
        )
    if absent:
        top = absent[0].split(".")[0]
        raise MissingDependency(
            f"{path} holds a {absent[0]}, and its module {top!r} is not installed",
            f"pip install {distribution_for(top)}; if it is your own code, run from its "
            f"directory with --import {absent[0].rpartition('.')[0] or top} --trust",
            package=distribution_for(top),
        )
    try:
        model = sio.load(str(path), trusted=untrusted)
    except (ImportError, AttributeError) as exc:
        # skops imports each type's module; a module that is missing or lacks the class is
        # not a corrupt file
        raise InvalidInput(
            f"cannot load {path}: a type it holds cannot be imported: {quote(exc)}",
            "install the package (or the version of it) that defines the types the file "
            "lists; for your own code run from its directory with --import MODULE --trust",
        ) from None
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
