#!/usr/bin/env python3
"""Checks of a `pilemix report` page, as rendered by a browser.

usage: check_report.py MANIFEST REPORT.html DOM.html SCREENSHOT.png

  - the page references nothing outside itself: no script, link, img,
    iframe, object, @import or url(); no attribute holds an http(s):// or
    protocol-relative address (such text may only appear as text);
  - in the browser's DOM: every component's name (as text, so escaping
    worked) and its realized share of train text in the mix table and on
    its bar; the number of bars of each chart (<rect class="bar ..."
    data-chart=...>) as the manifest implies (report.h says how many);
  - the screenshot is a real page: a PNG (decoded here with zlib alone)
    with many distinct colours and a good part of non-background pixels.
Prints one line per check; exits 1 if any failed."""
import html
import html.parser
import json
import re
import struct
import sys
import zlib

failures = 0


def check(cond, what):
    global failures
    print(("ok - " if cond else "not ok - ") + what)
    if not cond:
        failures += 1


def pct(frac):
    """The report's share format (report.c: pct)."""
    p = 100 * frac
    if p == 0:
        return "0%"
    if p < 0.1:
        return "<0.1%"
    return f"{p:.2f}%" if p < 10 else f"{p:.1f}%"


class Page(html.parser.HTMLParser):
    """Elements, attributes and text of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []  # (tag, attrs dict)
        self.text = []
        self.stack = []
        self.rows = []  # (section id, [cell texts]) of every <tr>
        self.section = None
        self.cell = None
        self.row = None
        self.svg_texts = []  # (section, text) of SVG <text>
        self.in_svg_text = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self.section = a.get("id")
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "text":
            self.in_svg_text = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append((self.section, self.row))
            self.row = None
        elif tag == "text" and self.in_svg_text is not None:
            self.svg_texts.append((self.section, "".join(self.in_svg_text)))
            self.in_svg_text = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.in_svg_text is not None:
            self.in_svg_text.append(data)


def parse(text):
    p = Page()
    p.feed(text)
    p.close()
    return p


def check_offline(raw):
    page = parse(raw)
    bad_tags = [t for t, a in page.tags if t in ("script", "link", "img", "iframe", "object",
                                                  "embed", "image", "use", "audio", "video",
                                                  "source", "base", "form")]
    check(not bad_tags, f"no script, link, img or other loading element ({bad_tags[:3]})")
    addr = re.compile(r"^\s*(https?:|//|ftp:|data:|file:)", re.I)
    bad_attrs = [(t, k, v) for t, a in page.tags for k, v in a.items()
                 if v and (addr.search(v) or "url(" in v.lower())]
    check(not bad_attrs, f"no attribute refers to an address ({bad_attrs[:2]})")
    styles = re.findall(r"<style>(.*?)</style>", raw, re.S)
    check(len(styles) == 1 and not re.search(r"@import|url\(|https?://", styles[0]),
          "the one inline style sheet imports and loads nothing")
    # Anywhere else, an address may only be text of the data (escaped).
    outside_text = re.sub(r">[^<]*<", "><", raw)
    check(not re.search(r"https?://", outside_text), "no http(s):// outside text")


def expected_bars(man):
    comps = man["components"]
    n = len(comps)
    lo, hi = 99, -1
    for c in comps:
        for a in c.get("doc_length_log2", {}).values():
            for k, v in enumerate(a):
                if v:
                    lo, hi = min(lo, k), max(hi, k)
    shards = sum(1 for f in man["files"] if f["split"] == "train")
    reasons = {}
    for c in comps:
        def add(name, v):
            if v:
                reasons[name] = reasons.get(name, 0) + v
        for k, v in c["bad_records"]["by_reason"].items():
            add("bad:" + k, v)
        add("dups", c["holdout_duplicates"]["val"] + c["holdout_duplicates"]["test"])
        add("empty", c["empty_documents"])
        add("blank", c["blank_lines"])
    return {
        "mix": 2 * n,
        "split": 3 * n,
        "length": n * (hi - lo + 1) if hi >= 0 else 0,
        "shard": shards if shards <= 240 else 30,
        "removed": n * len(reasons),
    }


def check_dom(man, dom):
    page = parse(dom)
    text = "".join(page.text)
    comps = man["components"]
    total = sum(c["emitted_text_bytes_train"] for c in comps)
    mix_rows = {r[0]: r for s, r in page.rows if s == "mix" and r}
    mix_labels = [t for s, t in page.svg_texts if s == "mix"]
    for c in comps:
        name = c["name"]
        share = pct(c["emitted_text_bytes_train"] / total if total else 0)
        check(name in text, f"component {name!r} appears in the DOM as text")
        row = mix_rows.get(name)
        check(row is not None and len(row) >= 5 and row[4] == share,
              f"mix table: {name!r} realized share {share} (row {row})")
        check(share in mix_labels, f"mix chart: a bar label {share} for {name!r}")
    bars = {}
    for t, a in page.tags:
        if t == "rect" and "bar" in a.get("class", "").split():
            bars[a.get("data-chart")] = bars.get(a.get("data-chart"), 0) + 1
    for chart, n in expected_bars(man).items():
        check(bars.get(chart, 0) == n, f"chart {chart}: {bars.get(chart, 0)} bars, expected {n}")
    sections = [a.get("id") for t, a in page.tags if t == "section"]
    check(sections == ["mix", "splits", "lengths", "shards", "removed", "config"],
          f"sections in order ({sections})")


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, [], 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, "unexpected PNG format"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pr) & 0xFF
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


def check_screenshot(path):
    w, h, bpp, rows = png_pixels(path)
    colours = {}
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            px = row[x:x + 3]
            colours[px] = colours.get(px, 0) + 1
    sampled = sum(colours.values())
    background, bg_count = max(colours.items(), key=lambda kv: kv[1])
    other = 1 - bg_count / sampled
    print(f"screenshot {w}x{h}: {len(colours)} distinct colours sampled, background "
          f"#{background.hex()}, {100 * other:.1f}% other pixels")
    check(len(colours) > 200, "the screenshot has many colours (not blank)")
    check(other > 0.05, "more than 5% of the screenshot is not background")
    # Each component colour of the palette is on screen (bars are drawn).
    palette = ["4e79a7", "f28e2b", "e15759", "76b7b2", "59a14f"]
    seen = {c.hex() for c in colours}
    check(all(p in seen for p in palette[:5]), "the first component colours are on screen")


def main():
    man_path, report, dom, png = sys.argv[1:5]
    man = json.load(open(man_path))
    check_offline(open(report, encoding="utf-8").read())
    check_dom(man, open(dom, encoding="utf-8").read())
    check_screenshot(png)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
