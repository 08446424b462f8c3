"""vton: an open lab for classic image-based virtual try-on that shows every stage.

Methods live in ``vton.methods``, one package each behind one registry (``vton.methods.cards()``): the classic
parser-based and parser-free networks rebuilt so that the authors' released checkpoints load and give the same
numbers, and a training-free geometric method.
"""

__version__ = "0.1.0"
