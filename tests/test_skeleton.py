import numpy as np

from signllm.skeleton import (
    LEFT_HAND_ROOT,
    LEFT_WRIST,
    PROMPT2SIGN50,
    RIGHT_HAND_ROOT,
    RIGHT_WRIST,
    get_skeleton,
)


def test_layout_matches_prompt2sign():
    sk = PROMPT2SIGN50
    assert sk.num_joints == 50
    assert sk.joints[:8] == (
        "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist",
    )  # fmt: skip
    assert sk.joints[8] == "left_hand_wrist" and sk.joints[29] == "right_hand_wrist"
    assert (LEFT_WRIST, RIGHT_WRIST, LEFT_HAND_ROOT, RIGHT_HAND_ROOT) == (7, 4, 8, 29)


def test_tree_rooted_at_nose_and_topological():
    sk = PROMPT2SIGN50
    assert sk.parents[0] == -1 and sum(p < 0 for p in sk.parents) == 1
    assert all(p < c for c, p in enumerate(sk.parents) if p >= 0)
    assert len(sk.bones) == 49
    assert sk.parents[LEFT_HAND_ROOT] == LEFT_WRIST
    assert sk.parents[RIGHT_HAND_ROOT] == RIGHT_WRIST


def test_mirror_swaps_sides():
    sk = PROMPT2SIGN50
    m = sk.mirror
    assert (m[m] == np.arange(50)).all()
    assert m[0] == 0 and m[1] == 1
    for i, name in enumerate(sk.joints):
        if name.startswith("left_"):
            assert sk.joints[m[i]] == "right_" + name[5:]
    # mirrored bones are bones: shared left/right lengths are well defined
    bones = set(sk.bones)
    assert all((int(m[p]), int(m[c])) in bones for p, c in sk.bones)


def test_limbs_colours_groups():
    sk = get_skeleton("prompt2sign50")
    assert len(sk.limbs) == len(sk.limb_colours)
    assert all(0 <= a < 50 and 0 <= b < 50 for a, b in sk.limbs)
    assert len(sk.groups["hands"]) == 42 and len(sk.groups["body"]) == 8
