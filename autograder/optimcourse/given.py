"""What later exercises start from: the pieces earlier exercises built, each its exercise's reference.

Exercise 1 asks students to write :class:`Parameter`, exercise 3 the :class:`Optimizer` base class,
exercise 4 ``SGD``, ``Adam`` and ``AdamW``; later notebooks import these, so that a mistake made in an
earlier chapter cannot cost points in a later one. Each is the reference solution itself, generated
from its exercise's notebook into ``references/`` (one source per piece). The test suite checks each
with the checks of the exercise that asks for it, and while that exercise is checked its students may
not use them (``TAUGHT_IN``; the guard refuses the call). ``required`` is handed out, not taught: it is
torch's sentinel for a hyperparameter without a default.
"""

from __future__ import annotations

# the references import Parameter and required from here: each import below comes after what it needs
from .references.manual_updates import Parameter

__all__ = ["SGD", "TAUGHT_IN", "Adam", "AdamW", "Optimizer", "Parameter", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that has no default: every parameter group must set it."""

    def __repr__(self) -> str:
        return "<required parameter>"


#: the sentinel of ``torch.optim.optimizer.required``: ``Optimizer(params, {"lr": required})``
required = _RequiredParameter()

# isort: off
from .references.param_groups import Optimizer  # noqa: E402 (it imports Parameter and required from here)
from .references.momentum_adam_adamw import SGD, Adam, AdamW  # noqa: E402 (they import Optimizer from here)
# isort: on

#: the exercise (reference stem) whose students write each given class; they may not import it
TAUGHT_IN: dict[str, tuple[type, ...]] = {
    "manual_updates": (Parameter,),
    "param_groups": (Optimizer,),
    "momentum_adam_adamw": (SGD, Adam, AdamW),
}
