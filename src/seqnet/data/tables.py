"""Tables of time series for ``data=timeseries``: a CSV or Parquet file read with pandas (and
pyarrow), its columns chosen and checked, missing values handled by ``data.nan_policy``.

One row is one time point, in time order; a group column (``data.group``) separates
independent series. Every problem stops with a ``DataFileError`` that names the file.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqnet.data.files import file_error

CSV_COMPRESSION = (".gz", ".bz2", ".xz", ".zip", ".zst")
#: Rows listed in a message about missing values (then "... N in all").
SHOWN_ROWS = 5


class NanPolicy(Enum):
    error = "error"  # stop, saying where
    drop = "drop"  # leave the rows out
    ffill = "ffill"  # carry the last finite value forward, within a series


def table_kind(path: Path) -> str:
    """``"csv"`` or ``"parquet"``, by the file's name."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] in ([".parquet"], [".pq"]):
        return "parquet"
    if suffixes[-1:] == [".csv"] or (
        suffixes[-2:-1] == [".csv"] and suffixes[-1] in CSV_COMPRESSION
    ):
        return "csv"
    raise file_error(
        path,
        "is not a CSV or Parquet file (by its name)",
        "save it as .csv (or .csv.gz) or .parquet",
    )


def read_table(path: Path) -> pd.DataFrame:
    """The file's rows, with at least one; the pandas and pyarrow errors as one line."""
    kind = table_kind(path)
    try:
        table = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path, engine="pyarrow")
    except pd.errors.EmptyDataError as e:
        raise file_error(path, "is empty", "give a file with a header row and data rows") from e
    except (ValueError, OSError, UnicodeDecodeError) as e:  # parser, Arrow and codec errors
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise file_error(
            path, f"cannot be read as {kind.upper()} ({detail})", f"check that it is a {kind} file"
        ) from e
    if table.empty:
        raise file_error(path, f"has no data rows (columns: {list_columns(table)})", "fill it")
    return table


def list_columns(table: pd.DataFrame) -> str:
    return ", ".join(str(c) for c in table.columns)


def column_list(value: Any, key: str) -> list[str] | None:
    """A config value naming one column or a list of them, as a list (None stays None)."""
    if value is None:
        return None
    names = [value] if isinstance(value, str | int) else list(value)
    if not names or not all(isinstance(n, str | int) for n in names):
        raise ValueError(f"{key} must name a column or a list of columns, got {value!r}")
    return [str(n) for n in names]


def check_columns(table: pd.DataFrame, names: list[str], key: str, path: Path) -> None:
    """Every name is a column of the table, and a numeric one."""
    columns = [str(c) for c in table.columns]
    for name in names:
        if name not in columns:
            raise file_error(
                path, f"has no column {name!r} ({key})", f"its columns are: {list_columns(table)}"
            )
        if not pd.api.types.is_numeric_dtype(table[name]) or pd.api.types.is_bool_dtype(
            table[name]
        ):
            raise file_error(
                path,
                f"column {name!r} ({key}) is not numeric ({table[name].dtype})",
                f"choose numeric columns; its columns are: {list_columns(table)}",
            )


def numeric_columns(table: pd.DataFrame, leave_out: list[str]) -> list[str]:
    """The table's numeric columns (not boolean), in order, but those in ``leave_out``."""
    return [
        str(c)
        for c in table.columns
        if str(c) not in leave_out
        and pd.api.types.is_numeric_dtype(table[c])
        and not pd.api.types.is_bool_dtype(table[c])
    ]


def rows_shown(rows: np.ndarray) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:SHOWN_ROWS])
    more = f", ... ({len(rows)} in all)" if len(rows) > SHOWN_ROWS else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def handle_missing(
    table: pd.DataFrame, used: list[str], group: str | None, policy: str, path: Path
) -> pd.DataFrame:
    """The table with NaN and infinite values in the ``used`` columns handled by ``policy``
    (``NanPolicy``); rows are numbered from 0 after the header in the messages."""
    values = table[used].astype(np.float64)
    bad = ~np.isfinite(values.to_numpy())
    if not bad.any():
        return table
    if policy == "drop":
        return table[~bad.any(axis=1)]
    if policy == "error":
        column = int(np.flatnonzero(bad.any(axis=0))[0])
        rows = np.flatnonzero(bad[:, column])
        others = int(bad.sum()) - len(rows)
        also = f" ({others} more in other columns)" if others else ""
        raise file_error(
            path,
            f"column {used[column]!r} has NaN or infinite values at {rows_shown(rows)} "
            f"(numbered from 0 after the header){also}",
            "fill or remove them, or set data.nan_policy=drop (leave those rows out) or "
            "data.nan_policy=ffill (carry the last value forward)",
        )
    filled = table.copy()
    filled[used] = values.where(~bad)
    if group is None:
        filled[used] = filled[used].ffill()
    else:
        filled[used] = filled.groupby(group, sort=False)[used].ffill()
    left = np.flatnonzero(filled[used].isna().to_numpy().any(axis=1))
    if len(left):
        raise file_error(
            path,
            f"data.nan_policy=ffill has no earlier value to carry forward at {rows_shown(left)} "
            "(the first rows of a series)",
            "fill them, or set data.nan_policy=drop",
        )
    return filled
