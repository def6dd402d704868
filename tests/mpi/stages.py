#!/usr/bin/env python3
"""Independent checks for the optional stages (issue 14): plain Python over
the output files (zstd CLI to decompress), no pilemix code path.

  stages.py gen DIR SEED            corpus: components A (4 files), B (2), C (1);
                                    meta {"f": file, "pos": line, "n": lines, "score": .., "lang": ..}
  stages.py prefix OUTDIR SIGMA     the first k of S train shards are a uniform
                                    sample of k/S: per component, per source file and
                                    per position quartile within sigma, for every k
  stages.py subset PARENT SUB P     SUB is the prefix of PARENT's train order for fraction P
  stages.py subset-bytes PARENT SUB B  ... the longest prefix with text bytes <= B
  stages.py nested SMALL LARGE      SMALL's train lines are a prefix of LARGE's
"""
import json
import math
import os
import random
import subprocess
import sys


def lines_of(path):
    out = subprocess.run(["zstd", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    assert out == b"" or out.endswith(b"\n"), path
    return out.split(b"\n")[:-1] if out else []


def train_files(outdir):
    m = json.load(open(os.path.join(outdir, "manifest.json")))
    return m, [f["path"] for f in m["files"] if f["split"] == "train"]


def train_order(outdir):
    """The train lines in global order: (shard path, lines) per shard."""
    m, files = train_files(outdir)
    return [(p, lines_of(os.path.join(outdir, p))) for p in files]


def gen(d, seed):
    rnd = random.Random(int(seed))
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta", "iota", "kappa"]
    comps = {"A": (4, 700), "B": (2, 500), "C": (1, 600)}
    for c, (nfiles, nlines) in comps.items():
        os.makedirs(os.path.join(d, c), exist_ok=True)
        for f in range(nfiles):
            name = "%s/%02d.jsonl" % (c, f)
            with open(os.path.join(d, name), "w") as fh:
                for j in range(nlines):
                    text = "%s %d %d " % (c, f, j) + " ".join(rnd.choice(words) for _ in range(rnd.randint(5, 40)))
                    meta = {"f": name, "pos": j, "n": nlines, "score": rnd.randint(0, 9),
                            "lang": rnd.choice(["en", "de", "fr"]), "r": {"up": rnd.randint(-5, 50)}}
                    u = rnd.random()
                    if u < 0.08:
                        del meta["score"]  # missing
                    elif u < 0.12:
                        meta["score"] = str(meta["score"])  # wrong type
                    elif u < 0.15:
                        meta["score"] = None  # null: missing
                    if rnd.random() < 0.05:
                        del meta["r"]
                    if rnd.random() < 0.02:
                        text = "duplicate text %d of the corpus" % rnd.randint(0, 20)
                    fh.write(json.dumps({"text": text, "meta": meta}) + "\n")


def prefix(outdir, sigma):
    sigma = float(sigma)
    order = train_order(outdir)
    S = len(order)
    recs = []  # per shard: list of (component, file, quartile)
    for _, lines in order:
        shard = []
        for ln in lines:
            o = json.loads(ln)
            meta = o["meta"]
            q = min(3, meta["pos"] * 4 // meta["n"])
            shard.append((meta["pile_set_name"], meta["f"], "%s/q%d" % (meta["f"].split("/")[0], q)))
        recs.append(shard)
    total = {}
    for shard in recs:
        for r in shard:
            for key in r:
                total[key] = total.get(key, 0) + 1
    worst = 0.0
    checks = 0
    seen = {}
    for k in range(1, S):
        for r in recs[k - 1]:
            for key in r:
                seen[key] = seen.get(key, 0) + 1
        p = k / S
        for key, n in total.items():
            sd = math.sqrt(n * p * (1 - p))
            z = abs(seen.get(key, 0) - n * p) / sd if sd else 0.0
            worst = max(worst, z)
            checks += 1
            if z > sigma:
                print("prefix: first %d of %d shards: %s has %d of %d copies, expected %.1f (%.1f sigma)"
                      % (k, S, key, seen.get(key, 0), n, n * p, z))
                return 1
    print("prefix: %d checks over %d shards, %d groups, worst %.2f sigma" % (checks, S, len(total), worst))
    return 0


def cut_lines(parent, p):
    m, files = train_files(parent)
    S = len(files)
    x = p * S
    whole = S if x >= S else int(math.floor(x))
    out = []
    for s in range(whole):
        out.append((files[s], lines_of(os.path.join(parent, files[s]))))
    if whole < S:
        lines = lines_of(os.path.join(parent, files[whole]))
        n = len(lines)
        take = min(n, int(math.floor((x - whole) * n + 0.5)))
        if take:
            out.append((files[whole], lines[:take]))
    return out


def cut_bytes(parent, b):
    m, files = train_files(parent)
    out, left = [], int(b)
    for f in files:
        lines = lines_of(os.path.join(parent, f))
        took = []
        for ln in lines:
            tb = len(json.loads(ln)["text"].encode("utf-8"))
            if tb > left:
                break
            left -= tb
            took.append(ln)
        if took:
            out.append((f, took))
        if len(took) < len(lines):
            break
    return out


def compare(parent, sub, want):
    got = train_order(sub)
    if [p for p, _ in got] != [p for p, _ in want]:
        print("subset: train files %s, expected %s" % ([p for p, _ in got], [p for p, _ in want]))
        return 1
    for (p, a), (_, b) in zip(got, want):
        if a != b:
            print("subset: %s: %d lines differ from the expected %d" % (p, len(a), len(b)))
            return 1
    for split in ("val", "test"):
        a = os.path.join(parent, split + ".jsonl.zst")
        b = os.path.join(sub, split + ".jsonl.zst")
        if open(a, "rb").read() != open(b, "rb").read():
            print("subset: %s differs from the parent's" % split)
            return 1
    m = json.load(open(os.path.join(sub, "manifest.json")))
    n = sum(len(l) for _, l in want)
    if m["subset"]["train_documents"] != n:
        print("subset: manifest says %d train documents, expected %d" % (m["subset"]["train_documents"], n))
        return 1
    per = {}
    for _, lines in want:
        for ln in lines:
            c = json.loads(ln)["meta"]["pile_set_name"]
            per[c] = per.get(c, 0) + 1
    for c in m["components"]:
        if c["emitted"]["train"] != per.get(c["name"], 0):
            print("subset: %s: manifest says %d train, counted %d" % (c["name"], c["emitted"]["train"], per.get(c["name"], 0)))
            return 1
    print("subset: %s: %d train lines in %d files as expected" % (sub, n, len(want)))
    return 0


def nested(small, large):
    a = [ln for _, ls in train_order(small) for ln in ls]
    b = [ln for _, ls in train_order(large) for ln in ls]
    if len(a) > len(b) or b[: len(a)] != a:
        print("nested: %s (%d lines) is not a prefix of %s (%d lines)" % (small, len(a), large, len(b)))
        return 1
    print("nested: %s (%d lines) is a prefix of %s (%d lines)" % (small, len(a), large, len(b)))
    return 0


def filter_verdict(conds, meta):
    """The first failing condition's reason, or None: the rules of filter.h."""
    for c in conds:
        v = meta
        for part in c["field"].split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            if c.get("missing", "drop") == "keep":
                continue
            return "missing"
        if "min" in c or "max" in c:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return "wrong_type"
            if "min" in c and not v >= c["min"]:
                return "below_min"
            if "max" in c and not v <= c["max"]:
                return "above_max"
        ins = c.get("in", [c["equals"]] if "equals" in c else None)
        if ins is not None:
            if not isinstance(v, str):
                return "wrong_type"
            if v not in ins:
                return "not_in"
    return None


def filters(cfg_path, outdir):
    """Count filtered documents per component and reason from the inputs, and
    check the manifest's counts and that no filtered text is in the output
    while every kept text with train copies or a holdout split is."""
    cfg = json.load(open(cfg_path))
    m = json.load(open(os.path.join(outdir, "manifest.json")))
    out_texts = set()
    for f in m["files"]:
        if f["split"] in ("train", "val", "test"):
            for ln in lines_of(os.path.join(outdir, f["path"])):
                out_texts.add(json.loads(ln)["text"])
    bad = 0
    kept, dropped = set(), set()  # over all components: a text may be in two
    for comp, mc in zip(cfg["components"], m["components"]):
        conds = comp.get("filter")
        if isinstance(conds, dict):
            conds = [conds]
        want = {}
        for d in comp["paths"]:
            for name in sorted(os.listdir(d)):
                for ln in open(os.path.join(d, name)):
                    o = json.loads(ln)
                    why = filter_verdict(conds, o.get("meta") or {}) if conds else None
                    if why:
                        want[why] = want.get(why, 0) + 1
                        dropped.add(o["text"])
                    else:
                        kept.add(o["text"])
        got = (mc.get("filtered") or {}).get("by_reason", {})
        got = {k: v for k, v in got.items() if v}
        if conds and got != want:
            print("filters: %s: manifest %s, counted %s" % (comp["name"], got, want))
            bad = 1
        if not conds and "filtered" in mc:
            print("filters: %s has no filter but the manifest counts some" % comp["name"])
            bad = 1
        total = sum(want.values())
        if conds and mc["filtered"]["total"] != total:
            bad = 1
        print("filters: %s: %d filtered %s" % (comp["name"], total, want))
    leaked = (dropped - kept) & out_texts
    if leaked:
        print("filters: %d filtered texts in the output, e.g. %r" % (len(leaked), sorted(leaked)[0]))
        bad = 1
    if not (dropped - kept) or not (kept & out_texts):
        print("filters: the check saw nothing to check")
        bad = 1
    return bad


def canaries(listfile, with_c, without_c, count):
    """The dataset with canaries is the one without plus exactly the listed
    canaries, each at its listed shard and line."""
    lst = [json.loads(l) for l in open(listfile)]
    if len(lst) != int(count) or [c["index"] for c in lst] != list(range(int(count))):
        print("canaries: the list has %d entries, expected %s" % (len(lst), count))
        return 1
    texts = {c["text"] for c in lst}
    if len(texts) != len(lst):
        print("canaries: two canaries share a text")
        return 1
    m, files = train_files(with_c)
    found = 0
    for f in files:
        a = lines_of(os.path.join(with_c, f))
        b = lines_of(os.path.join(without_c, f))
        rest = []
        for i, ln in enumerate(a, 1):
            o = json.loads(ln)
            if o["text"] in texts:
                c = [c for c in lst if c["text"] == o["text"]][0]
                if (c["shard"], c["line"], c["pile_set_name"]) != (f, i, o["meta"]["pile_set_name"]):
                    print("canaries: canary %d found at %s:%d as %s, listed at %s:%d as %s" % (
                        c["index"], f, i, o["meta"]["pile_set_name"], c["shard"], c["line"], c["pile_set_name"]))
                    return 1
                if set(o["meta"]) != {"pile_set_name"}:
                    print("canaries: canary %d carries meta %s" % (c["index"], o["meta"]))
                    return 1
                found += 1
            else:
                rest.append(ln)
        if rest != b:
            print("canaries: %s without its canaries differs from the run without canaries" % f)
            return 1
    if found != len(lst):
        print("canaries: %d of %d listed canaries in the train files" % (found, len(lst)))
        return 1
    for split in ("val", "test"):
        if open(os.path.join(with_c, split + ".jsonl.zst"), "rb").read() != open(os.path.join(without_c, split + ".jsonl.zst"), "rb").read():
            print("canaries: %s differs" % split)
            return 1
    shards = {}
    for c in lst:
        shards[c["shard"]] = shards.get(c["shard"], 0) + 1
    print("canaries: %d canaries at their listed lines, %s; the rest identical" % (len(lst), sorted(shards.items())))
    return 0


def dedup(cfg_path, outdir):
    """Exact dedup checked from the inputs: per text the winner is the
    smallest identity (component name, path, byte offset); every output
    line of a text is the winner's (meta f/pos name the input line); the
    manifest's counts per component, split and winner's component match."""
    cfg = json.load(open(cfg_path))
    docs = []  # (identity, component, text)
    canary_texts = set()
    listing = os.path.join(outdir.rstrip("/") + ".canaries.jsonl")
    if os.path.exists(listing):
        canary_texts = {json.loads(l)["text"] for l in open(listing)}
    for comp in cfg["components"]:
        conds = comp.get("filter")
        if isinstance(conds, dict):
            conds = [conds]
        for d in comp["paths"]:
            for name in sorted(os.listdir(d)):
                off = 0
                for raw in open(os.path.join(d, name), "rb"):
                    o = json.loads(raw)
                    off0 = off
                    off += len(raw)
                    if conds and filter_verdict(conds, o.get("meta") or {}):
                        continue  # filtered before the dedup: never a candidate
                    docs.append(((comp["name"], name, off0), comp["name"], o["text"], (o["meta"]["f"], o["meta"]["pos"])))
    winner = {}
    for ident, comp, text, fp in docs:
        if text not in winner or ident < winner[text][0]:
            winner[text] = (ident, comp, fp)
    m = json.load(open(os.path.join(outdir, "manifest.json")))
    split_of = {}
    bad = 0
    for f in m["files"]:
        if f["split"] not in ("train", "val", "test"):
            continue
        for ln in lines_of(os.path.join(outdir, f["path"])):
            o = json.loads(ln)
            if o["text"] in canary_texts:
                continue
            fp = (o["meta"]["f"], o["meta"]["pos"])
            w = winner[o["text"]]
            if fp != w[2]:
                print("dedup: %s:%d holds %s, a copy of the text %s kept" % (f["path"], 0, fp, w[2]))
                bad = 1
            if f["split"] != "train":
                if o["text"] in split_of:
                    print("dedup: a held-out text written twice")
                    bad = 1
                split_of[o["text"]] = f["split"]
    want = {c["name"]: {"train": 0, "val": 0, "test": 0, "of": {}} for c in cfg["components"]}
    for ident, comp, text, fp in docs:
        w = winner[text]
        if ident == w[0]:
            continue
        e = want[comp]
        e[split_of.get(text, "train")] += 1
        e["of"][w[1]] = e["of"].get(w[1], 0) + 1
    for mc in m["components"]:
        got = mc["exact_duplicates"]
        g = {"train": got["train"], "val": got["val"], "test": got["test"], "of": got["of"]}
        if g != want[mc["name"]] or got["total"] != got["train"] + got["val"] + got["test"]:
            print("dedup: %s: manifest %s, counted %s" % (mc["name"], g, want[mc["name"]]))
            bad = 1
        if any(mc["holdout_duplicates"].values()):
            print("dedup: %s: holdout duplicates counted besides dedup" % mc["name"])
            bad = 1
    n_lost = sum(e["train"] + e["val"] + e["test"] for e in want.values())
    if n_lost == 0 or not any(e["val"] + e["test"] for e in want.values()):
        print("dedup: the corpus has no held-out duplicate to check (%d lost)" % n_lost)
        bad = 1
    print("dedup: %d documents dropped as duplicates, as counted from the inputs: %s" % (n_lost, {k: (v["train"], v["val"], v["test"]) for k, v in want.items()}))
    return bad


def main(argv):
    cmd = argv[1]
    if cmd == "gen":
        gen(argv[2], argv[3])
        return 0
    if cmd == "prefix":
        return prefix(argv[2], argv[3])
    if cmd == "subset":
        return compare(argv[2], argv[3], cut_lines(argv[2], float(argv[4])))
    if cmd == "subset-bytes":
        return compare(argv[2], argv[3], cut_bytes(argv[2], int(argv[4])))
    if cmd == "filters":
        return filters(argv[2], argv[3])
    if cmd == "canaries":
        return canaries(argv[2], argv[3], argv[4], argv[5])
    if cmd == "dedup":
        return dedup(argv[2], argv[3])
    if cmd == "nested":
        return nested(argv[2], argv[3])
    print("unknown command " + cmd)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
