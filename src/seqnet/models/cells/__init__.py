"""One small class per recurrent cell, all with the signature (input_size, hidden_size, bias)."""

from seqnet.models.cells.base import Cell, State
from seqnet.models.cells.gru import GRUCell
from seqnet.models.cells.lstm import LSTMCell
from seqnet.models.cells.rnn import RNNCell

__all__ = ["Cell", "GRUCell", "LSTMCell", "RNNCell", "State"]
