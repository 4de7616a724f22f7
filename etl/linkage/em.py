"""Expectation maximisation of the m probabilities over blocked pairs, for data with few SNILS labels.

Fellegi–Sunter as a two-class mixture: every candidate pair is a match or not, and given its class
each comparison's level is independent of the others. As Splink does it, EM runs in sessions, one
per blocking rule: the pairs of that rule only, u held at its random-pair value, and the comparisons
the rule blocks on left out of the likelihood (inside the block non-matches agree on them by
construction, so they say nothing and their u there is not the random one). Each session trains m
of the other comparisons; a comparison free in several sessions takes the mean. Pairs are grouped
by comparison vector — a few hundred distinct vectors stand for millions of pairs — so an iteration
is a small numpy product.

Ours rather than Splink's `estimate_parameters_using_expectation_maximisation`: the same method, on
the comparison vectors we already build for scoring (our blocking keys, levels and term-frequency
tables, which Splink's own training would rebuild), in well under a second per session.
"""
from __future__ import annotations

import numpy as np


def estimate(patterns: np.ndarray, counts: np.ndarray, m0: list[np.ndarray], u: list[np.ndarray],
             free: list[bool], match_share: float = 0.5, iterations: int = 200, tolerance: float = 1e-6,
             smoothing: float = 1.0) -> dict:
    """patterns: (P, C) level per comparison (-1 for null); counts: (P,) pairs of each pattern;
    m0, u: probabilities per comparison (u fixed); free: which comparisons enter the likelihood and
    are trained. Returns {"m": [...], "match_share": λ, "iterations": k, "converged": bool}."""
    patterns = np.asarray(patterns, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    m = [np.asarray(x, dtype=np.float64) / np.sum(x) for x in m0]
    u = [np.asarray(x, dtype=np.float64) for x in u]
    lam, total = match_share, counts.sum()
    used = [c for c in range(patterns.shape[1]) if free[c]]
    log_u = np.zeros(len(counts))
    for c in used:
        seen = patterns[:, c] >= 0
        log_u[seen] += np.log(u[c][patterns[seen, c]])
    converged, k = False, 0
    for k in range(1, iterations + 1):
        log_m = np.zeros(len(counts))
        for c in used:
            seen = patterns[:, c] >= 0
            log_m[seen] += np.log(m[c][patterns[seen, c]])
        a = np.log(lam) + log_m  # posterior of a match, in log space: products of small numbers underflow
        b = np.log1p(-lam) + log_u
        top = np.maximum(a, b)
        p = np.exp(a - top) / (np.exp(a - top) + np.exp(b - top))
        wm = p * counts
        new_m = list(m)
        for c in used:
            g = patterns[:, c]
            seen = g >= 0
            s = np.bincount(g[seen], weights=wm[seen], minlength=len(m[c])) + smoothing
            new_m[c] = s / s.sum()
        new_lam = min(max(wm.sum() / total, 1e-9), 1 - 1e-9)
        change = max([abs(new_lam - lam)] + [float(np.max(np.abs(new_m[c] - m[c]))) for c in used])
        m, lam = new_m, new_lam
        if change < tolerance:
            converged = True
            break
    return {"m": m, "match_share": lam, "iterations": k, "converged": converged}


def posterior(patterns: np.ndarray, m: list[np.ndarray], u: list[np.ndarray], prior: float) -> np.ndarray:
    """The probability that a pair of each pattern is a match, every comparison in (-1: no evidence)."""
    patterns = np.asarray(patterns, dtype=np.int64)
    x = np.full(len(patterns), np.log(prior) - np.log1p(-prior))
    for c in range(patterns.shape[1]):
        seen = patterns[:, c] >= 0
        g = patterns[seen, c]
        x[seen] += np.log(m[c][g]) - np.log(u[c][g])
    return 1 / (1 + np.exp(-np.clip(x, -700, 700)))


def match_share(patterns: np.ndarray, counts: np.ndarray, m: list[np.ndarray], u: list[np.ndarray],
                iterations: int = 500, tolerance: float = 1e-9) -> float:
    """The share of matches among the pairs, every comparison in, m and u fixed (EM on λ alone)."""
    patterns = np.asarray(patterns, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.float64)
    bf = np.zeros(len(counts))  # log Bayes factor of each pattern
    for c in range(patterns.shape[1]):
        seen = patterns[:, c] >= 0
        g = patterns[seen, c]
        bf[seen] += np.log(m[c][g]) - np.log(u[c][g])
    lam = 0.5
    for _ in range(iterations):
        x = np.clip(np.log(lam) - np.log1p(-lam) + bf, -700, 700)
        new = float(np.sum(counts / (1 + np.exp(-x))) / counts.sum())
        new = min(max(new, 1e-9), 1 - 1e-9)
        if abs(new - lam) < tolerance:
            return new
        lam = new
    return lam
