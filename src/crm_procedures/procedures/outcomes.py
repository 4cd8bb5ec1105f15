"""Final steps that end the procedure: the rules for ``Step.outcome`` (no I/O).

A step may declare what reaching it ends the procedure with::

    [steps.signed]
    name = "Agreement signed"
    final = true
    outcome = "won"                  # the relation becomes a customer

    [steps.lost]
    name = "Chose a competitor"
    final = true
    outcome = "closed"
    close_reason = "has_supplier"    # one of the procedure's close reasons

Performing such a step applies the outcome in the same unit of work
(:func:`apply_outcome`); :func:`check_outcomes` is part of validation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_procedures.errors import Finding
from crm_procedures.procedures import runtime
from crm_procedures.procedures.step import OUTCOMES, Step

if TYPE_CHECKING:
    from datetime import datetime

    from crm_procedures.ids import UserId
    from crm_procedures.model.prospect import Prospect
    from crm_procedures.procedures.procedure import Definitions, Procedure

__all__ = ["apply_outcome", "check_outcomes"]


def check_outcomes(definitions: Definitions) -> list[Finding]:
    """Problems with the steps' ``outcome`` and ``close_reason``, as findings.

    Codes: ``invalid-outcome`` (not ``won`` or ``closed``),
    ``missing-close-reason`` (``closed`` without a reason),
    ``close-reason-without-outcome``, ``unknown-close-reason`` (not a close
    reason of a procedure that uses the step), and the warning
    ``outcome-not-final`` (a step with an outcome ends the procedure; mark it
    ``final = true``).
    """
    out: list[Finding] = []
    for step in definitions.steps.values():
        where = f"steps.{step.key}"
        if step.outcome is None:
            if step.close_reason is not None:
                out.append(
                    Finding(
                        "close-reason-without-outcome",
                        'close_reason only goes with outcome = "closed"; add it or remove '
                        "close_reason",
                        f"{where}.close_reason",
                    )
                )
            continue
        if step.outcome not in OUTCOMES:
            out.append(
                Finding(
                    "invalid-outcome",
                    f"outcome must be one of {', '.join(repr(o) for o in OUTCOMES)}, "
                    f"not {step.outcome!r}",
                    f"{where}.outcome",
                )
            )
            continue
        if not step.final:
            out.append(
                Finding(
                    "outcome-not-final",
                    "a step with an outcome ends the procedure; mark it final = true",
                    f"{where}.final",
                    "warning",
                )
            )
        if step.outcome == "won":
            if step.close_reason is not None:
                out.append(
                    Finding(
                        "close-reason-without-outcome",
                        'close_reason only goes with outcome = "closed", not "won"',
                        f"{where}.close_reason",
                    )
                )
            continue
        if step.close_reason is None:
            out.append(
                Finding(
                    "missing-close-reason",
                    'outcome = "closed" needs a close_reason (one of the procedure\'s '
                    "close_reasons)",
                    f"{where}.close_reason",
                )
            )
            continue
        out.extend(_check_reason(step, definitions))
    return out


def _check_reason(step: Step, definitions: Definitions) -> list[Finding]:
    out = []
    for procedure in definitions.procedures.values():
        if step.key in procedure.steps and step.close_reason not in procedure.close_reasons:
            known = ", ".join(repr(r) for r in procedure.close_reasons) or "none configured"
            out.append(
                Finding(
                    "unknown-close-reason",
                    f"close_reason {step.close_reason!r} is not a close reason of procedure "
                    f"{procedure.key!r} ({known})",
                    f"steps.{step.key}.close_reason",
                )
            )
    return out


def apply_outcome(
    procedure: Procedure,
    prospect: Prospect,
    step: Step,
    actor: UserId,
    at: datetime,
    note: str = "",
) -> str | None:
    """Apply ``step``'s outcome to ``prospect`` (just performed); returns the outcome.

    ``won`` marks the prospect won (stage customer); ``closed`` closes it with
    the step's close reason. A step without an outcome changes nothing.

    Raises:
        InvalidInput: the close reason is not one of the procedure's.
    """
    if step.outcome == "won":
        runtime.mark_won(prospect, actor, at, note)
    elif step.outcome == "closed" and step.close_reason is not None:
        runtime.close(procedure, prospect, step.close_reason, actor, at, note)
    else:
        return None
    return step.outcome
