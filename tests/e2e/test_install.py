"""seqnet as an installed library: a wheel built from this tree and the example project
(examples/custom_cell) installed into a fresh virtual environment, used from other folders.

The environment reuses the packages of the interpreter running the tests (torch, hydra, ...)
through a ``.pth`` file naming its site-packages folders, so it works the same whether pytest runs
in a virtual environment, a conda environment or a system interpreter, and nothing is downloaded.
(``--system-site-packages`` would link the *base* interpreter's site-packages, which inside a
virtual environment lacks everything the user installed there.) Those folders may hold an editable
seqnet; a ``.pth`` line adds a folder without running the ``.pth`` files in it, so the editable
install's finder stays out, every check first proves that the seqnet it runs is the wheel's, and
every command runs with PYTHONPATH unset.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from helpers.processes import declare_plugin

ROOT = Path(__file__).resolve().parents[2]
#: What a wheel of seqnet is built from (setup.py maps configs/ into the package).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "src", "configs")
#: A few seconds per run: overrides accepted by every model and the adding task.
SHRINK = [
    "model.hidden_size=8",
    "data.seq_len=10",
    "data.val_size=16",
    "data.batch_size=8",
    "trainer.max_steps=4",
    "trainer.val_every_n_steps=2",
    "grad_log.every_n_steps=2",
    "grad_log.batch_size=8",
]
QUIET = ["trainer.progress_bar=false"]  # excluded from the run folder's name
#: Every console script loads plugins before its first use of a registry (seqnet-compare for
#: the plugins' gradient summaries), so with a broken plugin it stops at that, whatever its
#: arguments (these would fail later).
PLUGIN_PROBE_ARGS = ["ckpt=missing.pt"]

pytestmark = pytest.mark.slow


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def run_all(
    commands: list[list[str]], cwd: Path, env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Several commands at once (each mostly one thread importing torch and Hydra, so the
    machine's cores share them), their results in the commands' order."""
    procs = [
        subprocess.Popen(
            c, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    results = []
    for command, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return results


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


def copy_tree(src: Path, dst: Path) -> None:
    junk = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "outputs")
    if src.is_dir():
        shutil.copytree(src, dst, ignore=junk)
    else:
        shutil.copy2(src, dst)


def section_keys(text: str, section: str) -> set[str]:
    """The keys of one ``[section]`` of an INI or TOML file."""
    body = text.split(f"[{section}]", 1)[1].split("\n[", 1)[0]
    return set(re.findall(r"^([\w.-]+)\s*=", body, flags=re.MULTILINE))


def project_scripts() -> set[str]:
    """The console scripts named in this tree's pyproject.toml ([project.scripts])."""
    return section_keys((ROOT / "pyproject.toml").read_text(), "project.scripts")


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Wheels of seqnet and the example project, installed into a new virtual environment."""
    tmp = tmp_path_factory.mktemp("install")
    source, example = tmp / "seqnet", tmp / "custom_cell"
    source.mkdir()
    for name in BUILD_INPUTS:
        copy_tree(ROOT / name, source / name)
    copy_tree(ROOT / "examples" / "custom_cell", example)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HYDRA_FULL_ERROR")}
    env["OMP_NUM_THREADS"] = (
        "1"  # beside other processes on a small machine (see tests/helpers/processes.py)
    )
    env["PIP_NO_INDEX"] = "1"  # everything needed is installed already
    dist = tmp / "dist"
    wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    ok(run([*wheel, "-w", str(dist), str(source), str(example)], tmp, env))
    wheels = sorted(dist.glob("*.whl"))
    assert [w.name.split("-")[0] for w in wheels] == ["seqnet", "seqnet_example_cell"]

    prefix = tmp / "venv"
    ok(run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], tmp, env))
    site = Path(sysconfig.get_path("purelib", vars={"base": str(prefix)}))
    (site / "reuse_test_packages.pth").write_text("\n".join(map(str, package_folders())) + "\n")
    scripts = Path(sysconfig.get_path("scripts", vars={"base": str(prefix)}))
    python = scripts / Path(sys.executable).name
    # This environment's pip, run by the venv's interpreter, installs into the venv only (it
    # reports any seqnet outside the venv as "outside environment" and leaves it alone).
    install = [str(python), "-m", "pip", "install", "--no-deps", "--force-reinstall"]
    ok(run([*install, *map(str, wheels)], tmp, env))
    env["PATH"] = f"{scripts}{os.pathsep}{env['PATH']}"
    work = tmp / "work"  # "another folder": neither the checkout nor the venv
    work.mkdir()
    return SimpleNamespace(
        prefix=prefix, python=str(python), scripts=scripts, env=env, work=work, example=example
    )


def package_folders() -> list[Path]:
    """The folders this interpreter imports installed packages from: its site-packages (a venv's,
    a conda environment's or the system's, with the base interpreter's where a venv includes
    them) and the user site, in the order it searches them."""
    candidates = [*sys.path, sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    folders: list[Path] = []
    for entry in candidates:
        path = Path(entry) if entry else None
        site = path and path.name in ("site-packages", "dist-packages") and path.is_dir()
        if site and path.resolve() not in [f.resolve() for f in folders]:
            folders.append(path)
    return folders


def fresh_folder(venv: SimpleNamespace, name: str) -> Path:
    folder = venv.work / name
    folder.mkdir()
    return folder


def only_run(cwd: Path) -> Path:
    (run_dir,) = (cwd / "outputs" / "runs").iterdir()
    return run_dir


def files_under(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def saved_config(run_dir: Path) -> dict:
    return yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text())


# ---------------------------------------------------------------------------- the install

#: A Python process in another folder: where seqnet and its configs come from, then two runs
#: with seqnet.run (the default experiment, and the example's experiment via config_dir).
PYTHON_SESSION = """
import json, sys, seqnet, seqnet.config
shrink, conf = json.loads(sys.argv[1]), sys.argv[2]
runs = [seqnet.run(shrink), seqnet.run(['experiment=leaky_long', *shrink], config_dir=conf)]
print(json.dumps({
    'seqnet': seqnet.__file__,
    'configs': str(seqnet.config.CONFIG_DIR),
    'runs': [[str(r.run_dir), r.metrics, r.config['model']] for r in runs],
}))
"""


@pytest.fixture(scope="module")
def python_session(venv: SimpleNamespace) -> tuple[Path, dict]:
    cwd = fresh_folder(venv, "python")
    args = [json.dumps([*SHRINK, *QUIET]), str(venv.example / "conf")]
    result = ok(run([venv.python, "-c", PYTHON_SESSION, *args], cwd, venv.env))
    return cwd, json.loads(result.stdout.strip().splitlines()[-1])


def test_installed_package_and_configs_come_from_the_wheel(
    venv: SimpleNamespace, python_session: tuple[Path, dict]
) -> None:
    _, found = python_session
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv.prefix)}))
    assert Path(found["seqnet"]) == site / "seqnet" / "__init__.py"
    assert Path(found["configs"]) == site / "seqnet" / "configs"
    # Every file of the top-level configs/ ships, and nothing else.
    assert files_under(site / "seqnet" / "configs") == files_under(ROOT / "configs")
    # The C++ kernels' sources ship, to be compiled at first use.
    csrc = Path("seqnet", "models", "kernels", "csrc")
    assert files_under(site / csrc) == files_under(ROOT / "src" / csrc) != []
    # The wheel declares the console scripts of pyproject.toml.
    (info,) = site.glob("seqnet-*.dist-info")
    entry_points = (info / "entry_points.txt").read_text()
    assert section_keys(entry_points, "console_scripts") == project_scripts()
    assert {"seqnet-train", "seqnet-compare", "seqnet-grads"} <= project_scripts()


def test_every_console_script_answers_help(venv: SimpleNamespace) -> None:
    scripts = sorted(project_scripts())
    commands = [[str(venv.scripts / script), "--help"] for script in scripts]
    for script, result in zip(scripts, run_all(commands, venv.work, venv.env), strict=True):
        ok(result)
        assert "Traceback" not in result.stderr, script
        if script == "seqnet-train":  # the config groups, the plugin's model among them
            (models,) = re.findall(r"^model: (.*)$", result.stdout, flags=re.MULTILINE)
            assert {"example_cell", "lstm", "gru", "rnn"} <= set(models.split(", "))
        else:  # the small commands' own usage line
            assert result.stdout.startswith(f"usage: {script} "), script


# ---------------------------------------------------------------------------- runs


def test_default_run_from_another_folder(venv: SimpleNamespace) -> None:
    cwd = fresh_folder(venv, "default")
    result = ok(run([str(venv.scripts / "seqnet-train"), *SHRINK, *QUIET], cwd, venv.env))
    run_dir = only_run(cwd)  # ./outputs of the folder it ran in
    assert f"run directory: {run_dir}" in result.stdout
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 4
    assert saved_config(run_dir)["model"]["name"] == "lstm"
    assert (run_dir / "checkpoints" / "last.pt").is_file()


def test_plugin_model_trains_and_its_checkpoint_profiles(venv: SimpleNamespace) -> None:
    cwd = fresh_folder(venv, "plugin_model")
    train = [str(venv.scripts / "seqnet-train"), "model=example_cell", "model.leak=0.25"]
    ok(run([*train, *SHRINK, *QUIET], cwd, venv.env))
    run_dir = only_run(cwd)
    assert saved_config(run_dir)["model"] == {
        "name": "example_cell",
        "hidden_size": 8,
        "num_layers": 1,
        "dropout": 0.0,
        "encoder_size": 32,
        "bidirectional": False,
        "compile": False,
        "leak": 0.25,
    }
    # seqnet-grads rebuilds the plugin's model from the checkpoint (it loads plugins too).
    out = cwd / "grads.json"
    grads = [str(venv.scripts / "seqnet-grads"), f"ckpt={run_dir}/checkpoints/last.pt"]
    ok(run([*grads, f"out={out}", "batch_size=8"], cwd, venv.env))
    profile = json.loads(out.read_text())
    assert (profile["model"], profile["step"], profile["seq_len"]) == ("example_cell", 4, 10)
    # The same probe batch and weights as the profile training logged at its last step.
    with np.load(run_dir / "gradients.npz") as logged:
        assert logged["steps"].tolist() == [0, 2, 4]
        np.testing.assert_allclose(profile["norms"]["h_l0"], logged["h_l0"][-1], rtol=1e-6)
    # seqnet-compare reads the run folder (--no-group: the run by its name, not as a group).
    figure = cwd / "compare.png"
    compare = [str(venv.scripts / "seqnet-compare"), str(run_dir), "--no-group"]
    result = ok(run([*compare, f"--out={figure}"], cwd, venv.env))
    assert figure.stat().st_size > 0
    assert run_dir.name in result.stdout


def test_user_experiment_through_config_dir(venv: SimpleNamespace) -> None:
    cwd = venv.example  # the user's project folder, with conf/experiment/leaky_long.yaml
    command = [str(venv.scripts / "seqnet-train"), "--config-dir", "conf", "experiment=leaky_long"]
    ok(run([*command, *SHRINK, *QUIET], cwd, venv.env))
    config = saved_config(only_run(cwd))
    assert (config["model"]["name"], config["model"]["leak"]) == ("example_cell", 0.2)
    assert config["grad_log"]["dtype"] == "float64"  # from the experiment
    assert config["data"]["seq_len"] == 10  # the command line comes last


def test_seqnet_run_in_a_python_process(python_session: tuple[Path, dict]) -> None:
    cwd, found = python_session
    runs = found["runs"]
    assert sorted(Path(r[0]) for r in runs) == sorted((cwd / "outputs" / "runs").iterdir())
    for run_dir, metrics, model in runs:
        assert metrics == json.loads((Path(run_dir) / "metrics.json").read_text())
        assert model == saved_config(Path(run_dir))["model"]
    assert [model["name"] for _, _, model in runs] == ["lstm", "example_cell"]
    assert runs[1][2]["leak"] == 0.2


# ---------------------------------------------------------------------------- a broken plugin


def test_plugin_that_raises_on_import_is_one_line(venv: SimpleNamespace) -> None:
    """A package whose seqnet.plugins module raises: every command says so in one line (entry
    point, module, error), before any work."""
    broken = venv.work / "broken_site"
    declare_plugin(broken, "broken-plugin", "broken", "broken_plugin")
    (broken / "broken_plugin.py").write_text("raise RuntimeError('boom on import')\n")
    env = {**venv.env, "PYTHONPATH": str(broken)}  # the plugin only; seqnet is still the wheel's
    cwd = fresh_folder(venv, "broken")

    scripts = sorted(project_scripts())
    commands = [[str(venv.scripts / script), *PLUGIN_PROBE_ARGS] for script in scripts]
    for script, result in zip(scripts, run_all(commands, cwd, env), strict=True):
        assert result.returncode != 0, script
        assert result.stderr.splitlines() == [
            f"{script}: error: plugin 'broken' (module broken_plugin) failed to import: "
            "RuntimeError: boom on import. Fix it or uninstall the package that declares it "
            "(entry point group 'seqnet.plugins')"
        ]
    assert not (cwd / "outputs").exists()
