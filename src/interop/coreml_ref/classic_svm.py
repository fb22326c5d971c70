"""Support vector machines (SupportVectorRegressor / SupportVectorClassifier) as libsvm
computes them, in float64: one-vs-one voting, or Platt scaling with pairwise coupling."""

from __future__ import annotations

from typing import Any

import numpy as np

from interop.coreml_ref.classic_common import (
    Features,
    class_labels,
    classifier_outputs,
    input_matrix,
    name_classifier_outputs,
    single_output,
    unsupported,
)

_MISSING_PROB = 1e-7  # libsvm clips pairwise probabilities to [1e-7, 1 - 1e-7]


def _support_vectors(params: Any, width: int) -> np.ndarray:
    which = params.WhichOneof("supportVectors")
    if which == "denseSupportVectors":
        vectors = np.asarray(
            [list(v.values) for v in params.denseSupportVectors.vectors], dtype=np.float64
        )
        if vectors.ndim != 2 or vectors.shape[1] != width:
            raise unsupported(f"support vectors of shape {vectors.shape} for {width} features")
        return vectors
    if which == "sparseSupportVectors":
        sparse = params.sparseSupportVectors.vectors
        vectors = np.zeros((len(sparse), width), dtype=np.float64)
        for i, vec in enumerate(sparse):
            for node in vec.nodes:
                # libsvm sparse indices are 1-based
                if not 1 <= node.index <= width:
                    raise unsupported(f"sparse support-vector index {node.index}")
                vectors[i, node.index - 1] = node.value
        return vectors
    raise unsupported("an SVM without support vectors")


def _kernel_matrix(kernel: Any, x: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    which = kernel.WhichOneof("kernel")
    if which == "linearKernel":
        return x @ vectors.T
    if which == "rbfKernel":
        sq = np.empty((len(x), len(vectors)))
        for start in range(0, len(x), 256):  # bounded memory for the pairwise differences
            chunk = x[start : start + 256]
            sq[start : start + 256] = ((chunk[:, None, :] - vectors[None]) ** 2).sum(axis=2)
        return np.exp(-kernel.rbfKernel.gamma * sq)
    if which == "polyKernel":
        p = kernel.polyKernel
        return (p.gamma * (x @ vectors.T) + p.c) ** int(p.degree)
    if which == "sigmoidKernel":
        s = kernel.sigmoidKernel
        return np.tanh(s.gamma * (x @ vectors.T) + s.c)
    raise unsupported(f"SVM kernel {which!r}")


def eval_svr(spec: Any, features: Features) -> Features:
    params = spec.supportVectorRegressor
    x = input_matrix(spec, features)
    vectors = _support_vectors(params, x.shape[1])
    coef = np.asarray(list(params.coefficients.alpha), dtype=np.float64)
    if coef.shape != (len(vectors),):
        raise unsupported(f"{coef.size} SVR coefficients for {len(vectors)} support vectors")
    value = _kernel_matrix(params.kernel, x, vectors) @ coef - params.rho
    return single_output(spec, value[:, None])


def eval_svc(spec: Any, features: Features) -> Features:
    params = spec.supportVectorClassifier
    labels = class_labels(params)
    k = len(labels)
    x = input_matrix(spec, features)
    vectors = _support_vectors(params, x.shape[1])
    per_class = np.asarray(list(params.numberOfSupportVectorsPerClass), dtype=np.int64)
    if per_class.shape != (k,) or per_class.sum() != len(vectors):
        raise unsupported(
            f"numberOfSupportVectorsPerClass {per_class.tolist()} for {k} classes "
            f"and {len(vectors)} support vectors"
        )
    coef = np.asarray([list(c.alpha) for c in params.coefficients], dtype=np.float64)
    if coef.shape != (k - 1, len(vectors)):
        raise unsupported(
            f"SVC coefficients of shape {coef.shape}; expected ({k - 1}, {len(vectors)})"
        )
    n_pairs = k * (k - 1) // 2
    rho = np.asarray(list(params.rho), dtype=np.float64)
    if rho.shape != (n_pairs,):
        raise unsupported(f"{rho.size} SVC rho values for {n_pairs} class pairs")
    kernel = _kernel_matrix(params.kernel, x, vectors)
    start = np.concatenate([[0], np.cumsum(per_class)])
    # libsvm one-vs-one: pair (i, j) in order i < j; a positive value votes for class i.
    decisions = np.empty((len(x), n_pairs))
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    for p, (i, j) in enumerate(pairs):
        si = slice(start[i], start[i + 1])
        sj = slice(start[j], start[j + 1])
        decisions[:, p] = kernel[:, si] @ coef[j - 1, si] + kernel[:, sj] @ coef[i, sj] - rho[p]
    prob_a = np.asarray(list(params.probA), dtype=np.float64)
    prob_b = np.asarray(list(params.probB), dtype=np.float64)
    if prob_a.size:
        if prob_a.shape != (n_pairs,) or prob_b.shape != (n_pairs,):
            raise unsupported(
                f"probA/probB of lengths {prob_a.size}/{prob_b.size} for {n_pairs} class pairs"
            )
        probs = _svm_probabilities(decisions, prob_a, prob_b, k, pairs)
        # With a probability model, libsvm's label is the most probable class.
        return classifier_outputs(spec, labels, probs)
    votes = np.zeros((len(x), k), dtype=np.int64)
    rows = np.arange(len(x))
    for p, (i, j) in enumerate(pairs):
        winner = np.where(decisions[:, p] > 0, i, j)
        np.add.at(votes, (rows, winner), 1)
    return name_classifier_outputs(spec, labels[np.argmax(votes, axis=1)], None)


def _svm_probabilities(
    decisions: np.ndarray,
    prob_a: np.ndarray,
    prob_b: np.ndarray,
    k: int,
    pairs: list[tuple[int, int]],
) -> np.ndarray:
    """Platt-scaled pairwise probabilities, coupled into class probabilities as libsvm does."""
    f = decisions * prob_a + prob_b
    # Numerically stable logistic of -f, as libsvm's sigmoid_predict computes it.
    pair_prob = np.where(
        f >= 0, np.exp(-np.abs(f)) / (1.0 + np.exp(-np.abs(f))), 1.0 / (1.0 + np.exp(-np.abs(f)))
    )
    pair_prob = np.clip(pair_prob, _MISSING_PROB, 1.0 - _MISSING_PROB)
    # Two classes are coupled too: the libsvm generation Core ML's SVMs come from (and the one
    # scikit-learn bundles) has no two-class shortcut, which libsvm added only in 2019.
    out = np.empty((len(decisions), k))
    for row in range(len(decisions)):
        r = np.zeros((k, k))
        for p, (i, j) in enumerate(pairs):
            r[i, j] = pair_prob[row, p]
            r[j, i] = 1.0 - pair_prob[row, p]
        out[row] = _couple(r, k)
    return out


def _couple(r: np.ndarray, k: int) -> np.ndarray:
    """libsvm's multiclass_probability (Wu, Lin and Weng 2004, method 2)."""
    q = -r.T * r
    np.fill_diagonal(q, (r**2).sum(axis=0))  # r's diagonal is zero
    p = np.full(k, 1.0 / k)
    eps = 0.005 / k
    for _ in range(max(100, k)):
        qp = q @ p
        pqp = float(p @ qp)
        if np.max(np.abs(qp - pqp)) < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t, t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t, t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            qp = (qp + diff * q[t]) / (1 + diff)
            p /= 1 + diff
    return p


__all__ = ["eval_svc", "eval_svr"]
