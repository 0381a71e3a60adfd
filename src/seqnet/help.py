"""``seqnet-train --help``'s list of config groups (``${seqnet.help_groups:}`` in the help
template of configs/hydra/default.yaml): Hydra's own listing, with seqnet's and the plugins'
groups and those of ``--config-dir``, less Hydra's groups and the internal ``schema/*`` ones
(the dataclasses that the YAML files name)."""

from __future__ import annotations

from hydra.core.global_hydra import GlobalHydra

#: Groups that are not choices for a user: Hydra's own (``--hydra-help`` lists them) and the
#: structured schemas.
HIDDEN_GROUPS = ("hydra", "schema")


def help_groups() -> str:
    hydra = GlobalHydra.instance().hydra
    if hydra is None:  # resolved outside a Hydra app
        return ""
    return hydra.format_config_groups(lambda group: group.split("/")[0] not in HIDDEN_GROUPS)
