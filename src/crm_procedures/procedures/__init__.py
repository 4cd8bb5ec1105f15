"""Procedures: typed steps, the role transition matrix, validation and pictures.

Definitions (roles, steps, templates, procedures) are immutable data loaded
with :func:`load_definitions`; :func:`validate` checks them statically; the
runtime functions (:func:`perform`, :func:`correct`, :func:`close`, ...) move
a :class:`~crm_procedures.model.prospect.Prospect` through a procedure and
return the effects to carry out. E-mail rendering is
:func:`crm_procedures.procedures.templates.render`; pictures are in
:mod:`crm_procedures.procedures.render`.
"""

from crm_procedures.procedures.definitions import dump_definitions, load_definitions
from crm_procedures.procedures.effects import BookAppointment, CustomEffect, Effect, SendEmail
from crm_procedures.procedures.procedure import (
    ANY_STEP,
    START,
    AnyStep,
    Definitions,
    Procedure,
    Start,
    StepRef,
)
from crm_procedures.procedures.runtime import (
    allowed_next,
    close,
    correct,
    mark_won,
    perform,
    release,
    reopen,
    set_status,
    worklist_last_steps,
)
from crm_procedures.procedures.standard import STANDARD_PROCEDURE, standard_definitions
from crm_procedures.procedures.step import (
    BUILTIN_STEP_KINDS,
    MAKE_APPOINTMENT,
    PLAIN,
    SEND_EMAIL,
    Role,
    Step,
    StepKindSpec,
)
from crm_procedures.procedures.templates import (
    TEMPLATE_FIELDS,
    EmailTemplate,
    RenderedEmail,
    TemplateAttachment,
    TemplateVariant,
    check_template,
    placeholders,
    template_values,
)
from crm_procedures.procedures.validation import validate

__all__ = [
    "ANY_STEP",
    "BUILTIN_STEP_KINDS",
    "MAKE_APPOINTMENT",
    "PLAIN",
    "SEND_EMAIL",
    "STANDARD_PROCEDURE",
    "START",
    "TEMPLATE_FIELDS",
    "AnyStep",
    "BookAppointment",
    "CustomEffect",
    "Definitions",
    "Effect",
    "EmailTemplate",
    "Procedure",
    "RenderedEmail",
    "Role",
    "SendEmail",
    "Start",
    "Step",
    "StepKindSpec",
    "StepRef",
    "TemplateAttachment",
    "TemplateVariant",
    "allowed_next",
    "check_template",
    "close",
    "correct",
    "dump_definitions",
    "load_definitions",
    "mark_won",
    "perform",
    "placeholders",
    "release",
    "reopen",
    "set_status",
    "standard_definitions",
    "template_values",
    "validate",
    "worklist_last_steps",
]
