"""Tools above the try-on: converting the authors' checkpoints, publishing them to the Hub, writing random weights.

They sit above :mod:`vton.methods` and :mod:`vton.preprocess` (which they read through the registry's cards) and
nothing below imports them. One job per module:

- :mod:`~vton.tools.networks`: what the registry says about networks (which method owns a manifest key, its
  converter);
- :mod:`~vton.tools.folder`: a converted weights folder's file names and Hub model card (its ``manifest.json`` is
  :mod:`vton.weights.manifests`' job);
- :mod:`~vton.tools.prepare`: ``python -m vton prepare``: ``pth`` and mirror-only networks made ready ahead of time;
- :mod:`~vton.tools.convert`: the authors' ``.pth`` files recognised, checked against the network and converted;
- :mod:`~vton.tools.publish`: a converted folder uploaded to a Hub model repo and pinned in the manifest;
- :mod:`~vton.tools.random_weights`: deterministic RANDOM weights for tests of the plumbing;
- :mod:`~vton.tools.cli`: their ``python -m vton`` sub-commands (``convert``, ``publish``, ``random-weights``).
"""
