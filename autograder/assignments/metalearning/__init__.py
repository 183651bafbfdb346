"""Learning an initialisation: MAML, first-order MAML, ANIL, Reptile and multi-task pretraining
(sinusoids, Omniglot 5-way 1-shot)."""

TITLE = "Learning to learn: MAML, first-order MAML, ANIL and Reptile"
