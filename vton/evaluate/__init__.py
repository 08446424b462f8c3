"""``python -m vton evaluate``: the papers' scores (SSIM, LPIPS, FID, KID) for methods on a test set.

``metrics`` computes the scores, ``networks`` holds the plain-torch LPIPS AlexNet and FID Inception, ``backbones``
prepares their inputs and finds and loads their weights, ``testset`` reads image folders and pairs lists,
``runner`` runs methods over a dataset (paired and unpaired) or reads existing images and scores them, and
``report`` writes ``metrics.json``, ``metrics.md`` and a bar chart beside the papers' published numbers.
"""
