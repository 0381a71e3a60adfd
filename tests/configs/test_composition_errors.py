"""Bad values stop at composition, before anything runs, with a message that names the key.
(Hydra words these messages; only what they name is checked. The same through seqnet-train:
tests/e2e/test_seqnet_train.py.)"""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from conftest import compose_config
from seqnet.models import MODEL_REGISTRY

#: (overrides, what the message names)
BAD = {
    "wrong_type": (["trainer.max_steps=abc"], ["trainer.max_steps", "abc"]),
    "unknown_key": (["model.hiden_size=3"], ["model.hiden_size"]),
    "outside_enum": (["model=rnn", "model.nonlinearity=sigmoid"], ["model.nonlinearity"]),
    "probe_dtype": (["grad_log.dtype=float16"], ["grad_log.dtype", "float16"]),
    "read_order": (["data=seq_digits", "data.read=columns"], ["data.read", "columns"]),
    # An option of another model or task is not a key of this one's config.
    "gru_forget_bias": (["model=gru", "model.forget_bias=2"], ["model.forget_bias"]),
    "gru_chrono": (["model=gru", "model.chrono_tmax=100"], ["model.chrono_tmax"]),
    "mnist1d_seq_len": (["data=mnist1d", "data.seq_len=10"], ["data.seq_len"]),
    "mackey_glass_val_size": (["data=mackey_glass", "data.val_size=10"], ["data.val_size"]),
    "digits_seq_len": (["data=digits", "data.seq_len=5"], ["data.seq_len"]),
    "seq2seq_seq_len": (["data=seq2seq", "data.seq_len=5"], ["data.seq_len"]),
    "char_lm_val_size": (["data=char_lm", "data.val_size=5"], ["data.val_size"]),
    # An unknown choice names itself and the choices there are.
    "unknown_model": (["model=transformer"], ["model", "transformer", *MODEL_REGISTRY]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_override_stops_at_composition_naming_the_key(case: str) -> None:
    overrides, named = BAD[case]
    with pytest.raises(ConfigCompositionException) as excinfo:
        compose_config(overrides)
    message = str(excinfo.value)
    for name in named:
        assert name in message, (name, message)
