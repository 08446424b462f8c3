"""The card of the test-only toy method: frame 384 × 512 (W × H), no weights."""

from __future__ import annotations

from vton.methods.base import PASTED_STAGE, TRYON_STAGE, MethodCard, StageSpec, StepSpec

CARDS = (
    MethodCard(
        id="framed-toy", title="Framed toy (tests)",
        summary="Test-only: the framed garment copied onto the body where both masks are on.",
        paper="none (a test fixture)", repo="tests/toy_methods/framed_toy", licence="MIT (vton's own test code)",
        needs=frozenset({"pose", "parsing", "cloth_mask", "body_mask"}),
        weights=(),
        steps=(StepSpec("mix", "mixing"), StepSpec("composition", "composition")),
        stages=(
            StageSpec("toy_mix", "Where the garment goes", "Body mask and garment mask, both on.", "composition",
                      "mix"),
            TRYON_STAGE,
            PASTED_STAGE,
        ),
        frame=(384, 512),
        factory="vton.methods.framed_toy.method:FramedToy", order=999,
    ),
)
