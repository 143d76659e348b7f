"""Issue 11's summary of torch_sdpa_sweep.py's ratio tables: per head dim, the geometric mean (and the range) of ours over
SDPA-flash (FA2) for fwd, bwd and fwd+bwd and of ours over cuDNN, then the issue's rows (d = 64/128, s = 1k-16k): their
geometric mean per pass and the rows below 1.0x FA2 — the figures docs/performance.md's tables quote.

  python3 scripts/gpu/ratio_summary.py ratios-main.md [ratios-dims.md ...]
"""
import math
import sys

PASSES = ("fwd", "bwd", "fwd_bwd")


def read(paths):
    rows = []
    for path in paths:
        for line in open(path):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) < 8 or cells[0] not in ("fp16", "bf16"):
                continue
            try:
                flash, cudnn = float(cells[6].rstrip("×")), float(cells[7].rstrip("×"))
            except ValueError:  # a backend that failed ("—")
                continue
            rows.append(dict(dtype=cells[0], d=int(cells[1]), causal=cells[2], s=int(cells[3]), pass_=cells[4],
                             flash=flash, cudnn=cudnn))
    return rows


def geomean(values):
    return math.exp(sum(map(math.log, values)) / len(values))


def main():
    rows = read(sys.argv[1:])
    print("| d | fwd ×FA2 | bwd ×FA2 | fwd+bwd ×FA2 | fwd ×cuDNN | bwd ×cuDNN |")
    print("| ---: | --- | --- | --- | ---: | ---: |")
    for d in sorted({r["d"] for r in rows}):
        cells = []
        for p in PASSES:
            ratios = [r["flash"] for r in rows if r["d"] == d and r["pass_"] == p]
            cells.append(f"{geomean(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})" if ratios else "—")
        for p in ("fwd", "bwd"):
            ratios = [r["cudnn"] for r in rows if r["d"] == d and r["pass_"] == p]
            cells.append(f"{geomean(ratios):.2f}×" if ratios else "—")
        print(f"| {d} | " + " | ".join(cells) + " |")
    issue = [r for r in rows if r["d"] in (64, 128)]
    for p in PASSES:
        ratios = [r for r in issue if r["pass_"] == p]
        if not ratios:
            continue
        below = sorted((r for r in ratios if r["flash"] < 1.0), key=lambda r: r["flash"])
        print(f"issue rows {p}: {geomean([r['flash'] for r in ratios]):.3f}× FA2 over {len(ratios)}, "
              f"{len(below)} below 1.0" + (": " + ", ".join(
                  f"{r['dtype']} d={r['d']} {'causal' if r['causal'] == 'yes' else 'full'} s={r['s']} {r['flash']:.2f}"
                  for r in below[:8]) if below else ""))


if __name__ == "__main__":
    main()
