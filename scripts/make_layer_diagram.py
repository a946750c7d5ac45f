"""Draw docs/images/layers.png: cnn's sub-packages by layer, with every import between them.

The arrows are read from the code (each module's imports, at the top or inside a function),
so the picture shows what is, not what was meant; tests/test_architecture.py checks that no
arrow points up. Run: ``python scripts/make_layer_diagram.py [OUT.png]``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = [  # top to bottom: (package, what it holds)
    [("cli", "argparse, subcommands, menu")],
    [("server", "FastAPI app, page")],
    [("tasks", "train, predict, ensembles,\ngate, visualize, metrics")],
    [("io", "weights, ONNX, catalog"), ("data", "MNIST, CSV, folders,\naugment"),
     ("vision", "photo pipeline\nby stage")],
    [("nn", "modules, layers, model,\nim2col, losses, optim")],
    [("parallel", "threads, allocator")],
    [("(root)", "errors, files, faults")],
]


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (ROOT / "cnn" / parts[1]).is_dir() else "(root)"


def package_edges() -> set[tuple[str, str]]:
    """(importer, imported) pairs of cnn sub-packages, from every module's import statements."""
    edges = set()
    for path in (ROOT / "cnn").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cnn"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("cnn")]
            else:
                continue
            for t in targets:
                a, b = package_of(name), package_of(t)
                if a != b and "(root)" not in (a,) and not name.endswith("_moved"):
                    edges.add((a, b))
    return edges


def draw(out: Path) -> None:
    fig, ax = plt.subplots(figsize=(9, 8.5))
    ax.set_xlim(0, 9)
    ax.set_ylim(0, len(ROWS) * 1.2)
    ax.axis("off")
    centre = {}
    for r, row in enumerate(ROWS):
        y = (len(ROWS) - r - 1) * 1.2 + 0.6
        for i, (pkg, what) in enumerate(row):
            x = (i + 0.5) * 9 / len(row)
            centre[pkg] = (x, y)
            ax.add_patch(plt.Rectangle((x - 1.25, y - 0.38), 2.5, 0.76, fc="#eef3fb", ec="#34589e",
                                        zorder=3))
            ax.text(x, y + 0.14, f"cnn.{pkg}" if pkg != "(root)" else "cnn", ha="center",
                    va="center", fontsize=11, weight="bold", zorder=4)
            ax.text(x, y - 0.15, what, ha="center", va="center", fontsize=7.5, zorder=4)
    for a, b in sorted(package_edges()):
        (xa, ya), (xb, yb) = centre[a], centre[b]
        up = yb > ya
        rows = round(abs(ya - yb) / 1.2)  # arrows that skip rows bend around the boxes between
        bend = 0.0 if rows <= 1 or xa != xb else 0.12 + 0.05 * rows
        ax.annotate("", xy=(xb + 0.9 * (xa - xb) / 9, yb + (0.38 if yb < ya else -0.38)),
                    xytext=(xa, ya - (0.38 if yb < ya else -0.38)),
                    arrowprops=dict(arrowstyle="->", color="red" if up else "#555555", lw=1.0,
                                    alpha=0.6, connectionstyle=f"arc3,rad={bend}"), zorder=1)
    ax.set_title("cnn: imports point down (every arrow is an import found in the code)",
                 fontsize=11)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    print(f"wrote {out}")


if __name__ == "__main__":
    draw(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "layers.png")
