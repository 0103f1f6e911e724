"""Grading package of the torch.optim course.

Student notebooks call the checks in :mod:`optimcourse.chapters`; each check runs the
student's NumPy code and ``torch.optim`` on the same inputs (:mod:`optimcourse.scenarios`),
compares what both did (:mod:`optimcourse.trace`), and on a mismatch explains it
(:mod:`optimcourse.verify`), naming a known mistake when the student's numbers match one
(:mod:`optimcourse.mutants`).
"""
