"""Student code as data, shared by every assignment's catalogue
(``autograder/assignments/<name>/catalogue/``): the entry types and the mutant builder
(:mod:`.entries`), the blind set's helpers (:mod:`.blind`) and the blind set as one list
(:mod:`.blind_set`: student code written without reading the grader, across the assignments,
measured by ``python -m autograder measure-checks``)."""
