# Sums ncu's gpu__time_duration per kernel name (the CSV of ncu --csv --log-file), per step.
# Usage: ncu_kernel_times.py NCU_CSV STEPS
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
steps = float(sys.argv[2])
hdr = None
tot = collections.defaultdict(float); cnt = collections.Counter()
for r in rows:
    if "Kernel Name" in r and "Metric Value" in r: hdr = r; continue
    if hdr is None or len(r) != len(hdr): continue
    d = dict(zip(hdr, r))
    if d.get("Metric Name") != "gpu__time_duration.sum": continue
    v = float(d["Metric Value"].replace(",", ""))
    unit = d.get("Metric Unit", "")
    v *= {"nsecond": 1e-3, "usecond": 1, "msecond": 1e3, "ns": 1e-3, "us": 1, "ms": 1e3}.get(unit, 1e-3)
    name = d["Kernel Name"][:110]
    tot[name] += v; cnt[name] += 1
all_us = sum(tot.values())
print(f"total kernel time {all_us/steps:.0f} us per step over {sum(cnt.values())/steps:.0f} launches")
for k, v in sorted(tot.items(), key=lambda kv: -kv[1])[:30]:
    print(f"{v/steps:9.1f} us {cnt[k]/steps:6.1f}x  {k}")
