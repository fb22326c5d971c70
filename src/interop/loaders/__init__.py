"""Model files and example-input files -> objects, safe by default (no unpickling without opt-in).

Every file is first sniffed without importing a framework (missing, empty, not the archive
its suffix promises), so most bad inputs are refused in milliseconds. Which formats exist,
which need the pickle opt-in and which function loads each is ``interop.detect.FORMATS``.

One module per job: ``sniff`` (file signatures), ``torch`` / ``tensorflow`` / ``sklearn``
(loading per framework, each imported inside its functions), ``factory``
(``package.module:function`` and model objects), ``specs`` (input specs of loaded models),
``inputs`` (``--input`` specs and fitting arrays to a model), ``samples`` (sample files).
"""

from __future__ import annotations

from pathlib import Path

from interop.detect import format_named
from interop.errors import InvalidInput
from interop.loaders.base import INSTALL, LoadedModel, import_trusted
from interop.loaders.factory import from_object, load_factory
from interop.loaders.inputs import DTYPES, fit_inputs, package, parse_input_spec, seeded_inputs
from interop.loaders.samples import SAMPLE_SUFFIXES, check_sample, load_sample
from interop.loaders.sniff import is_factory, sniff
from interop.loaders.torch import dry_run
from interop.util import import_ref

PICKLE_HINT = (
    "pass --allow-pickle only if you trust where the file came from; "
    "better, save it as {better}"
)
# kind -> (what the file is, the safe format to save it as instead)
PICKLE_REFUSALS = {
    "torch.pickle": ("a whole-model torch pickle (torch.save)",
                     ".pt2 (torch.export.save) or TorchScript"),
    "pickle": ("a pickle", ".skops"),
}


def load_model(
    spec: str, *, allow_pickle: bool = False, trust: bool = False,
    imports: tuple[str, ...] | list[str] = (),
) -> LoadedModel:
    """Load the model that ``spec`` (a file, a SavedModel directory or a factory) names.

    ``imports`` are the user's own modules to import first (they register what the file
    names but does not hold: pytree types, Keras custom objects, op libraries); importing
    runs their code, so they need ``trust``. Installed packages that a ``.pt2`` names are
    imported without being listed (see ``loaders.pytree``).
    """
    if imports and not trust:
        import_trusted(imports, trust)  # refuses before anything is read
    kind = sniff(spec)
    if kind == "factory":
        return load_factory(spec)
    fmt = format_named(kind)
    if fmt.pickle and not allow_pickle:
        what, better = PICKLE_REFUSALS.get(kind, PICKLE_REFUSALS["pickle"])
        raise InvalidInput(
            f"refusing to load {spec}: it is {what}, and unpickling runs arbitrary code",
            PICKLE_HINT.format(better=better),
        )
    import_trusted(imports, trust)
    loader = import_ref(fmt.loader)
    loaded: LoadedModel = loader(Path(spec), trust)
    return loaded


__all__ = [
    "DTYPES",
    "INSTALL",
    "PICKLE_HINT",
    "SAMPLE_SUFFIXES",
    "LoadedModel",
    "check_sample",
    "dry_run",
    "fit_inputs",
    "from_object",
    "is_factory",
    "load_factory",
    "load_model",
    "load_sample",
    "package",
    "parse_input_spec",
    "seeded_inputs",
    "sniff",
]
