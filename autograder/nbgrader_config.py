"""nbgrader configuration shared by instructors and the course's own grading tests.

Copy this file into your course folder (beside gradebook.db), or pass it with --config.
"""

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

# Test cells must stay quiet on stderr: nbgrader scores any stderr output as a failure, so a
# correct answer that triggers a library warning (a torch FutureWarning, a NumPy RuntimeWarning)
# would get zero. Errors arrive as error outputs, not stderr streams, and are still scored.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"Warning"

# Each cell gets this many seconds; a student's endless loop costs one cell, not the batch.
c.ExecutePreprocessor.timeout = 120

# A deleted test cell is put back (and scored) instead of waiting forever for a manual grade.
c.OverwriteCells.add_missing_cells = True

# Keep the release free of solution and hidden-test markers' leftovers.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
