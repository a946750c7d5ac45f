"""The docs site: its front page is the README, and every page is in the navigation."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_front_page_is_the_readme():
    sync = load_script(ROOT / "scripts" / "sync_docs_index.py")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "index.md").read_text(encoding="utf-8") == \
        sync.site_front_page(readme), "run: python scripts/sync_docs_index.py"


def test_front_page_links_point_inside_the_site():
    sync = load_script(ROOT / "scripts" / "sync_docs_index.py")
    page = sync.site_front_page("[a](docs/tour.md) [b](BENCHMARKS.md#x) [c](https://x.org/docs/y)")
    assert page == "[a](tour.md) [b](benchmarks.md#x) [c](https://x.org/docs/y)"


def test_every_docs_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r":\s*([\w\-]+\.md)\s*$", nav, re.M))
    pages = {p.name for p in (ROOT / "docs").glob("*.md")}
    assert pages - listed == set() and listed - pages == set()


def test_readme_front_page_stays_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 300
