"""``seqnet-train --help``'s list of config groups (``${seqnet.help_groups:}`` in the help
template of configs/hydra/default.yaml): every group on Hydra's search path, with seqnet's, the
plugins' and ``--config-dir``'s, less Hydra's own groups and the internal ``schema/*`` ones (the
dataclasses that the YAML files name), formatted as Hydra's help formats them."""

from __future__ import annotations

from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType

#: Groups that are not choices for a user: Hydra's own (``--hydra-help`` lists them) and the
#: structured schemas.
HIDDEN_GROUPS = ("hydra", "schema")


def help_groups() -> str:
    """``group: option, option`` lines, groups and options sorted (empty outside a Hydra app)."""
    hydra = GlobalHydra.instance().hydra
    if hydra is None:
        return ""
    # The loader's repository itself: Hydra's own listing copies the whole repository for
    # every group it looks at, seconds for a help text.
    repository = hydra.config_loader.repository  # type: ignore[attr-defined]
    lines, todo = [], [g for g in repository.get_group_options("", ObjectType.GROUP)]
    while todo:
        group = todo.pop()
        if group.split("/")[0] in HIDDEN_GROUPS:
            continue
        options = repository.get_group_options(group, ObjectType.CONFIG)
        if options:
            lines.append(f"{group}: {', '.join(sorted(options))}")
        todo += [f"{group}/{g}" for g in repository.get_group_options(group, ObjectType.GROUP)]
    return "".join(f"{line}\n" for line in sorted(lines))
