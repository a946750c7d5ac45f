"""Write docs/index.md, the docs site's front page, from README.md with its links rewritten for
the site (``docs/x.md`` -> ``x.md``, ``BENCHMARKS.md`` -> ``benchmarks.md``); tests/test_docs.py
checks that the two agree. Run: ``python scripts/sync_docs_index.py``."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def site_front_page(readme: str) -> str:
    """README.md's text with its links pointing inside the docs folder."""
    text = re.sub(r"\]\(docs/", "](", readme)
    return re.sub(r"\]\(BENCHMARKS\.md", "](benchmarks.md", text)


if __name__ == "__main__":
    out = ROOT / "docs" / "index.md"
    out.write_text(site_front_page((ROOT / "README.md").read_text(encoding="utf-8")),
                   encoding="utf-8")
    print(f"wrote {out}")
