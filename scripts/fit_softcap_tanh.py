#!/usr/bin/env python3
"""The rational fit behind Softcap's tanh (FlashAttn.Kernels/Modifiers/BuiltInModifiers.cs): tanh(x)/x ≈ P(y)/Q(y), y = x²,
P of degree 6, Q of degree 3 with Q(0) = 1, on 0 ≤ x ≤ 9 (beyond, tanh rounds to ±1 in fp32). Weighted least squares for
the relative error, reweighted by the last Q (Sanathanan–Koerner) until it settles, in 60-digit arithmetic (mpmath).
Prints the coefficients and the fp32 relative error of the kernels' evaluation (Horner with fp32 rounding, 1/q rounded).
Needs only mpmath:  python3 scripts/fit_softcap_tanh.py"""
import math
import struct

import mpmath as mp

mp.mp.dps = 60
BOUND, NODES, P_TERMS, Q_TERMS = mp.mpf(9), 1200, 7, 3


def f32(v):
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def fit():
    xs = [BOUND * (1 - mp.cos(mp.pi * (i + mp.mpf(0.5)) / NODES)) / 2 for i in range(NODES)]
    ys = [x * x for x in xs]
    fs = [mp.tanh(x) / x for x in xs]
    q_last = [mp.mpf(1)] * NODES
    for _ in range(10):
        rows, rhs = [], []
        for y, f, q in zip(ys, fs, q_last):
            w = 1 / (f * q)
            rows.append([w * y**k for k in range(P_TERMS)] + [-w * f * y**k for k in range(1, Q_TERMS + 1)])
            rhs.append(w * f)
        a, b = mp.matrix(rows), mp.matrix(rhs)
        solution = mp.lu_solve(a.T * a, a.T * b)
        p = [solution[i] for i in range(P_TERMS)]
        q = [mp.mpf(1)] + [solution[P_TERMS + i] for i in range(Q_TERMS)]
        q_last = [sum(q[k] * y**k for k in range(Q_TERMS + 1)) for y in ys]
    error = max(abs(sum(p[k] * y**k for k in range(P_TERMS)) / qy - f) / f for y, qy, f in zip(ys, q_last, fs))
    return p, q, error


def fp32_tanh(x, p, q):
    if abs(x) > 9:
        return math.copysign(1.0, x)
    y = f32(x * x)
    pv = p[-1]
    for c in reversed(p[:-1]):
        pv = f32(f32(pv * y) + c)
    qv = q[-1]
    for c in reversed(q[:-1]):
        qv = f32(f32(qv * y) + c)
    return f32(f32(f32(x) * pv) * f32(1 / qv))


def main():
    p, q, error = fit()
    print("P", [mp.nstr(c, 20) for c in p])
    print("Q", [mp.nstr(c, 20) for c in q])
    print(f"relative error before rounding: {mp.nstr(error, 3)}")
    pf, qf = [f32(c) for c in p], [f32(c) for c in q]
    worst = max((abs(fp32_tanh(f32(x), pf, qf) - math.tanh(f32(x))) / math.tanh(f32(x)), x)
                for x in (10 ** (-6 + 7.1 * i / 20000) for i in range(20001)))
    print(f"fp32 evaluation: max relative error {worst[0]:.3g} ({worst[0] / 2**-24:.1f} ulps) at x = {worst[1]:.6g}")


if __name__ == "__main__":
    main()
