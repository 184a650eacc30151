#!/usr/bin/env bash
# test_report_render.sh: the review material as a person sees it: review.html rendered by headless
# Chromium to PDF (kiroku-hub report --pdf) and to a PNG screenshot; the PDF has the expected pages and
# sections, the PNG is not blank. Needs Debian's chromium and poppler-utils (scripts/install-deps.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHROMIUM=${KIROKU_CHROMIUM:-/usr/bin/chromium}
[[ -x "$CHROMIUM" ]] || fail "chromium is not installed ($CHROMIUM): run scripts/install-deps.sh"
command -v pdfinfo >/dev/null || fail "pdfinfo is not installed (poppler-utils): run scripts/install-deps.sh"

step "a year of records at 12 facilities"
run hub init
assert_ok
run hub demo-data --facilities 12 --year 2026
assert_ok

step "report --pdf writes review.pdf beside review.html"
run hub report --period 2026-04-01..2027-03-31 --today 2026-11-22 --out "$T/out" --pdf
assert_ok
assert_contains "$OUT" "review.pdf"
[[ -s "$T/out/review.pdf" ]] || fail "no review.pdf"
pages=$(pdfinfo "$T/out/review.pdf" | sed -n 's/^Pages: *//p')
# The first page, one page per section of the management review (items 2 to 9), and the annex.
(( pages >= 9 && pages <= 60 )) || fail "review.pdf has $pages pages, expected 9 to 60"
text=$(pdftotext -layout "$T/out/review.pdf" -)
for heading in 総合評価 第2号 第3号 第4号 第7号 第8号 第9号; do
	assert_contains "$text" "$heading" "the PDF's text"
done
# A4 portrait first page (595 x 842 pt, rounded).
assert_contains "$(pdfinfo -f 1 -l 1 "$T/out/review.pdf" | grep 'Page    1 size')" '(A4)' "page size"

step "report --pdf says clearly when Chromium is missing"
run env KIROKU_CHROMIUM=/nonexistent/chromium "$KIROKU_HUB" --data-dir "$T/hub" report --period 2026-04-01..2027-03-31 \
	--out "$T/out2" --pdf
assert_rc 3
assert_contains "$ERR" "needs Chromium"
[[ -s "$T/out2/review.html" ]] || fail "the HTML should still be written"

step "a screenshot of the first screen is not blank"
run "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
	--disable-component-update --disable-sync --user-data-dir="$T/profile" --window-size=1280,1800 \
	--screenshot="$T/first.png" "file://$T/out/review.html"
[[ -s "$T/first.png" ]] || fail "no screenshot (chromium exit $RC): $ERR"
run /usr/bin/python3 - "$T/first.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, width, height, colour = 8, b"", 0, 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, colour = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw = zlib.decompress(idat)
channels = {2: 3, 6: 4}.get(colour, 1)
stride = width * channels
# Undo the PNG row filters (None, Sub, Up, Average, Paeth) to get the pixels.
prev, rows = bytearray(stride), []
for y in range(height):
    kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - channels] if i >= channels else 0
        b, c = prev[i], prev[i - channels] if i >= channels else 0
        if kind == 1: line[i] = (line[i] + a) & 255
        elif kind == 2: line[i] = (line[i] + b) & 255
        elif kind == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
# A row holds ink when, leaving out the scroll bar at the right, it has at least three colours.
def colours(r):
    return len({r[i:i + channels] for i in range(0, (width - 24) * channels, channels)})
inked = sum(1 for r in rows if colours(r) >= 3)
print(f"{width}x{height}, {inked} rows with ink")
sys.exit(0 if inked > height // 10 else 1)
PY
assert_ok
echo "screenshot: $OUT"
