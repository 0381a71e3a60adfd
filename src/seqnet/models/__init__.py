"""Models: the registry and factory, the shared option groups, the cell interface, the fused
cores, the step-by-step engine, the scans, the whole-sequence kernels, the read-out and decoder
models around a core, and ``zoo``: one file per registered model."""

from seqnet.models.cell import Cell, State
from seqnet.models.cores import FusedCore, StepRNN
from seqnet.models.decoders import Decoder, EncoderDecoder, VectorDecoder
from seqnet.models.engine import Probes, unroll
from seqnet.models.factory import (
    MODEL_FOR_SHAPE,
    MODEL_REGISTRY,
    Model,
    build_core,
    build_model,
    core_factory,
    register_model,
)
from seqnet.models.options import (
    EngineConfig,
    FusedConfig,
    GatedOptions,
    LSTMOptions,
    ModelConfig,
    NoOptions,
)
from seqnet.models.scan import ScanRNN, log_linear_scan
from seqnet.models.sequence_model import SequenceModel, concat_predictions
from seqnet.models.zoo.gru import FusedGRU, GRUCell
from seqnet.models.zoo.gru_layernorm import LayerNormGRUCell
from seqnet.models.zoo.indrnn import IndRNNCell
from seqnet.models.zoo.irnn import IRNNCell
from seqnet.models.zoo.lstm import FusedLSTM, LSTMCell
from seqnet.models.zoo.lstm_cifg import CIFGLSTMCell
from seqnet.models.zoo.lstm_layernorm import LayerNormLSTMCell
from seqnet.models.zoo.lstm_peephole import PeepholeLSTMCell
from seqnet.models.zoo.mingru import MinGRUCell
from seqnet.models.zoo.minlstm import MinLSTMCell
from seqnet.models.zoo.rnn import FusedRNN, RNNCell

__all__ = [
    "MODEL_FOR_SHAPE",
    "MODEL_REGISTRY",
    "CIFGLSTMCell",
    "Cell",
    "Decoder",
    "EncoderDecoder",
    "EngineConfig",
    "FusedConfig",
    "FusedCore",
    "FusedGRU",
    "FusedLSTM",
    "FusedRNN",
    "GRUCell",
    "GatedOptions",
    "IRNNCell",
    "IndRNNCell",
    "LSTMCell",
    "LSTMOptions",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "Model",
    "ModelConfig",
    "NoOptions",
    "PeepholeLSTMCell",
    "Probes",
    "RNNCell",
    "ScanRNN",
    "SequenceModel",
    "State",
    "StepRNN",
    "VectorDecoder",
    "build_core",
    "build_model",
    "concat_predictions",
    "core_factory",
    "log_linear_scan",
    "register_model",
    "unroll",
]
