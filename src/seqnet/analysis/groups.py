"""Groups of runs: the runs of a sweep that differ only in ``seed`` (by default), so that their
spread can be described and groups compared.

``group_runs(runs)`` puts runs with equal values of every config key except ``seed`` in one
group; ``group_runs(runs, by=["model.name"])`` groups by the given keys only (``model`` is short
for ``model.name``, ``data`` for ``data.name``, ``optim`` for the optimizer's class). A group's
label names the grouping keys whose values differ between the groups (``model.name=gru``).

A group's runs must be comparable timestep by timestep: ``check_group`` refuses, by name, a group
whose profiles were measured with different probe settings (``grad_log.*``, the probe batch),
at different training steps or over different lengths; it never averages them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from seqnet.analysis.labels import COMMON_LABEL, differing_keys, format_item, label_keys
from seqnet.analysis.runs import AnalysisError, Run

#: What varies between the runs of a group by default.
SEED_KEY = "seed"
#: Short names for the choice of a config group.
SHORTHANDS = {"model": "model.name", "data": "data.name", "optim": "optim._target_"}
#: The config keys that say how profiles are measured: equal within a group.
PROBE_PREFIX = "grad_log."
_ABSENT = "<absent>"


@dataclass
class Group:
    """Runs that share the grouping keys' values (``keys``)."""

    #: The grouping keys that set it apart (``seqnet.analysis.labels.label_keys``).
    label: str
    keys: dict[str, Hashable]  # the grouping keys whose values differ between groups
    runs: list[Run]
    #: Those of ``keys`` that its label names.
    named: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def quantities(self) -> list[str]:
        """The probed quantities every run of the group logged (an LSTM's ``c_l0`` is not
        there when the group mixes LSTMs and GRUs)."""
        first = self.runs[0].norms
        return [q for q in first if all(q in run.norms for run in self.runs)]

    @property
    def seeds(self) -> list[Hashable]:
        return [run.config.get(SEED_KEY) for run in self.runs]


def resolve_keys(keys: Sequence[str], runs: Sequence[Run]) -> list[str]:
    """``--group-by`` keys as config keys (shorthands expanded), each checked against the runs."""
    known = {k for run in runs for k in run.config}
    resolved = []
    for key in keys:
        name = key if key in known else SHORTHANDS.get(key, key)
        if name not in known:
            varying = ", ".join(differing_keys([r.config for r in runs])) or "none"
            raise AnalysisError(
                f"--group-by {key}: no run has this config key; keys that differ between the "
                f"runs: {varying}"
            )
        resolved.append(name)
    return resolved


def group_runs(runs: Sequence[Run], by: Sequence[str] | None = None) -> list[Group]:
    """The runs in groups, in the order their first runs come; ``by`` None: every key but seed."""
    if by is None:
        keys = list(dict.fromkeys(k for run in runs for k in run.config if k != SEED_KEY))
    else:
        keys = resolve_keys(by, runs)
    members: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        signature = tuple(repr(run.config.get(k, _ABSENT)) for k in keys)
        members.setdefault(signature, []).append(run)
    groups_runs = list(members.values())
    firsts = [{k: g[0].config[k] for k in keys if k in g[0].config} for g in groups_runs]
    shown = differing_keys(firsts)
    groups = []
    for group, named in zip(groups_runs, label_keys(firsts), strict=True):
        values = {k: group[0].config[k] for k in shown if k in group[0].config}
        label = ", ".join(format_item(k, values[k]) for k in named)
        if not label:
            label = COMMON_LABEL if len(groups_runs) > 1 else "all runs"
        groups.append(Group(label, values, group, tuple(named)))
    return groups


def single_runs(runs: Sequence[Run], labels: Sequence[str]) -> list[Group]:
    """One group per run (``--no-group``), labelled as the runs are."""
    return [Group(label, {}, [run]) for run, label in zip(runs, labels, strict=True)]


def check_group(group: Group) -> None:
    """Refuse a group whose runs' profiles cannot be compared timestep by timestep."""
    first = group.runs[0]
    probe_keys = sorted({k for run in group.runs for k in run.config if k.startswith(PROBE_PREFIX)})
    mixed = [k for k in probe_keys if len({repr(r.config.get(k)) for r in group.runs}) > 1]
    # As gradients.npz records them (a run without a readable config still has these).
    for key, attribute in (("grad_log.dtype", "dtype"), ("grad_log.loss", "loss")):
        if key not in mixed and len({getattr(r, attribute) for r in group.runs}) > 1:
            mixed.append(key)
    if mixed:
        detail = "; ".join(
            f"{k}: " + ", ".join(f"{r.path.name}={_setting(r, k)}" for r in group.runs)
            for k in mixed
        )
        raise AnalysisError(
            f"group {group.label!r} mixes probe settings ({detail}): its profiles are not "
            f"comparable. Group by them too (--group-by <keys>,{mixed[0]}) or compare the runs "
            "one by one (--no-group)"
        )
    if len({r.probe for r in group.runs}) > 1:
        raise AnalysisError(
            f"group {group.label!r} mixes probe batches (its runs measured their profiles on "
            "different sequences: another data.seq_len, data.val_seed or task): group by the "
            "setting that differs (--group-by) or compare the runs one by one (--no-group)"
        )
    for run in group.runs[1:]:
        if run.steps.tolist() != first.steps.tolist():
            raise AnalysisError(
                f"group {group.label!r}: {run.path.name} logged profiles at other training "
                f"steps than {first.path.name} ({describe_steps(run)} against "
                f"{describe_steps(first)}); its runs must be measured at the same steps to be "
                "combined: compare them one by one (--no-group)"
            )
        shared = [q for q in first.norms if q in run.norms]
        lengths = {q: run.norms[q].shape[1] for q in shared}
        expected = {q: first.norms[q].shape[1] for q in shared}
        if lengths != expected:
            raise AnalysisError(
                f"group {group.label!r}: {run.path.name} has profiles over other lengths than "
                f"{first.path.name} ({lengths} against {expected}); its runs must be measured "
                "over the same timesteps to be combined: compare them one by one (--no-group)"
            )


def describe_steps(run: Run) -> str:
    values = [str(int(s)) for s in run.steps]
    if len(values) > 6:
        values = [*values[:3], "...", *values[-2:]]
    return "steps " + ", ".join(values)


def _setting(run: Run, key: str) -> Hashable:
    if key in run.config:
        return run.config[key]
    return {"grad_log.dtype": run.dtype, "grad_log.loss": run.loss}.get(key)
