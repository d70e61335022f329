import subprocess
import sys


def test_packages_import_without_heavy_frameworks():
    code = (
        "import sys, kernels, theory, proofs_check, proofs_check.registry;"
        "proofs_check.registry.load_all();"
        "print(','.join(m for m in ('torch', 'jax', 'tensorflow', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing the packages pulled in {out}"


def test_public_names_resolve():
    import kernels
    import theory

    for module in (kernels, theory):
        for name in module.__all__:
            assert getattr(module, name) is not None, name


def _imported_packages(path):
    import ast

    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]


def test_imports_point_down():
    """proofs_check -> theory -> kernels: no module imports a layer above its own."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    above = {"kernels": {"theory", "proofs_check", "figures", "benchmarks"},
             "theory": {"proofs_check", "figures", "benchmarks"},
             "proofs_check": {"figures", "benchmarks"}}
    offenders = []
    for layer, forbidden in above.items():
        for path in (root / layer).rglob("*.py"):
            bad = forbidden.intersection(_imported_packages(path))
            if bad:
                offenders.append(f"{path.relative_to(root)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def test_topic_packages_cite_their_paper_and_list_all():
    import importlib

    arxiv = {"ntk": "2204.14126", "dkm": "2108.13097", "pac_bayes": "2310.03957", "nb_lr": "2302.02334",
             "inductive_bias": "2406.15941"}
    for layer, topics in {"kernels": ("ntk", "dkm"), "theory": ("ntk", "dkm", "pac_bayes", "nb_lr", "inductive_bias")}.items():
        for topic in topics:
            module = importlib.import_module(f"{layer}.{topic}")
            assert arxiv[topic] in (module.__doc__ or ""), f"{layer}.{topic} must open with its paper"
            assert module.__all__ and all(hasattr(module, n) for n in module.__all__), f"{layer}.{topic}.__all__"
