"""The fused decoding step: the same outputs as the module-by-module decoder it replaces.

`tests/data/generate_golden.pt` holds `generate()` outputs of the decoder as it was before the
fused step (commit d8a51b5: layers run module by module with `KVCache`s, FK level by level), on
the fixed weights built by `golden_model` below; both decoders must still reproduce them.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from signllm.models.core import FusedDecoderStep
from signllm.models.kinematic import KinematicHead, fit_body, neck_rooted_parents, rotation_6d
from signllm.models.progressive import ProgressiveTransformer, preset_config

GOLDEN = Path(__file__).parent / "data" / "generate_golden.pt"
VARIANTS = {
    "linear": ("linear", {}),
    "linear_fk2": ("linear", {"future_k": 2, "pos_encoding": "learned"}),
    "kinematic": ("kinematic", {}),
    "kinematic_fk2": ("kinematic", {"future_k": 2, "pos_encoding": "learned"}),
}


def golden_model(head: str, **kw) -> ProgressiveTransformer:
    """Tiny pose model with every weight perturbed (a non-trivial decoder), plan ~9 frames."""
    torch.manual_seed(0)
    cfg = preset_config("tiny", vocab_size=40, pose_dim=150, output_head=head, **kw)
    m = ProgressiveTransformer(cfg).eval()
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
        m.length_head.bias.fill_(math.log(9.0))
        if head == "kinematic":
            fr = torch.randn(40, 50, 3, generator=g).numpy()
            body = fit_body(fr)
            m.pose_head.set_body(body["rest"], body["lengths"], fr.mean(0), fr.std(0) + 0.5)
            torch.nn.init.normal_(m.pose_head.proj.weight, std=0.3, generator=g)
    return m


def golden_inputs(b: int = 3, s: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    tok = torch.randint(1, 40, (b, s), generator=g)
    mask = torch.arange(s)[None] < torch.tensor([s, 2, 4][:b])[:, None]
    return tok.masked_fill(~mask, 0), mask


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("fused", [True, False])
def test_generate_matches_the_recorded_decoder(name: str, fused: bool) -> None:
    head, kw = VARIANTS[name]
    ref = torch.load(GOLDEN)[name]
    got = golden_model(head, **kw).generate(*golden_inputs(), max_frames=14, fused=fused)
    assert got["lengths"].tolist() == ref["lengths"].tolist()
    assert torch.equal(got["mask"], ref["mask"])
    # the kinematic pose is ~8 in size and fed back 14 times: float rounding, not a change
    tol = 1e-4 if head == "kinematic" else 1e-5
    torch.testing.assert_close(got["pose"], ref["pose"], atol=tol, rtol=1e-4)
    torch.testing.assert_close(got["counter"], ref["counter"], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "kw",
    [
        {},  # short source: cross-attention folded into the memory
        {"bias": False, "decode_counter": "predicted"},
        {"n_heads": 4, "future_k": 3},
    ],
)
def test_fused_equals_reference(kw: dict) -> None:
    m = golden_model("linear", **kw)
    for s in (6, 40):  # 40 tokens x 2 heads >= d_model 64: the plain cross-attention path
        tok, mask = golden_inputs(s=s)
        a = m.generate(tok, mask, max_frames=20)
        b = m.generate(tok, mask, max_frames=20, fused=False)
        assert a["lengths"].tolist() == b["lengths"].tolist()
        torch.testing.assert_close(a["pose"], b["pose"], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(a["counter"], b["counter"], atol=1e-5, rtol=1e-4)


def test_both_paths_of_the_step_run() -> None:
    m = golden_model("linear")
    for s, fold in ((6, True), (40, False)):
        tok, mask = golden_inputs(s=s)
        memory, mask = m.encode(tok, mask)
        assert FusedDecoderStep(m.dec_layers, m.memory_kv(memory), mask, 4).fold is fold


@pytest.mark.parametrize("fused", [True, False])
def test_stop_false_produces_every_frame(fused: bool) -> None:
    m = golden_model("linear")
    tok, mask = golden_inputs()
    out = m.generate(tok, mask, max_frames=17, stop=False, fused=fused)
    assert out["lengths"].tolist() == [17, 17, 17]
    assert out["pose"].shape == (3, 17, 150) and bool(out["mask"].all())
    stopped = m.generate(tok, mask, max_frames=17, fused=fused)
    assert int(stopped["lengths"].max()) < 17  # the plan (~9 frames) would have stopped it
    n = int(stopped["lengths"][0])
    torch.testing.assert_close(out["pose"][0, :n], stopped["pose"][0, :n])


def test_learned_positions_still_limit_the_length() -> None:
    m = golden_model("linear", pos_encoding="learned", max_positions=8)
    tok, mask = golden_inputs()
    with pytest.raises(Exception, match="max_positions"):
        m.generate(tok, mask, max_frames=20, stop=False)


def level_by_level_fk(head: KinematicHead, y: torch.Tensor) -> torch.Tensor:
    """The FK as it was: joints placed tree level by tree level (..., per_frame) -> (..., J, 3)."""
    parents = neck_rooted_parents()
    root = head.rest[head.root] + y[..., :3]
    eye = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])
    rot = rotation_6d(eye + y[..., 3:9])
    dirs = torch.nn.functional.normalize(
        head.rest_directions() + y[..., 9:].unflatten(-1, (head.j, 3)), dim=-1, eps=1e-6
    )
    pos: list[torch.Tensor | None] = [None] * head.j
    pos[head.root] = root
    for t in head.torso:
        pos[t] = root + (rot @ (head.rest[t] - head.rest[head.root])[:, None]).squeeze(-1)
    while any(p is None for p in pos):
        for c, p in enumerate(parents):
            if pos[c] is None and pos[p] is not None:
                pos[c] = pos[p] + head.lengths[c] * dirs[..., c, :]
    return torch.stack(pos, -2)  # type: ignore[arg-type]


def test_fk_in_one_product_equals_level_by_level() -> None:
    head = golden_model("kinematic").pose_head
    y = torch.randn(4, 5, head.per_frame, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(
            head.joints_from_params(y), level_by_level_fk(head, y), atol=1e-5, rtol=1e-5
        )
    assert "_chain" not in head.state_dict()  # derived buffers stay out of saved weights


def test_the_inference_normaliser_equals_normalised() -> None:
    head = golden_model("kinematic").pose_head
    y = torch.randn(6, head.per_frame, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(head.normaliser()(y), head.normalised(y), atol=1e-5, rtol=1e-5)


def test_fused_decoding_reads_the_counter_only_when_asked() -> None:
    """pose_input="counter": the fused loop must zero the fed-back pose exactly as `decode`."""
    import torch

    from signllm.models.progressive import ProgressiveTransformer, preset_config

    torch.manual_seed(0)
    for head in ("linear", "kinematic"):
        cfg = preset_config("tiny", vocab_size=20, pose_input="counter", output_head=head)
        model = ProgressiveTransformer(cfg).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.05)
        tokens = torch.randint(1, 20, (2, 5))
        fused = model.generate(tokens, max_frames=12, fused=True, stop=False)
        ref = model.generate(tokens, max_frames=12, fused=False, stop=False)
        assert torch.allclose(fused["pose"], ref["pose"], atol=1e-4), head
