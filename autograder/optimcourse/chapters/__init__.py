"""One module per assignment: the checks its notebook's test cells call, and its mutants."""
