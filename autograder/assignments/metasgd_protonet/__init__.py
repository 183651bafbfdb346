"""Beyond the initialisation: learned inner learning rates (Meta-SGD) and learning to compare
(prototypical networks), compared with MAML and ANIL."""

TITLE = "Beyond the initialisation: Meta-SGD and prototypical networks"
