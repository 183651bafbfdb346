"""The embedding explorer pictures of the issue note and docs/student.md, on real Omniglot.

``OMNIGLOT_ROOT=… PYTHONPATH=. python docs/figures/make_embedding_explorer.py [STEPS]`` (from
the repository root) trains the reference ProtoNet (60-way 1-shot episodes, 5 queries, Adam
η = 3e-3) for ``STEPS`` meta-steps (default 200), opens ``hwlib.embedding_explorer`` with the
reference ``prototypes`` and ``protonet_logits`` on meta-test characters and saves what the
widget shows (PNG): a 5-way 1-shot episode, a new 5-way 1-shot one, and a 20-way 5-shot one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autograder.assignments.metasgd_protonet import answers as ref
from autograder.research.train import RunSpec, prepare
from hwlib.cache import atomic_write
from hwlib.embedding_explorer import embedding_explorer
from hwlib.outer_loop import meta_train

HERE = Path(__file__).resolve().parent


def main(steps: int = 200) -> None:
    spec = RunSpec(algo="protonet", train_ways=60, q_query=5, meta_batch_size=1, minutes=None,
                   steps=steps, meta_lr=0.003)
    s = prepare(spec, progress=False)
    meta_train(s.learner, s.phi, s.sampler.sample, s.config)
    box = embedding_explorer(s.model, s.phi, s.splits, ref.prototypes, ref.protonet_logits)
    (n_slider, k_slider), split, button = (box.children[0].children[0].children,
                                           *box.children[0].children[1:])
    image = box.children[2]
    split.value = "meta-test"
    shots = {"embedding_explorer_5way_1shot.png": lambda: None,
             "embedding_explorer_5way_1shot_new.png": button.click,
             "embedding_explorer_20way_5shot.png": lambda: (setattr(n_slider, "value", 20),
                                                            setattr(k_slider, "value", 5))}
    for name, act in shots.items():
        act()
        with atomic_write(HERE / name, "wb") as f:
            f.write(image.value)
        print(f"{name}: {box.children[1].value}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
