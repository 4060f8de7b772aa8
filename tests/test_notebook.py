"""notebooks/edf_analysis.ipynb executes without a failing cell (nbclient, this venv's python)."""
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from designspace.analysis.synthetic import find_store, write_synthetic_store

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "edf_analysis.ipynb"
KERNEL = "designspace-test-python"


@pytest.fixture()
def kernel_of_this_python(tmp_path, monkeypatch):
    """A kernelspec running this interpreter (the venv's), found first through JUPYTER_PATH."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "designspace test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return KERNEL


def test_notebook_executes(tmp_path, monkeypatch, kernel_of_this_python):
    db = str(tmp_path / "results.db")
    write_synthetic_store(db, spaces=("AnyNetXA", "AnyNetXE", "RegNetX"), n=60, seed=0, failed=0.05)
    monkeypatch.setenv("DESIGNSPACE_DB", db)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(nb, kernel_name=kernel_of_this_python, timeout=120,
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)  # figures were drawn
    text = "".join(o.get("text", "") for o in outputs)
    assert f"store: {db}" in text and "best space:" in text


def test_find_store_prefers_env_then_demo_then_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("DESIGNSPACE_DB", "/some/where.db")
    assert find_store()[0] == "/some/where.db"
    monkeypatch.delenv("DESIGNSPACE_DB")
    demo = str(tmp_path / "demo.db")
    write_synthetic_store(demo, spaces=("AnyNetXE",), n=5)
    assert find_store(candidates=(str(tmp_path / "missing.db"), demo)) == (demo, "demo sweep")
    path, origin = find_store(candidates=(str(tmp_path / "missing.db"),), n=5)
    assert os.path.exists(path) and origin.startswith("synthetic")
