"""Reference Krimp code tables and encoded lengths for tests/krimp_parity.rs.

Runs (never builds) the `krimp` binary that ships with the ADAPT `edi` code
(ae-apt/AE-APT, src/edi/bin/krimp, "FIC mkIII"), with exactly the configuration of
src/edi/krimp.py (closed itemsets of support >= 1, coverpartial, post-acceptance
pruning), on

- 40 small random databases (seeded below), and
- the rows of five small real ADAPT contexts (empty rows dropped: the binary skips
  empty transactions, which would misalign its per-row output).

Unlike src/edi/krimp.py no row holding every item is appended: this checks Krimp
itself. Output per case: the rows (0-based columns), the final code table (items as
0-based columns, usage, support) and the binary's per-row encoded lengths
(-log2(usage / sum usage) summed over the cover, printed with 6 decimals).

How the binary behaves, as read from its outputs: items are renumbered by support
(ties: higher column first); empty transactions are skipped; elements whose usage drops
to zero stay in the table during post-acceptance pruning and leave after each successful
prune and at its end; the printed encoded lengths use -log2(usage / sum usage) without
smoothing.

Run: KRIMP_BIN=/path/to/krimp APT_LLM_DATA=../shared/datasets/adapt-e2 \
     python3 make_krimp_reference.py > krimp_reference.json
"""
import csv, glob, json, os, random, subprocess, sys, tempfile

CONVERT = """taskclass = datatrans
command = convertdb
takeItEasy = 0
dataDir = {d}/data/
expDir = {d}/xps/
dbName = data
dbInEncoding = fimi
dbInExt = dat
dbOutExt = db
dbOutEncoding = fic
dbOutTranslateFw = true
dbOutOrderInTrans = true
dbOutBinned = false
"""
COMPRESS = """algo = coverpartial
command = compress
datadir = {d}/data/
expdir = {d}/xps/
internalmineto = memory
iscchunktype = bisc
iscifmined = zap
iscname = data-closed-1d
iscstoretype = bisc
maxmemusage = 1024
numthreads = 1
prunestrategy = pop
reportacc = false
reportcnd = 0
reportsup = 100
takeiteasy = 0
taskclass = main
"""


def run_krimp(binary, rows):
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(d + "/data/datasets")
        with open(d + "/data/datasets/data.dat", "w") as f:
            for r in rows:
                f.write(" ".join(str(i + 1) for i in sorted(r)) + "\n")
        for name, text in (("convert", CONVERT), ("compress", COMPRESS)):
            with open(f"{d}/{name}.conf", "w") as f:
                f.write(text.format(d=d))
            subprocess.run([binary, f"{d}/{name}.conf"], cwd=d, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(d + "/data/datasets/data.db") as f:
            it = [l for l in f.read().split("\n") if l.startswith("it:")][0]
        back = [int(x) - 1 for x in it.split()[1:]]  # internal id -> 0-based column
        [ct_file] = glob.glob(d + "/xps/compress/*/ct-*-1-*.ct")
        ct = []
        with open(ct_file) as f:
            for line in f.read().split("\n")[2:]:
                p = line.split()
                if p:
                    u, s = p[-1].strip("()").split(",")
                    ct.append({"items": sorted(back[int(x)] for x in p[:-1]),
                               "usage": int(u), "support": int(s)})
        [el_file] = glob.glob(d + "/xps/compress/*/el-*.csv")
        with open(el_file) as f:
            el = [float(l.split(",")[1]) for l in f.read().split("\n")[1:] if l.strip()]
        assert len(el) == len(rows)
        return ct, el


def random_db(rng, n_rows, width, density):
    rows = []
    # A few planted patterns so that Krimp has something to accept and prune.
    plants = [rng.sample(range(width), rng.randint(2, max(2, width // 2))) for _ in range(3)]
    for _ in range(n_rows):
        r = set(i for i in range(width) if rng.random() < density)
        if rng.random() < 0.7:
            r |= set(rng.choice(plants))
        if not r:
            r = {rng.randrange(width)}
        rows.append(sorted(r))
    return rows


def context_rows(path):
    with open(path) as f:
        reader = csv.reader(f)
        header = next(reader)[1:]
        rows = [[i for i, v in enumerate(r[1:]) if int(v) == 1] for r in reader]
    return len(header), [r for r in rows if r]


def main():
    binary = os.path.abspath(os.environ["KRIMP_BIN"])
    data = os.environ.get("APT_LLM_DATA", "../../../../../shared/datasets/adapt-e2")
    rng = random.Random(15)
    cases = []
    for k in range(40):
        width = rng.randint(3, 12)
        rows = random_db(rng, rng.randint(4, 40), width, rng.choice([0.1, 0.3, 0.5]))
        cases.append((f"random-{k}", width, rows))
    for rel in ["bovia/clearscope/ProcessEvent.csv", "bovia/clearscope/ProcessExec.csv",
                "bovia/cadets/ProcessNetflow.csv", "pandex/clearscope/ProcessEvent.csv",
                "pandex/cadets/ProcessNetflow.csv"]:
        width, rows = context_rows(os.path.join(data, rel))
        cases.append((rel, width, rows))
    out = []
    for name, width, rows in cases:
        ct, el = run_krimp(binary, rows)
        out.append({"name": name, "width": width, "rows": rows,
                    "code_table": ct, "encoded_lengths": el})
    json.dump({"cases": out}, sys.stdout)


if __name__ == "__main__":
    main()
