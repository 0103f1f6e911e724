"""Facts about the course written once: where things live, the assignments, the tolerance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ASSIGNMENTS", "ATOL", "PACKAGE_DIR", "REFERENCES_DIR", "REPO_ROOT", "RTOL", "Assignment", "get_assignment"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parents[1]  # autograder/optimcourse -> repository root
REFERENCES_DIR = PACKAGE_DIR / "references"

# Comparisons against torch run in float64 at PyTorch's own float64 defaults.
RTOL = 1e-7
ATOL = 1e-7


@dataclass(frozen=True)
class Assignment:
    """One exercise: ``solutions/<id>/<notebook>.ipynb`` is its single source."""

    id: str
    notebook: str  # file stem; also the name of its checks and reference modules

    def solution_path(self, root: Path = REPO_ROOT) -> Path:
        return root / "solutions" / self.id / f"{self.notebook}.ipynb"

    def exercise_path(self, root: Path = REPO_ROOT) -> Path:
        return root / "exercises" / self.id / f"{self.notebook}.ipynb"

    @property
    def exercise_file(self) -> str:
        """The student notebook's path inside the repository (for Binder links and downloads)."""
        return self.exercise_path(Path()).as_posix()

    @property
    def chapter_page(self) -> str:
        """The website page of the chapter this exercise belongs to (a Sphinx docname)."""
        return f"book/{self.id}"

    def reference_path(self, root: Path = REPO_ROOT) -> Path:
        return root / "autograder" / "optimcourse" / "references" / f"{self.notebook}.py"

    @property
    def checks_module(self) -> str:
        return f"optimcourse.chapters.{self.notebook}"

    def mutant_library(self):
        """The chapter's named mistakes (``MUTANTS`` of its checks module)."""
        import importlib

        return importlib.import_module(self.checks_module).MUTANTS


ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment("01-manual-updates", "manual_updates"),
    Assignment("02-zero-grad", "zero_grad"),
    Assignment("03-param-groups", "param_groups"),
    Assignment("04-momentum-adam-adamw", "momentum_adam_adamw"),
    Assignment("05-state-checkpointing", "state_checkpointing"),
    Assignment("06-gradient-clipping", "gradient_clipping"),
    Assignment("07-foreach-fused", "foreach_fused"),
    Assignment("08-differentiable-step", "differentiable_step"),
    Assignment("09-memory-questions", "memory_questions"),
    Assignment("11-lr-schedulers", "lr_schedulers"),
    Assignment("12-training-loop", "training_loop"),
)


def get_assignment(key: str) -> Assignment:
    """The assignment with this id (``04-momentum-adam-adamw``) or notebook (``momentum_adam_adamw``)."""
    for a in ASSIGNMENTS:
        if key in (a.id, a.notebook):
            return a
    raise KeyError(f"no assignment {key!r}; the course has {', '.join(a.id for a in ASSIGNMENTS)}")
