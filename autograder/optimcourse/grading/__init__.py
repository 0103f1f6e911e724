"""Grading a whole class with nbgrader: ``course-grade <assignment|all> <submissions>``.

nbgrader stays the engine (its gradebook, autograde, feedback); this package adds what a class needs
around it. ``submissions`` finds and checks the notebooks handed in (a folder or an LMS zip),
``coursedir`` prepares the instructor's course folder from ``solutions/``, ``workers`` autogrades
several submissions at a time, each worker in a course folder and gradebook of its own, ``merge``
copies each finished grade into the one gradebook the instructor keeps (the only writer), and
``export`` writes the class's CSV. ``cli`` ties them together, resumable and idempotent.
"""
