"""Regenerate a small results table and compare it with the committed one.

    python3 scripts/check_small_results.py APT_LLM_BINARY DATA [--write]

Runs `evaluate` on the three data contexts of pandex/clearscope (one host) with the
deterministic detectors (Rarity on MiniLM embeddings, AVF, OC3), from a clean state
(`--no-cache`), and compares results.csv and hosts.csv (less the timing column) with
docs/check/. `--write` refreshes docs/check/ instead. CI runs the check, so a change that
moves these numbers must regenerate them (and docs/results.md) in the same commit.
"""
import csv, io, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECK = os.path.join(ROOT, "docs/check")
ARGS = ["--contexts", "pandex/clearscope/PE,pandex/clearscope/PX,pandex/clearscope/PN",
        "--detectors", "rarity,avf,oc3", "--no-cache", "--quiet", "--encoders", "minilm"]


def table(path):
    rows = list(csv.reader(open(path)))
    head = rows[0]
    keep = [i for i, h in enumerate(head) if h != "seconds"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for r in rows:
        w.writerow([r[i] for i in keep])
    return out.getvalue()


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    exe, data = sys.argv[1], sys.argv[2]
    write = "--write" in sys.argv[3:]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "evaluate", "--data", data, "--out", tmp, *ARGS], check=True,
                       stdout=subprocess.DEVNULL)
        bad = []
        for name in ["results.csv", "hosts.csv"]:
            got = table(os.path.join(tmp, name))
            want_path = os.path.join(CHECK, name)
            if write:
                os.makedirs(CHECK, exist_ok=True)
                open(want_path, "w").write(got)
                continue
            want = open(want_path).read() if os.path.exists(want_path) else ""
            if got != want:
                bad.append(name)
                sys.stderr.write(f"{name} differs from docs/check/{name}:\n")
                for a, b in zip(want.splitlines(), got.splitlines()):
                    if a != b:
                        sys.stderr.write(f"  committed: {a}\n  now:       {b}\n")
                if len(want.splitlines()) != len(got.splitlines()):
                    sys.stderr.write(f"  {len(want.splitlines())} committed lines, {len(got.splitlines())} now\n")
        if bad:
            sys.exit("the small results check failed: regenerate with --write (and docs/results.md)")
        print("small results check: " + ("written" if write else "results.csv and hosts.csv match docs/check/"))


if __name__ == "__main__":
    main()
