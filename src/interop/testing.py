"""Kit for plugin authors: protocol contract checks and a conformance run of a converter.

A plugin's test suite can be a few lines::

    from interop.testing import check_converter_contract, check_runtime_contract, run_conformance

    def test_contract():
        check_converter_contract(MyConverter)
        check_runtime_contract(MyRuntime)

    def test_parity():
        run_conformance("mysource.onnx", [("small", build_small)], batch_sizes=(1, 8))

Every check raises ``AssertionError`` listing all problems found, so pytest shows them.
This module imports no framework; ``run_conformance`` goes through the public API only.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from interop.errors import first_line
from interop.protocols import (
    ConverterProtocol,
    RuntimeProtocol,
    api_version_problem,
    protocol_members,
)

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*(\.[a-z0-9][a-z0-9_-]*)?$")
"""A converter's registry name: ``SOURCE.TARGET`` or ``SOURCE.TARGET.variant``."""

# Modules a converter or runtime module must not import at import time, nor in available().
FRAMEWORK_MODULES = (
    "torch",
    "tensorflow",
    "keras",
    "tf_keras",
    "jax",
    "sklearn",
    "coremltools",
    "onnx",
    "onnxruntime",
    "onnxscript",
    "tf2onnx",
    "skl2onnx",
    "onnxmltools",
    "xgboost",
    "lightgbm",
    "ai_edge_litert",
)

_PROBE_OPTION = "__interop_contract_probe__"


# -- contract checks ---------------------------------------------------------------------------
def converter_contract_problems(converter: Any, *, name: str | None = None) -> list[str]:
    """Everything wrong with a converter class or instance, as a list of one-line problems.

    ``name`` is the entry-point name it is registered under (defaults to its ``name``).
    """
    problems: list[str] = []
    obj = converter
    if isinstance(converter, type):
        try:
            obj = converter()
        except Exception as exc:
            return [f"{converter.__qualname__}() raised {type(exc).__name__}: {exc}"]
    attributes, methods = protocol_members(ConverterProtocol)
    problems += [f"missing attribute {a!r}" for a in attributes if not hasattr(obj, a)]
    problems += [f"missing method {m}()" for m in methods if not callable(getattr(obj, m, None))]
    if problems:
        return problems
    version = api_version_problem(obj)
    if version:
        return [version]

    registered = name or obj.name
    for label, value in (("name", obj.name), ("source", obj.source), ("target", obj.target)):
        if not isinstance(value, str) or not value:
            problems.append(f"{label} must be a non-empty string, not {value!r}")
    if problems:
        return problems
    if not NAME_PATTERN.match(registered):
        problems.append(
            f"name {registered!r} is not SOURCE.TARGET[.variant] (lower case, e.g. 'xgboost.onnx')"
        )
    if obj.name != registered:
        problems.append(
            f"name attribute {obj.name!r} differs from the entry-point name {registered!r}"
        )
    parts = registered.split(".")
    if len(parts) >= 2 and (obj.source, obj.target) != (parts[0], parts[1]):
        problems.append(
            f"source/target {obj.source}.{obj.target} do not match the name {registered!r}"
        )

    if not isinstance(obj.options, Mapping):
        problems.append(
            f"options must be a mapping of option -> default, not {type(obj.options).__name__}"
        )
    elif not all(isinstance(k, str) for k in obj.options):
        problems.append("options keys must be strings")

    tol = obj.default_tolerance
    atol, rtol = getattr(tol, "atol", None), getattr(tol, "rtol", None)
    if not all(isinstance(v, (int, float)) and v >= 0 for v in (atol, rtol)):
        problems.append(f"default_tolerance must have atol >= 0 and rtol >= 0, got {tol!r}")
    if not isinstance(getattr(obj, "priority", 0), int):
        problems.append(f"priority must be an int, not {obj.priority!r}")

    problems += _available_problems(obj.available)

    # An unknown option must be rejected with an InvalidInput naming it, before any work.
    from interop.errors import InvalidInput

    try:
        obj.convert(None, None, **{_PROBE_OPTION: 1})
    except InvalidInput as exc:
        if _PROBE_OPTION not in str(exc):
            problems.append(
                f"convert() rejected an unknown option without naming it: {exc.message}"
            )
    except Exception as exc:
        problems.append(
            f"convert() with an unknown option raised {type(exc).__name__}, not InvalidInput "
            "(validate options first, e.g. with Converter.resolve_options)"
        )
    else:
        problems.append("convert() accepted an unknown option; it must raise InvalidInput")
    return problems


def runtime_contract_problems(runtime: Any) -> list[str]:
    """Everything wrong with a runtime class, as a list of one-line problems."""
    if not isinstance(runtime, type):
        return [f"a runtime must be a class, not {type(runtime).__name__}"]
    _, methods = protocol_members(RuntimeProtocol)
    problems = [f"missing method {m}()" for m in methods if not callable(getattr(runtime, m, None))]
    if problems:
        return problems
    version = api_version_problem(runtime)
    if version:
        return [version]
    # available() is called on the class: it must be a static or class method.
    raw = inspect.getattr_static(runtime, "available")
    if not isinstance(raw, (staticmethod, classmethod)):
        problems.append(
            "available() must be a staticmethod or classmethod (it is called on the class)"
        )
    else:
        available: Callable[[], Any] = runtime.available  # type: ignore[attr-defined]
        problems += _available_problems(available)
    try:
        inspect.signature(runtime).bind(object(), conversion=None, threads=1)
    except TypeError as exc:
        problems.append(
            f"the constructor must accept (model, *, conversion=None, threads=1): {exc}"
        )
    except ValueError:
        pass  # a signature that cannot be introspected (C extension); nothing to check
    return problems


def _available_problems(available: Callable[[], Any]) -> list[str]:
    try:
        result = available()
    except Exception as exc:
        return [f"available() raised {type(exc).__name__}: {exc}; it must return (bool, reason)"]
    if not (
        isinstance(result, tuple)
        and len(result) == 2
        and isinstance(result[0], bool)
        and isinstance(result[1], str)
    ):
        return [f"available() must return (bool, str), returned {result!r}"]
    if not result[0] and not result[1]:
        return [
            "available() returned False with an empty reason; "
            "say what is missing and how to install it"
        ]
    return []


def import_cost_problems(obj: Any, *, frameworks: Iterable[str] = ()) -> list[str]:
    """Which frameworks importing ``obj``'s module, and calling its available(), pulls in.

    Runs in a fresh interpreter so that modules already imported by the caller do not hide
    anything. ``obj`` is a class or instance defined at module level.
    """
    cls = obj if isinstance(obj, type) else type(obj)
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        return []  # not importable by path; the in-process check in the caller still applies
    watch = sorted(set(FRAMEWORK_MODULES) | set(frameworks))
    script = _IMPORT_PROBE.format(
        module=module,
        qualname=qualname,
        watch=json.dumps(watch),
        path=json.dumps(sys.path),  # so that modules found here (tests, temp dirs) are found there
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return [f"importing {module} in a fresh interpreter failed: {tail}"]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    problems = []
    if found["at_import"]:
        problems.append(
            f"importing {module} imports {', '.join(found['at_import'])}; "
            "import frameworks inside the function that needs them"
        )
    if found["in_available"]:
        problems.append(
            f"{qualname}.available() imports {', '.join(found['in_available'])}; "
            "use importlib.util.find_spec (interop.sdk.modules_missing) instead"
        )
    return problems


_IMPORT_PROBE = """
import importlib, json, sys
sys.path[:] = {path}
watch = {watch}
def loaded():
    return sorted(m for m in watch if m in sys.modules)
import interop
before = set(loaded())
target = importlib.import_module({module!r})
for part in {qualname!r}.split("."):
    target = getattr(target, part)
at_import = sorted(set(loaded()) - before)
obj = target() if hasattr(target, "convert") else target  # converters are instantiated
obj.available()
in_available = sorted(set(loaded()) - before - set(at_import))
print(json.dumps({{"at_import": at_import, "in_available": in_available}}))
"""


def check_converter_contract(
    converter: Any, *, name: str | None = None, import_check: bool = True
) -> None:
    """Assert that a converter class or instance satisfies interop's converter protocol.

    Checks attributes, the name format, options, the default tolerance, that available()
    returns ``(bool, reason)``, that an unknown option is refused, and (``import_check``)
    that neither importing its module nor available() imports a framework.
    """
    problems = converter_contract_problems(converter, name=name)
    if import_check and not problems:
        source = getattr(converter, "source", "")
        requires = tuple(getattr(converter, "requires", ()) or ())
        problems += import_cost_problems(converter, frameworks=(source, *requires))
    _raise(converter, "converter", problems)


def check_runtime_contract(runtime: Any, *, import_check: bool = True) -> None:
    """Assert that a runtime class satisfies interop's runtime protocol (see runtimes/base.py)."""
    problems = runtime_contract_problems(runtime)
    if import_check and not problems:
        problems += import_cost_problems(runtime)
    _raise(runtime, "runtime", problems)


def _raise(obj: Any, kind: str, problems: list[str]) -> None:
    if problems:
        label = getattr(obj, "__qualname__", None) or type(obj).__qualname__
        raise AssertionError(
            f"{label} breaks the {kind} contract:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def check_entry_points(distribution: str) -> dict[str, list[str]]:
    """Load every interop entry point an installed distribution declares and check each.

    Returns ``{"converters": [...names], "runtimes": [...names]}``; raises AssertionError
    when an entry is broken or breaks its contract.
    """
    from importlib.metadata import distribution as get_distribution

    from interop import registry

    dist = get_distribution(distribution)
    found: dict[str, list[str]] = {"converters": [], "runtimes": []}
    problems: list[str] = []
    for ep in dist.entry_points:
        if ep.group not in (registry.CONVERTER_GROUP, registry.RUNTIME_GROUP):
            continue
        reg = registry.CONVERTERS if ep.group == registry.CONVERTER_GROUP else registry.RUNTIMES
        entry = reg.load(ep.name)
        if entry.distribution != distribution:
            problems.append(f"{ep.name}: the registry resolved it to {entry.distribution}")
            continue
        if entry.broken:
            problems.append(f"{ep.name}: {entry.error}")
            continue
        if ep.group == registry.CONVERTER_GROUP:
            found["converters"].append(ep.name)
            problems += [
                f"{ep.name}: {p}" for p in converter_contract_problems(entry.obj, name=ep.name)
            ]
        else:
            found["runtimes"].append(ep.name)
            problems += [f"{ep.name}: {p}" for p in runtime_contract_problems(entry.obj)]
    if problems:
        raise AssertionError(f"{distribution} has broken entry points:\n" + "\n".join(problems))
    return found


# -- conformance -------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseResult:
    """One case run through a converter: parity per batch size and output, and latency."""

    name: str
    converter: str
    passed: bool
    reason: str = ""
    max_abs_error: dict[int, dict[str, float | None]] = field(default_factory=dict)
    latency_ms: dict[int, dict[str, float | None]] = field(default_factory=dict)
    report: Any = None
    cause: str = ""
    """For a case that raised: the innermost exception of the chain, ``Type: first line``."""


def run_conformance(
    converter_name: str,
    cases: Iterable[Any] | Mapping[str, Any],
    batch_sizes: Sequence[int] = (1, 8),
    tolerance: Any = None,
    *,
    latency: bool = False,
    convert_options: Mapping[str, Any] | None = None,
    raise_on_failure: bool = True,
) -> list[CaseResult]:
    """Convert each case with ``converter_name`` and assert parity at every batch size.

    A case is a conformance ``Case`` (anything with ``build()`` returning ``(model,
    example_inputs)``, and optionally ``name`` and ``tolerance``), a ``(model,
    example_inputs)`` or ``(name, model, example_inputs)`` tuple, a ``(name, build)`` pair,
    or a callable returning ``(model, example_inputs)``; ``cases`` may also map names to any
    of these. Parity and (with ``latency=True``) latency are measured by ``interop.check``
    at every batch size. ``tolerance`` (a Tolerance, a dict with atol/rtol, or a profile
    name) overrides a case's own, which overrides the converter's.
    Returns one CaseResult per case; raises AssertionError naming every failing case.
    """
    import interop

    target = converter_name.split(".")[1] if "." in converter_name else ""
    if not target:
        raise ValueError(f"{converter_name!r} is not a converter name SOURCE.TARGET[.variant]")
    results = []
    for index, (case_name, build, case_tol) in enumerate(_normalise(cases)):
        label = case_name or f"case{index}"
        try:
            model, example_inputs = build()
            conv = interop.convert(
                model,
                to=target,
                example_inputs=example_inputs,
                converter=converter_name,
                options=dict(convert_options or {}),
            )
        except Exception as exc:
            results.append(
                CaseResult(
                    label,
                    converter_name,
                    False,
                    f"convert failed: {first_line(exc)}",
                    cause=first_line(_root(exc)),
                )
            )
            continue
        try:
            results.append(
                _via_check(
                    label, converter_name, model, conv, batch_sizes, tolerance, case_tol, latency
                )
            )
        except Exception as exc:  # a check that cannot run is this case's failure, not the run's
            results.append(
                CaseResult(
                    label,
                    converter_name,
                    False,
                    f"check raised {first_line(exc)}",
                    cause=first_line(_root(exc)),
                )
            )
    failed = [r for r in results if not r.passed]
    if failed and raise_on_failure:
        raise AssertionError(
            f"{len(failed)} of {len(results)} case(s) failed with {converter_name}:\n"
            + "\n".join(f"  - {r.name}: {r.reason}" for r in failed)
        )
    return results


def _root(exc: BaseException) -> BaseException:
    seen = {id(exc)}
    while (nxt := exc.__cause__ or exc.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        exc = nxt
    return exc


def _normalise(
    cases: Iterable[Any] | Mapping[str, Any],
) -> list[tuple[str, Callable[[], Any], Any]]:
    items: list[tuple[str, Any]] = (
        list(cases.items()) if isinstance(cases, Mapping) else [("", c) for c in cases]
    )
    out = []
    for name, case in items:
        if hasattr(case, "build") and callable(case.build):
            out.append(
                (name or getattr(case, "name", ""), case.build, getattr(case, "tolerance", None))
            )
        elif isinstance(case, tuple) and len(case) == 3:
            out.append((str(case[0]), _const(case[1], case[2]), None))
        elif (
            isinstance(case, tuple)
            and len(case) == 2
            and isinstance(case[0], str)
            and callable(case[1])
        ):
            out.append((case[0], case[1], None))
        elif isinstance(case, tuple) and len(case) == 2:
            out.append((name, _const(case[0], case[1]), None))
        elif callable(case):
            out.append((name or getattr(case, "__name__", ""), case, None))
        else:
            raise TypeError(
                f"cannot use {type(case).__name__} as a conformance case; pass a Case, "
                "(model, inputs), (name, model, inputs), (name, build) or a build callable"
            )
    return out


def _const(model: Any, inputs: Any) -> Callable[[], tuple[Any, Any]]:
    return lambda: (model, inputs)


def _via_check(
    name: str,
    converter: str,
    model: Any,
    conv: Any,
    batch_sizes: Sequence[int],
    tolerance: Any,
    case_tolerance: Any,
    latency: bool,
) -> CaseResult:
    import interop

    report = interop.check(
        model,
        conv,
        batch_sizes=tuple(batch_sizes),
        tolerance=tolerance,
        case_tolerance=case_tolerance,
        latency=latency,
        case=name,
    )
    data = report.to_dict()
    errors: dict[int, dict[str, float | None]] = {}
    reasons = []
    for row in data.get("parity", []):
        errors.setdefault(int(row["batch_size"]), {})[row["output"]] = row.get("max_abs_error")
        if not row.get("passed", False):
            reasons.append(
                f"batch {row['batch_size']} output {row['output']!r}: "
                + str(row.get("reason") or "out of tolerance")
            )
    latency_ms: dict[int, dict[str, float | None]] = {}
    for row in data.get("latency", []) or []:
        latency_ms[int(row["batch_size"])] = {
            "original_p50_ms": row.get("original_p50_ms"),
            "converted_p50_ms": row.get("converted_p50_ms"),
        }
    missing = sorted(set(batch_sizes) - set(errors))
    if missing and not reasons:
        reasons.append(f"no parity measured at batch size(s) {missing}")
    passed = bool(report.passed) and not reasons
    if not passed and not reasons:
        reasons += [str(r) for r in getattr(report, "failures", [])] or [
            str(getattr(report, "verdict", "") or "check failed")
        ]
    return CaseResult(name, converter, passed, "; ".join(reasons), errors, latency_ms, report)
