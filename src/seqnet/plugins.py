"""Plugins: cells, models, tasks and config files from other installed packages.

A package extends seqnet without editing it by declaring an entry point in the group
``seqnet.plugins`` whose value is a module of that package:

    [project.entry-points."seqnet.plugins"]
    my_project = "my_project"

Before composing a config, every seqnet command (and ``seqnet.run``) imports these modules.
A plugin module registers what it adds, exactly as seqnet's own modules do, and may add a folder
of config groups (``model/my_cell.yaml``, ``data/...``, ``experiment/...``) to Hydra's search
path, after seqnet's own configs:

    register_model("my_cell", config=MyCellConfig)(MyCell)
    add_config_path(Path(__file__).parent / "configs")

The registered schemas are then stored in Hydra's ConfigStore beside the built-in ones, so
``model=my_cell`` is type-checked like ``model=lstm`` and its keys are part of every run's
HPARAMS. A plugin that fails to import stops the command with one line naming it.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin

from seqnet.errors import SeqnetError

ENTRY_POINT_GROUP = "seqnet.plugins"

#: Search path entries added by plugins (``file://...`` or ``pkg://...``), in load order.
_config_paths: list[str] = []
#: ``name=value`` of every entry point imported so far in this process.
_loaded: set[str] = set()


class PluginError(SeqnetError):
    """A ``seqnet.plugins`` entry point whose module fails to import."""


def add_config_path(path: str | Path) -> None:
    """Add a folder of config groups to the search path of every later composition.

    ``path`` is a folder (a ``Path`` or string, made absolute) or a Hydra search path entry
    (``pkg://my_project.configs``, ``file:///abs/dir``). Its files come after seqnet's own: a
    plugin adds choices (``model/my_cell.yaml``), it does not replace seqnet's.
    """
    text = str(path)
    entry = text if "://" in text else f"file://{Path(text).resolve()}"
    if entry not in _config_paths:
        _config_paths.append(entry)


def plugin_entry_points() -> list[EntryPoint]:
    """The installed ``seqnet.plugins`` entry points, sorted by name (a stable import order)."""
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_plugins() -> list[str]:
    """Import every plugin module not imported yet, then store all registered schemas (the
    plugins' included) in Hydra's ConfigStore. Returns the names of the plugins loaded so far.

    Raises ``PluginError`` (one line: entry point, module and error) for a failing plugin.
    """
    import seqnet.config  # the built-in schemas; imported here so plugins can import seqnet

    for ep in plugin_entry_points():
        key = f"{ep.name}={ep.value}"
        if key in _loaded:
            continue
        try:
            ep.load()
        except Exception as e:  # any error in a user's module: report it, never a traceback
            message = " ".join(str(e).split()) or "(no message)"
            raise PluginError(
                f"plugin {ep.name!r} (module {ep.value}) failed to import: "
                f"{type(e).__name__}: {message}. Fix it or uninstall the package that declares "
                f"it (entry point group {ENTRY_POINT_GROUP!r})"
            ) from e
        _loaded.add(key)
    seqnet.config.register_configs()
    Plugins.instance().register(PluginConfigPaths)
    return sorted(key.partition("=")[0] for key in _loaded)


class PluginConfigPaths(SearchPathPlugin):
    """Hydra search path plugin: the folders plugins added with ``add_config_path``.

    Registered with Hydra by ``load_plugins``; it applies to the command line and to the
    compose API alike, before ``--config-dir`` and ``hydra.searchpath`` entries.
    """

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        for entry in _config_paths:
            search_path.append(provider="seqnet-plugin", path=entry)
