"""An example seqnet plugin (entry point group ``seqnet.plugins``): registers ``model=example_cell``
and adds this package's ``configs/`` folder (``model/example_cell.yaml``) to seqnet's configs."""

from pathlib import Path

from seqnet.plugins import add_config_path
from seqnet_example_cell import model  # noqa: F401  (registers model=example_cell)

add_config_path(Path(__file__).parent / "configs")
