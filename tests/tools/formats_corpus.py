#!/usr/bin/python3
"""A corpus in every input format of DESIGN 1.4, and a checker of a run over it.

Written with Python's own gzip, lzma, bz2, tarfile, zipfile and json modules
and the zstd command-line tool, never with pilemix's readers, so the test
is independent of the code under test.

  formats_corpus.py make DIR      write DIR/data/... , DIR/expected.json and
                                  DIR/config.json (output in DIR/out)
  formats_corpus.py check DIR     check DIR/out against DIR/expected.json: every
                                  document exactly `epochs` times in train with
                                  byte-identical text (and meta where there is
                                  one), nothing else, manifest counts matching

The config has no val/test split, so the expected train content is a plain
multiset; the determinism runs (ranks, budgets, a moved corpus) add holdout
fractions and compare bytes.
"""
import bz2
import collections
import glob
import gzip
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
import zipfile


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, check=True,
                          capture_output=True).stdout


def lines(docs):
    return b"".join(json.dumps(d, ensure_ascii=False).encode() + b"\n" for d in docs)


def texts(tag, n):
    # Unicode, escapes, an embedded newline, a list text (joined "\n\n").
    out = []
    for i in range(n):
        t = f"{tag} document {i}: café — 日本語 \"quoted\" tab\there\nsecond line {i * 7919}"
        out.append(t)
    return out


class Corpus:
    def __init__(self, root):
        self.root = root
        self.expected = collections.Counter()  # (component, text, meta json or "") -> copies
        self.docs = collections.Counter()  # component -> documents

    def path(self, rel):
        p = os.path.join(self.root, "data", rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def expect(self, comp, text, meta, epochs):
        self.expected[(comp, text, json.dumps(meta, sort_keys=True) if meta else "")] += epochs
        self.docs[comp] += 1

    def write(self, rel, data):
        with open(self.path(rel), "wb") as f:
            f.write(data)


def make(root):
    c = Corpus(root)

    # Component "Lines" (epochs 2): JSON lines in every codec.
    E = 2
    comp = "Lines"
    for name, enc in [("plain.jsonl", lambda b: b),
                      ("a.jsonl.gz", lambda b: gzip.compress(b, 6)),
                      ("b.jsonl.xz", lzma.compress),
                      ("c.jsonl.bz2", bz2.compress),
                      ("d.jsonl.zst", zstd)]:
        docs = []
        for i, t in enumerate(texts(name, 5)):
            meta = {"src": name, "i": i}
            docs.append({"text": t, "meta": meta})
            c.expect(comp, t, meta, E)
        c.write(f"lines/{name}", enc(lines(docs)))
    # Several zstd frames and several gzip members in one file.
    parts = [texts("multi-frame", 3), texts("multi-frame-2", 2)]
    c.write("lines/multi.jsonl.zst", b"".join(zstd(lines([{"text": t} for t in p])) for p in parts))
    for p in parts:
        for t in p:
            c.expect(comp, t, None, E)
    parts = [texts("multi-member", 2), texts("multi-member-2", 3)]
    c.write("lines/multi.jsonl.gz",
            b"".join(gzip.compress(lines([{"text": t} for t in p])) for p in parts))
    for p in parts:
        for t in p:
            c.expect(comp, t, None, E)
    # lm_dataformat .json.gz: JSON lines of objects and of bare strings; a
    # list text; a blank line.
    js = texts("json.gz", 4)
    body = (json.dumps(js[0]) + "\n" + json.dumps({"text": js[1], "meta": {"k": 1}}) + "\n\n" +
            json.dumps(js[2]) + "\n" + json.dumps({"text": ["part one", "part two"]}) + "\n")
    c.write("lines/e.json.gz", gzip.compress(body.encode()))
    c.expect(comp, js[0], None, E)
    c.expect(comp, js[1], {"k": 1}, E)
    c.expect(comp, js[2], None, E)
    c.expect(comp, "part one\n\npart two", None, E)

    # Component "Array" (epochs 1): lm_dataformat .json.zst, one array of strings.
    arr = texts("array", 6) + ["", "x" * 70000]  # an empty text (skipped), a long one
    c.write("array/f.json.zst", zstd(json.dumps(arr).encode()))
    for t in arr:
        if t:
            c.expect("Array", t, None, 1)
    c.docs["Array"] += 1  # the empty text is a document (counted as empty)

    # Component "Archives" (epochs 1): tar of .jsonl.zst members (as
    # OpenWebText2 ships), tar.gz/tgz with .jsonl, .txt and .json.gz
    # members, a zip with a .jsonl.gz member; directories inside; README
    # members left out by the component's exclude glob.
    comp = "Archives"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        d = tarfile.TarInfo("./owt/"); d.type = tarfile.DIRTYPE; t.addfile(d)
        for k in range(3):
            ts = texts(f"owt member {k}", 3)
            data = zstd(lines([{"text": x, "meta": {"member": k}} for x in ts]))
            ti = tarfile.TarInfo(f"./owt/part{k}.jsonl.zst"); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
            for x in ts:
                c.expect(comp, x, {"member": k}, 1)
        # The same texts in two members: duplicates order by member path.
        for k in ("z", "y"):
            data = lines([{"text": "duplicate across members"}])
            ti = tarfile.TarInfo(f"dups/{k}.jsonl"); ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
            c.expect(comp, "duplicate across members", None, 1)
        readme = b"not data"
        ti = tarfile.TarInfo("owt/README.md"); ti.size = len(readme)
        t.addfile(ti, io.BytesIO(readme))
    c.write("arch/owt.jsonl.zst.tar", buf.getvalue())
    for name, mode in (("x.tar.gz", "w:gz"), ("y.tgz", "w:gz")):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode=mode) as t:
            ts = texts(name, 2)
            data = lines([{"text": x} for x in ts])
            ti = tarfile.TarInfo("in/a.jsonl"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
            for x in ts:
                c.expect(comp, x, None, 1)
            book = f"{name}: a book member\nwith lines".encode()
            ti = tarfile.TarInfo("in/book.txt"); ti.size = len(book); t.addfile(ti, io.BytesIO(book))
            c.expect(comp, book.decode(), None, 1)
            data = gzip.compress(json.dumps(f"{name} json.gz member").encode() + b"\n")
            ti = tarfile.TarInfo("in/c.json.gz"); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
            c.expect(comp, f"{name} json.gz member", None, 1)
        c.write(f"arch/{name}", buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        ts = texts("zip", 3)
        z.writestr("zdir/", b"")
        z.writestr("zdir/a.jsonl.gz", gzip.compress(lines([{"text": x} for x in ts])))
        for x in ts:
            c.expect(comp, x, None, 1)
        z.writestr("zdir/b.txt", "zip text member")
        c.expect(comp, "zip text member", None, 1)
        z.writestr("zdir/README.md", "not data")
    c.write("arch/z.zip", buf.getvalue())

    # Component "Books" (epochs 3): whole texts; a BOM is stripped.
    comp = "Books"
    for name, enc in (("one.txt", lambda b: b), ("two.txt.gz", gzip.compress),
                      ("three.txt.zst", zstd), ("sub/four.txt", lambda b: b)):
        t = f"The book {name}.\n\nChapter 1\n\tIt was a dark night — 夜.\n"
        raw = t.encode()
        if name == "sub/four.txt":
            raw = b"\xef\xbb\xbf" + raw
        c.write(f"books/{name}", enc(raw))
        c.expect(comp, t, None, 3)

    # Component "Stack" (epochs 1): The Stack's key names.
    comp = "Stack"
    docs = []
    for i, t in enumerate(texts("stack", 4)):
        docs.append({"content": t, "metadata": {"lang": "c", "i": i}, "text": "not this"})
        c.expect(comp, t, {"lang": "c", "i": i}, 1)
    c.write("stack/s.jsonl.gz", gzip.compress(lines(docs)))

    expected = {"docs": dict(c.docs),
                "copies": [[k[0], k[1], k[2], n] for k, n in sorted(c.expected.items())]}
    with open(os.path.join(root, "expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False)
    cfg = {
        "name": "formats", "seed": 5,
        "components": [
            {"name": "Lines", "paths": ["data/lines"], "epochs": 2},
            {"name": "Array", "paths": ["data/array"], "epochs": 1},
            {"name": "Archives", "paths": ["data/arch"], "epochs": 1,
             "exclude": ["*/README.md", "*/*/README.md"]},
            {"name": "Books", "paths": ["data/books"], "epochs": 3},
            {"name": "Stack", "paths": ["data/stack/*.jsonl.gz"], "epochs": 1,
             "text_key": "content", "meta_key": "metadata"},
        ],
        "output": {"dir": "out", "train_shards": 3},
        "run": {"mem_per_rank": "64M"},
    }
    with open(os.path.join(root, "config.json"), "w") as f:
        json.dump(cfg, f, indent=1)


def check(root):
    exp = json.load(open(os.path.join(root, "expected.json")))
    want = collections.Counter({(c, t, m): n for c, t, m, n in exp["copies"]})
    got = collections.Counter()
    out = os.path.join(root, "out")
    for p in sorted(glob.glob(os.path.join(out, "train", "*.jsonl.zst"))):
        data = subprocess.run(["zstd", "-dc", p], check=True, capture_output=True).stdout
        for line in data.decode().splitlines():
            d = json.loads(line)
            meta = dict(d["meta"])
            comp = meta.pop("pile_set_name")
            got[(comp, d["text"], json.dumps(meta, sort_keys=True) if meta else "")] += 1
    problems = []
    for k in sorted(set(want) | set(got)):
        if want[k] != got[k]:
            problems.append(f"{k[0]}: {k[1][:50]!r} meta {k[2][:40]}: want {want[k]} copies, got {got[k]}")
    man = json.load(open(os.path.join(out, "manifest.json")))
    for comp in man["components"]:
        if comp["documents"] != exp["docs"].get(comp["name"]):
            problems.append(f"manifest: {comp['name']} has {comp['documents']} documents, "
                            f"want {exp['docs'].get(comp['name'])}")
    for p in problems[:20]:
        print("formats_corpus: " + p, file=sys.stderr)
    if problems:
        print(f"formats_corpus: {len(problems)} problems", file=sys.stderr)
        return 1
    print(f"formats_corpus: {sum(want.values())} copies of {len(want)} documents, all as expected")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("make", "check"):
        sys.exit(__doc__)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
