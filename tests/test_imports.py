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
