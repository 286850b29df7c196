"""Names inside a trial checkpoint that more than one package reads.

Every method writes, into its final checkpoint, a stock Hugging Face folder (``config.json``,
``model.safetensors``, tokenizer files) that ``AutoModelForSequenceClassification`` loads as
is: :func:`trainables.export_folder.save_stock_folder` writes it, ``python -m analysis export``
copies it. The folder's name predates dense and SMP writing one (CAP wrote it first, as its
baked model); it is kept so that CAP checkpoints of earlier versions still export.

Example:
    >>> from facts.checkpoints import EXPORT_DIR
    >>> EXPORT_DIR
    'pruned_model'
"""

from __future__ import annotations

#: The final checkpoint's exportable stock Hugging Face folder (every method).
EXPORT_DIR = "pruned_model"
#: The weights file of a Hugging Face folder (and of every trial checkpoint).
MODEL_FILE = "model.safetensors"
