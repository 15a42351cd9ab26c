#!/usr/bin/env python3
"""ci/check_bundle.py BUNDLE [--screenshots DIR]: does a results bundle, as ci/collect_artifacts.sh
gathers it, hold what its pages link? Every relative href and src of every HTML page in BUNDLE must
name a file or directory inside BUNDLE (external and in-page links are not followed). With
--screenshots, headless Chromium (Debian's `chromium`) renders each page to a PNG there, as a
release manager would first see it. One line per broken link; exit 1 when any, 2 on bad input.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

SHOT_TIMEOUT = 60


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("href", "src") and v]


def links(page: Path) -> list[str]:
    p = _Links()
    p.feed(page.read_text(errors="replace"))
    return p.links


def broken(bundle: Path, pages: dict[Path, list[str]] | None = None) -> list[str]:
    """`page: href` for every relative link that does not resolve inside the bundle
    (`pages`: each page's links, when the caller read them already)."""
    root = bundle.resolve()
    out = []
    for page, hrefs in (pages if pages is not None else read_pages(bundle)).items():
        for href in hrefs:
            u = urlparse(href)
            if u.scheme or u.netloc or not u.path:          # external, data:, or #in-page
                continue
            target = (page.parent / unquote(u.path)).resolve()
            if not target.is_relative_to(root) or not target.exists():
                out.append(f"{page.relative_to(bundle)}: {href}")
    return out


def read_pages(bundle: Path) -> dict[Path, list[str]]:
    return {page: links(page) for page in sorted(bundle.rglob("*.html"))}


def screenshot(page: Path, png: Path) -> str | None:
    """Render `page` with headless Chromium; the problem in one line, or None."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        return "chromium not found: apt-get install --no-install-recommends chromium"
    try:
        # Allure's page loads its data with fetch(): allowed from file:// only with the flag, and
        # given virtual time to finish before the shot
        r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--allow-file-access-from-files", "--virtual-time-budget=15000",
                            "--window-size=1400,1600", f"--screenshot={png}", page.resolve().as_uri()],
                           capture_output=True, text=True, timeout=SHOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"chromium did not render {page} in {SHOT_TIMEOUT} s"
    return None if r.returncode == 0 and png.exists() else f"chromium exited {r.returncode}: {r.stderr[-200:]}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ci/check_bundle.py", description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--screenshots", metavar="DIR")
    args = ap.parse_args(argv)
    bundle = Path(args.bundle)
    if not bundle.is_dir():
        print(f"check_bundle: {bundle}: not a directory (run ci/collect_artifacts.sh first)", file=sys.stderr)
        return 2
    pages = read_pages(bundle)
    bad = broken(bundle, pages)
    for line in bad:
        print(f"broken link: {line}")
    if args.screenshots:
        shots = Path(args.screenshots)
        shots.mkdir(parents=True, exist_ok=True)
        for page in pages:
            name = str(page.relative_to(bundle)).replace("/", "_").removesuffix(".html") + ".png"
            if problem := screenshot(page, shots / name):
                print(f"check_bundle: {problem}", file=sys.stderr)
                return 2
    print(f"check_bundle: {len(pages)} page(s), {sum(map(len, pages.values()))} link(s), {len(bad)} broken",
          file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
