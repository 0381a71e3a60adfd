"""A seqnet plugin module (entry point group ``seqnet.plugins``) that extends seqnet three ways:
a new cell (``model=lstm_nog``), a new task (``data=parity``) and a new gradient summary
(``half_life``). Importing it registers all three and adds its ``configs/`` folder (one YAML for
the model, one for the task) to seqnet's configs. Declare it in your package's pyproject.toml:

    [project.entry-points."seqnet.plugins"]
    my_extensions = "my_extensions"
"""

from pathlib import Path

from seqnet.plugins import add_config_path

from . import half_life, lstm_nog, parity  # noqa: F401  (each registers itself)

add_config_path(Path(__file__).parent / "configs")
