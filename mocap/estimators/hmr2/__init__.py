"""HMR 2.0 (4D-Humans) in plain PyTorch: the network (:mod:`.vit`, :mod:`.head`,
:mod:`.model`), its checkpoint reader (:mod:`.checkpoint`) and its input crops
(:mod:`.preprocess`). Needs ``torch`` (``pip install -e ".[hmr2]"``); importing
this package does not import it.
"""
